#include "tests/testing/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gander::testing {

std::string TmpPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string HttpGetBody(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.find(" 200 ") == std::string::npos || body == std::string::npos) return "";
  return response.substr(body + 4);
}

double MetricValue(const std::string& exposition, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::ConsumePrefix(&line, name + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return -1;
}

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::string& subcommand,
                                                    const std::vector<std::string>& args,
                                                    const std::string& name) {
  const std::string ready_file = TmpPath(name + ".ready");
  const std::string log_path = TmpPath(name + ".log");
  std::remove(ready_file.c_str());
  std::vector<std::string> argv_strings = {kGanderBinary, subcommand};
  bool metrics_flag = false;
  for (const std::string& arg : args) metrics_flag |= absl::StartsWith(arg, "--metrics-listen");
  if (!metrics_flag) argv_strings.push_back("--metrics-listen=");
  argv_strings.push_back("--ready-file=" + ready_file);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) return nullptr;
  const pid_t pid = fork();
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(kGanderBinary, argv.data());
    _exit(127);
  }
  close(log);
  if (pid < 0) return nullptr;
  return std::unique_ptr<ServerProcess>(new ServerProcess(pid, ready_file, log_path));
}

ServerProcess::~ServerProcess() {
  if (running_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

absl::StatusOr<std::map<std::string, int>> ServerProcess::WaitReadyPorts(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const std::string contents = ReadWholeFile(ready_file_);
    if (!contents.empty()) {
      std::map<std::string, int> ports;
      for (absl::string_view line : absl::StrSplit(contents, '\n', absl::SkipEmpty())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
        int port = 0;
        if (!absl::SimpleAtoi(kv.second, &port) || port <= 0) {
          return absl::DataLossError(absl::StrCat("ready file holds '", contents, "'"));
        }
        ports[kv.first] = port;
      }
      if (ports.count("grpc_port") == 0) {
        return absl::DataLossError(absl::StrCat("no grpc_port in '", contents, "'"));
      }
      return ports;
    }
    int status = 0;
    if (running_ && waitpid(pid_, &status, WNOHANG) == pid_) {
      running_ = false;
      return absl::FailedPreconditionError(
          absl::StrCat("the server exited (status ", status, ") before it was ready: ", Log()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("not ready within ", absl::FormatDuration(timeout), ": ", Log()));
}

absl::StatusOr<int> ServerProcess::WaitReady(absl::Duration timeout) {
  absl::StatusOr<std::map<std::string, int>> ports = WaitReadyPorts(timeout);
  if (!ports.ok()) return ports.status();
  return ports->at("grpc_port");
}

void ServerProcess::Signal(int signal_number) {
  if (running_) kill(pid_, signal_number);
}

absl::StatusOr<int> ServerProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (!running_) return absl::FailedPreconditionError("already waited for");
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      running_ = false;
      return status;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(absl::StrCat("the server did not exit in time: ", Log()));
}

long long ServerProcess::ResidentBytes() const {
  const std::string status = ReadWholeFile(absl::StrCat("/proc/", pid_, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    long long kb = 0;
    if (absl::SimpleAtoi(line, &kb)) return kb * 1024;
  }
  return -1;
}

std::string ServerProcess::Log() const { return ReadWholeFile(log_path_); }

}  // namespace gander::testing
