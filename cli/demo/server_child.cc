#include "cli/demo/server_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cli/demo/demo_support.h"

namespace gander::cli::demo {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace

std::string FileTail(const std::string& path, size_t max_bytes) {
  const std::string contents = ReadFile(path);
  if (contents.size() <= max_bytes) return contents;
  return contents.substr(contents.size() - max_bytes);
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exited with status ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int signal_number = WTERMSIG(wait_status);
    return absl::StrCat("killed by signal ", signal_number, " (", strsignal(signal_number), ")");
  }
  return absl::StrCat("ended with wait status ", wait_status);
}

absl::StatusOr<std::unique_ptr<ServerChild>> ServerChild::Start(
    const std::string& binary, const std::vector<std::string>& args, const std::string& log_path,
    const std::string& ready_file) {
  std::remove(ready_file.c_str());
  // Everything the child needs is prepared before fork: after it, the child
  // of a multi-threaded process may only make async-signal-safe calls.
  std::vector<std::string> strings = {binary};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open the server log ", log_path, ": ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the demo died before prctl
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const int fork_error = errno;
  close(log);
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("cannot fork the server: ", std::strerror(fork_error)));
  }
  return std::unique_ptr<ServerChild>(new ServerChild(pid, log_path, ready_file));
}

ServerChild::~ServerChild() {
  if (!running_) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool ServerChild::Reaped(int* wait_status) {
  if (!running_) return true;
  if (waitpid(pid_, wait_status, WNOHANG) != pid_) return false;
  running_ = false;
  return true;
}

absl::StatusOr<int> ServerChild::WaitReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const std::string contents = ReadFile(ready_file_);
    // The ready file is written atomically (PATH.tmp, then rename): once it
    // exists it is complete.
    if (!contents.empty()) return ParseReadyFile(contents);
    int wait_status = 0;
    if (Reaped(&wait_status)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the server ", DescribeWaitStatus(wait_status),
                       " before it was ready; the end of its log (", log_path_, "):\n",
                       FileTail(log_path_, 2000)));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("the server was not ready within ",
                                                      absl::FormatDuration(timeout),
                                                      "; see its log ", log_path_));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void ServerChild::Signal(int signal_number) {
  if (running_) kill(pid_, signal_number);
}

absl::StatusOr<int> ServerChild::Wait(absl::Duration timeout) {
  if (!running_) return absl::FailedPreconditionError("the server was already reaped");
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int wait_status = 0;
    if (Reaped(&wait_status)) return wait_status;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the server (pid ", pid_, ") did not exit within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace gander::cli::demo
