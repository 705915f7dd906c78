// `gander doctor`: checks that this machine can run Gander, and says what it
// found: library versions, RocksDB's zstd support and a real durable round
// trip through it, and whether a CUDA device is usable.
//
// Example:
//   std::vector<gander::cli::Check> checks = gander::cli::RunDoctor("/tmp");
//   bool ok = gander::cli::AllPassed(checks);
#ifndef GANDER_CLI_DOCTOR_H_
#define GANDER_CLI_DOCTOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gander::cli {

// One finding: what was checked, what was seen, and whether it is fatal.
struct Check {
  std::string name;      // for example "rocksdb.roundtrip"
  std::string detail;    // what was seen (a version, a count, an error)
  absl::Status status;   // OK, or why this machine cannot run Gander
  bool required = true;  // false: informational (CUDA on a CPU machine)
};

// Runs every check. `scratch_dir` is an existing writable directory; a
// temporary database is created below it and removed again. Thread-compatible.
std::vector<Check> RunDoctor(const std::string& scratch_dir);

// True when every required check passed.
bool AllPassed(const std::vector<Check>& checks);

}  // namespace gander::cli

#endif  // GANDER_CLI_DOCTOR_H_
