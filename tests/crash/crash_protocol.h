// What the crash writer (crash_writer.cc) and the crash test (crash_test.cc)
// share: the lines the writer reports its operations with, the content hash
// both sides compute, and the snapshots the writer commits.
//
// The report is a pipe from the writer to the test, one line per write(2)
// (each far shorter than PIPE_BUF, so never interleaved or split). For each
// operation that changes the store the writer writes
//   begin <op> <args...>     before it calls the store, then
//   ok <op> <args...> [extra] after the store returned OK (and never before),
// and it stops (exit 2, reason on stderr) at the first non-OK result. So
// when the writer is killed, every "ok" line names a change that must have
// survived, and at most the last operation ("begin" without its "ok") is in
// doubt: it may or may not have landed, and the test looks which.
//
// Operations and their arguments (ids are [A-Za-z0-9._:-], hashes are
// ContentHash, expiry in Unix microseconds):
//   create  <id>
//   commit  <id> <version> <hash> <token_count> <size>
//   fork    <new_id> <source_id> <source_version> <hash> <token_count> <size>
//   import  <new_id> <hash> <token_count> <size>         (Export, then Import)
//   delete  <id>
//   acquire <id>                 ok adds: <epoch> <expires>
//   renew   <id> <epoch>         ok adds: <expires>
//   compact
// and, once the store is open and read back, "ready store <streams>".
//
// Example (writer side):
//   WriteLine(fd, FormatLine("begin", "delete", {id}));
//   if (store->DeleteStream(id).ok()) WriteLine(fd, FormatLine("ok", "delete", {id}));
//
// Thread safety: every function is thread-safe (no shared state).
#ifndef GANDER_TESTS_CRASH_CRASH_PROTOCOL_H_
#define GANDER_TESTS_CRASH_CRASH_PROTOCOL_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/rocksdb_state_store.h"

namespace gander::crash {

// The tenant and model fingerprint of every stream the writer makes.
inline constexpr char kTenant[] = "crash";
inline constexpr char kModel[] = "crash-model.v1";
// The writer's lease owner name (the same in every incarnation, so a new
// incarnation re-acquires, fencing the killed one).
inline constexpr char kOwner[] = "crash-writer";

// The options both sides open the store with: synced writes (an OK return
// is durable), kRetainedVersions per stream, and a 16 MiB checkpoint
// memtable (so that flushes to blob files happen within a writer's short
// life, and get interrupted too).
inline constexpr int kRetainedVersions = 3;
storage::RocksDbStoreOptions CrashStoreOptions();

// One report line, split: kind ("begin", "ok", "ready"), op, arguments.
struct Line {
  std::string kind;
  std::string op;
  std::vector<std::string> args;
};

// "<kind> <op> <args...>\n".
std::string FormatLine(absl::string_view kind, absl::string_view op,
                       const std::vector<std::string>& args);
// The inverse of FormatLine (without the newline). INVALID_ARGUMENT for an
// empty line.
absl::StatusOr<Line> ParseLine(absl::string_view text);

// Writes `line` with one write(2), retrying on EINTR. INTERNAL on failure
// or a short write.
absl::Status WriteLine(int fd, absl::string_view line);

// The content hash of checkpoint bytes: lowercase hex XXH3-128 in canonical
// byte order, computed here independently of the store (the store's
// VersionInfo::checkpoint_id must equal it).
std::string ContentHash(absl::string_view bytes);

// A real encoded snapshot (storage/state_codec.h) for kModel with random
// finite floats, a random shape (head size 16, 32 or 64; 1-12 layers; 1-16
// heads) whose raw state is about 10 KB to 3 MB (log-uniform), and a random codec (mostly raw;
// lossless, bf16 and int8 too). `token_count` is written into its header.
// The encoder's error (a bug: the inputs are valid by construction) if any.
absl::StatusOr<std::string> RandomSnapshot(std::mt19937_64& rng, uint64_t token_count);

}  // namespace gander::crash

#endif  // GANDER_TESTS_CRASH_CRASH_PROTOCOL_H_
