// What every Gander server process does the same way: the ready file that
// tells a supervisor (or a test) which ports were bound, and waiting for
// SIGTERM / SIGINT.
//
// Usage (in main, before any thread exists):
//   GANDER_ASSIGN_OR_RETURN(TerminationSignals signals, TerminationSignals::Block());
//   ... start servers ...
//   GANDER_RETURN_IF_ERROR(WriteReadyFile(path, {{"grpc_port", port}}));
//   int signal = signals.Wait();   // SIGTERM or SIGINT
//
// Thread safety: Block must run before other threads start (they inherit
// the blocked mask, so only Wait receives the signals).
#ifndef GANDER_SERVICE_PROCESS_PROCESS_H_
#define GANDER_SERVICE_PROCESS_PROCESS_H_

#include <signal.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gander::service {

// An errno as a Status with the canonical code for it (NOT_FOUND,
// PERMISSION_DENIED, RESOURCE_EXHAUSTED for a full disk, else INTERNAL).
absl::Status ErrnoStatus(const std::string& what, const std::string& path, int error);

// Writes `contents` to `path` atomically (PATH.tmp, then rename).
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

// Writes the ready file: one `key=value` line per entry. "" path: no-op.
absl::Status WriteReadyFile(const std::string& path,
                            const std::vector<std::pair<std::string, int>>& ports);

// `listen` with its port replaced by `port` ("0.0.0.0:0" -> "0.0.0.0:41234").
std::string BoundAddress(const std::string& listen, int port);

// A finite duration >= 0 from a flag value like "30s" or "1m30s";
// INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& flag, const std::string& value);

// Makes the grpc.health.v1 schema visible to server reflection, so generic
// clients (buf curl, grpcurl) can call the health service without .proto
// files. Call before building a server that enables the default health
// service.
void RegisterHealthSchemaForReflection();

class TerminationSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread (and so in every thread
  // it starts afterwards).
  static absl::StatusOr<TerminationSignals> Block();
  // Waits for one of them; returns its number.
  int Wait();

 private:
  sigset_t set_;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_PROCESS_PROCESS_H_
