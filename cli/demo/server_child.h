// A `gander serve` (or any gander subcommand) run as a child process of the
// demo: started with its output appended to a log file, waited for through
// its ready file, signalled (SIGKILL for the crash, SIGTERM to stop) and
// reaped.
//
// Example:
//   GANDER_ASSIGN_OR_RETURN(std::unique_ptr<ServerChild> server,
//       ServerChild::Start("/proc/self/exe", {"serve", "--model=m.pth", ...,
//                          "--ready-file=" + ready}, log_path, ready));
//   GANDER_ASSIGN_OR_RETURN(int port, server->WaitReady(absl::Seconds(60)));
//   server->Signal(SIGKILL);
//   GANDER_ASSIGN_OR_RETURN(int wait_status, server->Wait(absl::Seconds(10)));
//
// Ownership: the object owns the child. Its destructor kills (SIGKILL) and
// reaps a child still running, and the child is also killed by the kernel
// when the demo itself dies (PR_SET_PDEATHSIG), so no server outlives the
// demo. Thread-compatible. Failure: INTERNAL when fork or exec fails,
// FAILED_PRECONDITION when the child exits before it is ready (quoting the
// end of its log), DEADLINE_EXCEEDED at a timeout.
#ifndef GANDER_CLI_DEMO_SERVER_CHILD_H_
#define GANDER_CLI_DEMO_SERVER_CHILD_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gander::cli::demo {

class ServerChild {
 public:
  // Runs `binary` with `args` (argv[1..]), stdout and stderr appended to
  // `log_path`. `ready_file` is removed first; the child must be told to
  // write it (its --ready-file flag is part of `args`).
  static absl::StatusOr<std::unique_ptr<ServerChild>> Start(const std::string& binary,
                                                            const std::vector<std::string>& args,
                                                            const std::string& log_path,
                                                            const std::string& ready_file);
  ~ServerChild();
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;

  // Waits until the ready file names the gRPC port; returns it.
  absl::StatusOr<int> WaitReady(absl::Duration timeout);

  // Sends `signal_number` (no-op once reaped).
  void Signal(int signal_number);

  // Waits for the child to end; returns its raw wait status.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  pid_t pid() const { return pid_; }
  bool running() const { return running_; }

 private:
  ServerChild(pid_t pid, std::string log_path, std::string ready_file)
      : pid_(pid), log_path_(std::move(log_path)), ready_file_(std::move(ready_file)) {}

  // True (and the status recorded) when the child has ended.
  bool Reaped(int* wait_status);

  const pid_t pid_;
  const std::string log_path_;
  const std::string ready_file_;
  bool running_ = true;
};

// "exited with status 0", "killed by signal 9 (Killed)".
std::string DescribeWaitStatus(int wait_status);

// The last `max_bytes` of the file at `path` ("" when unreadable).
std::string FileTail(const std::string& path, size_t max_bytes);

}  // namespace gander::cli::demo

#endif  // GANDER_CLI_DEMO_SERVER_CHILD_H_
