#include "tests/failover/router_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/server_process.h"

namespace gander::testing {
namespace {

// The unprivileged identity nginx takes when the test runs as root.
constexpr uid_t kNobody = 65534;

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Runs router.sh render; its stderr goes to `log_path`.
absl::Status Render(const std::string& dir, int grpc_port, int health_port,
                    const std::vector<int>& worker_ports, const std::string& log_path) {
  std::vector<std::string> args = {"/bin/sh", kRouterScript, "render", dir + "/nginx.conf"};
  for (int port : worker_ports) args.push_back(absl::StrCat("127.0.0.1:", port));
  std::vector<std::string> env = {
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      absl::StrCat("GANDER_ROUTER_TEMPLATE=", kRouterTemplate),
      absl::StrCat("GANDER_ROUTER_RUNTIME_DIR=", dir),
      absl::StrCat("GANDER_ROUTER_LISTEN=127.0.0.1:", grpc_port),
      absl::StrCat("GANDER_ROUTER_HEALTH_LISTEN=127.0.0.1:", health_port),
      "GANDER_ROUTER_TLS=off",
  };
  std::vector<char*> argv = Pointers(args);
  std::vector<char*> envp = Pointers(env);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (log < 0) return absl::InternalError(absl::StrCat("cannot create ", log_path));
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execve("/bin/sh", argv.data(), envp.data());
    _exit(127);
  }
  close(log);
  if (pid < 0) return absl::InternalError("fork failed");
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(kRouterScript, " render failed (status ",
                                                      status, "): ", ReadWholeFile(log_path)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return absl::UnavailableError("no free loopback port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

absl::StatusOr<std::unique_ptr<RouterProcess>> RouterProcess::Start(
    const std::vector<int>& worker_ports) {
  if (access(kNginxBinary, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kNginxBinary, " not found: install Debian's nginx (tools/setup.sh)"));
  }
  if (access(kRouterScript, R_OK) != 0 || access(kRouterTemplate, R_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kRouterScript, " or ", kRouterTemplate, " missing from the runfiles (data dependency)"));
  }
  const bool as_root = geteuid() == 0;
  absl::Status last = absl::UnknownError("not started");
  // A port picked free can be taken before nginx binds it: retry then.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string dir;
    if (as_root) {
      char pattern[] = "/tmp/gander-router-XXXXXX";
      if (mkdtemp(pattern) == nullptr) return absl::InternalError("mkdtemp in /tmp failed");
      dir = pattern;
      if (chown(dir.c_str(), kNobody, kNobody) != 0 || chmod(dir.c_str(), 0755) != 0) {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot hand ", dir, " to nobody (uid ", kNobody,
            "): running as root inside a user namespace that does not map it? (the test "
            "is tagged no-sandbox for this reason)"));
      }
    } else {
      dir = TmpPath(absl::StrCat("router-", getpid(), "-", attempt));
      std::filesystem::create_directories(dir);
    }
    absl::StatusOr<int> grpc_port = PickFreePort();
    absl::StatusOr<int> health_port = PickFreePort();
    if (!grpc_port.ok() || !health_port.ok()) {
      std::error_code ignored;
      if (as_root) std::filesystem::remove_all(dir, ignored);
      return !grpc_port.ok() ? grpc_port.status() : health_port.status();
    }
    // Owns the directory from here on (removes a private one when it goes).
    std::unique_ptr<RouterProcess> router(
        new RouterProcess(dir, as_root, /*pid=*/-1, *grpc_port, *health_port));
    absl::Status rendered =
        Render(dir, *grpc_port, *health_port, worker_ports, TmpPath("router-render.log"));
    if (!rendered.ok()) return rendered;

    const std::string config = dir + "/nginx.conf";
    const std::string log_path = dir + "/nginx.log";
    std::vector<std::string> args = {"nginx", "-e", "stderr", "-p", dir, "-c", config};
    std::vector<char*> argv = Pointers(args);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
      // The child: only async-signal-safe calls until exec.
      if (as_root && (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0)) {
        _exit(126);
      }
      // Set after the identity change, which clears it.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(125);
      const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log < 0) _exit(124);
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      execv(kNginxBinary, argv.data());
      _exit(127);
    }
    if (pid < 0) return absl::InternalError("fork failed");
    router->pid_ = pid;

    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    bool exited = false;
    while (absl::Now() < deadline) {
      if (HttpGetBody(*health_port, "/healthz") == "ok\n") return router;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        router->pid_ = -1;
        last = absl::UnavailableError(absl::StrCat("nginx exited (status ", status,
                                                   ") before it was ready: ", router->Log()));
        exited = true;
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (!exited) {
      last = absl::UnavailableError(
          absl::StrCat("nginx did not answer /healthz within 15 s: ", router->Log()));
    }
  }
  return last;
}

RouterProcess::~RouterProcess() { Stop(); }

void RouterProcess::Stop() {
  if (pid_ > 0) {
    // SIGTERM: nginx's fast shutdown (its worker processes exit with it).
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    bool done = false;
    while (!done && absl::Now() < deadline) {
      done = waitpid(pid_, nullptr, WNOHANG) == pid_;
      if (!done) absl::SleepFor(absl::Milliseconds(10));
    }
    if (!done) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (private_dir_) {
    std::ofstream(TmpPath("router.log"), std::ios::app) << Log();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string RouterProcess::Config() const { return ReadWholeFile(dir_ + "/nginx.conf"); }

std::string RouterProcess::Log() const { return ReadWholeFile(dir_ + "/nginx.log"); }

}  // namespace gander::testing
