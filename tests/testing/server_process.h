// Test support: a Gander server (`gander serve`, `gander store-server`) run
// as a real child process, for end-to-end tests over loopback.
//
//   auto server = ServerProcess::Start("serve", {"--model=" + path,
//       "--listen=127.0.0.1:0", "--data-dir=" + dir}, TmpPath("serve"));
//   absl::StatusOr<int> port = server->WaitReady();
//   ...
//   server->Signal(SIGKILL);
//
// The binary is cli/gander from the test's runfiles (declare
// data = ["//cli:gander"]). Each process gets --ready-file (in TEST_TMPDIR)
// and, unless given, --metrics-listen= (off) so tests never clash on ports.
// Its stdout and stderr go to a log file, quoted in every error.
//
// Thread-compatible. The destructor SIGKILLs a process still running.
#ifndef GANDER_TESTS_TESTING_SERVER_PROCESS_H_
#define GANDER_TESTS_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gander::testing {

// TEST_TMPDIR/name (or /tmp/name outside Bazel).
std::string TmpPath(const std::string& name);
std::string ReadWholeFile(const std::string& path);
// GET http://127.0.0.1:PORT/PATH; the body of a 200 response, else "".
std::string HttpGetBody(int port, const std::string& path);
// The value of an unlabelled Prometheus sample `name` in `exposition`; -1
// when absent.
double MetricValue(const std::string& exposition, const std::string& name);
// The gander binary in the runfiles.
inline constexpr char kGanderBinary[] = "cli/gander";

class ServerProcess {
 public:
  // Starts `gander SUBCOMMAND ARGS... --ready-file=NAME.ready`, logging to
  // NAME.log (both under TEST_TMPDIR). nullptr if it cannot be started.
  static std::unique_ptr<ServerProcess> Start(const std::string& subcommand,
                                              const std::vector<std::string>& args,
                                              const std::string& name);
  ~ServerProcess();

  // Waits for the ready file; returns its ports ("grpc_port",
  // "metrics_port"). An error when the process exits first or at the timeout.
  absl::StatusOr<std::map<std::string, int>> WaitReadyPorts(
      absl::Duration timeout = absl::Seconds(60));
  // The gRPC port.
  absl::StatusOr<int> WaitReady(absl::Duration timeout = absl::Seconds(60));

  void Signal(int signal_number);
  // The raw wait status once the process ended; an error at the timeout.
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::Seconds(30));
  bool running() const { return running_; }
  pid_t pid() const { return pid_; }
  // The --ready-file given to the process (TEST_TMPDIR/NAME.ready), e.g. to
  // check that a clean stop removes it.
  const std::string& ready_file() const { return ready_file_; }
  // Resident memory of the process (VmRSS), in bytes; -1 if unknown.
  long long ResidentBytes() const;
  std::string Log() const;

 private:
  ServerProcess(pid_t pid, std::string ready_file, std::string log_path)
      : pid_(pid), ready_file_(std::move(ready_file)), log_path_(std::move(log_path)) {}
  const pid_t pid_;
  const std::string ready_file_;
  const std::string log_path_;
  bool running_ = true;
};

}  // namespace gander::testing

#endif  // GANDER_TESTS_TESTING_SERVER_PROCESS_H_
