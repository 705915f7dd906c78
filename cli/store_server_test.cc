// `gander store-server` as a real process, reached with the remote store
// client:
//  - a commit acknowledged through it survives SIGKILL: a restart on the
//    same data dir serves it back bit-exact, with its lease;
//  - it announces itself (ready file, one stderr line), answers the health
//    service, counts calls in its Prometheus metrics, and SIGTERM stops it
//    cleanly (exit 0, ready file removed);
//  - bad flags and a data dir held by another server fail with their exit
//    codes;
//  - TLS and mutual TLS: the right certificates get in, the others do not
//    (certificates are made with the openssl tool; skipped without it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "storage/remote/remote_state_store.h"

namespace gander::cli {
namespace {

using absl::StatusCode;

constexpr char kGander[] = "cli/gander";

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// One `gander store-server` process. Killed (SIGKILL) on destruction if it
// is still running.
class ServerProcess {
 public:
  // Starts `gander store-server ARGS...` with stdout and stderr to
  // `log_path`.
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& args,
                                              const std::string& log_path) {
    std::vector<std::string> argv_strings = {kGander, "store-server"};
    // Tests run side by side: never the default metrics port.
    bool metrics_flag = false;
    for (const std::string& arg : args) metrics_flag |= absl::StartsWith(arg, "--metrics-listen");
    if (!metrics_flag) argv_strings.push_back("--metrics-listen=");
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log < 0) return nullptr;
    const pid_t pid = fork();
    if (pid == 0) {
      // The child: only async-signal-safe calls until exec.
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      execv(kGander, argv.data());
      _exit(127);
    }
    close(log);
    if (pid < 0) return nullptr;
    return std::unique_ptr<ServerProcess>(new ServerProcess(pid, log_path));
  }

  ~ServerProcess() {
    if (running_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // The ports in `ready_file` (key -> port: "grpc_port", "metrics_port")
  // once the server has written it; an error when the process exits first
  // or `timeout` passes.
  absl::StatusOr<std::map<std::string, int>> WaitReadyPorts(
      const std::string& ready_file, absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      const std::string contents = ReadFile(ready_file);
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
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        running_ = false;
        return absl::FailedPreconditionError(
            absl::StrCat("the server exited (status ", status, ") before it was ready: ", Log()));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("not ready within ", absl::FormatDuration(timeout), ": ", Log()));
  }

  // The gRPC port of the ready file.
  absl::StatusOr<int> WaitReady(const std::string& ready_file) {
    absl::StatusOr<std::map<std::string, int>> ports = WaitReadyPorts(ready_file);
    if (!ports.ok()) return ports.status();
    return ports->at("grpc_port");
  }

  void Signal(int signal_number) { kill(pid_, signal_number); }

  // The raw wait status once the process has ended; an error after
  // `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        running_ = false;
        return status;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError("the server did not exit in time");
  }

  std::string Log() const { return ReadFile(log_path_); }

 private:
  ServerProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  const pid_t pid_;
  const std::string log_path_;
  bool running_ = true;
};

std::unique_ptr<storage::StateStore> Connect(
    const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr) {
  storage::RemoteStoreOptions options;
  options.target = target;
  options.credentials = std::move(credentials);
  options.connect_timeout = absl::Seconds(10);
  options.call_timeout = absl::Seconds(10);
  auto store = storage::ConnectRemoteStateStore(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

template <typename T>
StatusCode CodeOf(const absl::StatusOr<T>& result) {
  return result.status().code();
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(int port, const std::string& service) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// GET http://127.0.0.1:PORT/metrics: the response's body, or "" on failure.
std::string FetchMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The value of the sample line that starts with `series` followed by a
// space; -1 when there is none.
double Sample(const std::string& metrics, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (absl::ConsumePrefix(&line, series + " ")) {
      double value = 0;
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return -1;
}

TEST(StoreServer, CommitSurvivesSigkillAndSigtermStopsCleanly) {
  const std::string data_dir = TmpPath("store-kill");
  const std::string ready = TmpPath("ready-kill");
  const std::vector<std::string> args = {"--listen=127.0.0.1:0", "--data-dir=" + data_dir,
                                         "--ready-file=" + ready};
  const std::string state = RandomBytes((5 << 20) / 2 + 17, 1);  // three chunks
  uint64_t epoch = 0;
  {
    std::vector<std::string> with_metrics = args;
    with_metrics.push_back("--metrics-listen=127.0.0.1:0");
    auto server = ServerProcess::Start(with_metrics, TmpPath("server-1.log"));
    ASSERT_NE(server, nullptr);
    absl::StatusOr<std::map<std::string, int>> ports = server->WaitReadyPorts(ready);
    ASSERT_TRUE(ports.ok()) << ports.status();
    ASSERT_EQ(ports->count("metrics_port"), 1u);
    const int* port = &ports->at("grpc_port");
    EXPECT_TRUE(absl::StrContains(server->Log(), absl::StrCat("\"event\":\"serving\"")))
        << server->Log();
    EXPECT_TRUE(absl::StrContains(server->Log(), absl::StrCat("\"listen\":\"127.0.0.1:", *port)))
        << server->Log();
    std::unique_ptr<storage::StateStore> store = Connect(absl::StrCat("127.0.0.1:", *port));
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->CreateStream({"s1", "acme", "model-1"}).ok());
    auto lease = store->AcquireLease("s1", "worker-a", absl::Minutes(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
    epoch = lease->epoch;
    auto version = store->Commit({"s1", 0, epoch, state, 42});
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(*version, 1u);
    EXPECT_EQ(CodeOf(store->GetStream("nope")), StatusCode::kNotFound);
    const std::string metrics = FetchMetrics(ports->at("metrics_port"));
    EXPECT_EQ(Sample(metrics, "gander_checkpoints_total"), 1) << metrics;
    EXPECT_EQ(
        Sample(metrics, "gander_requests_total{method=\"gander.store.v1.StateStore/Commit\"}"), 1)
        << metrics;
    EXPECT_EQ(Sample(metrics,
                     "gander_errors_total{code=\"NOT_FOUND\",method=\"gander.store.v1."
                     "StateStore/GetStream\"}"),
              1)
        << metrics;
    // Acknowledged: now kill it without warning.
    server->Signal(SIGKILL);
    absl::StatusOr<int> status = server->Wait();
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(WIFSIGNALED(*status));
  }
  std::filesystem::remove(ready);

  auto server = ServerProcess::Start(args, TmpPath("server-2.log"));
  ASSERT_NE(server, nullptr);
  absl::StatusOr<int> port = server->WaitReady(ready);
  ASSERT_TRUE(port.ok()) << port.status();
  std::unique_ptr<storage::StateStore> store = Connect(absl::StrCat("127.0.0.1:", *port));
  ASSERT_NE(store, nullptr);
  auto info = store->GetStream("s1");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->version, 1u);
  EXPECT_EQ(info->token_count, 42u);
  auto checkpoint = store->GetCheckpoint("s1", 1);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_TRUE(checkpoint->bytes == state);
  EXPECT_EQ(checkpoint->info.token_count, 42u);
  // The lease came back too: another worker cannot take it, its holder
  // commits on.
  EXPECT_EQ(CodeOf(store->AcquireLease("s1", "worker-b", absl::Seconds(30))), StatusCode::kAborted);
  auto next = store->Commit({"s1", 1, epoch, "next", 43});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 2u);

  EXPECT_EQ(Health(*port, ""), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(*port, "gander.store.v1.StateStore"),
            grpc::health::v1::HealthCheckResponse::SERVING);

  // An idle client connection only holds the shutdown until the client
  // acknowledges the server's GOAWAY (seconds when it is idle); close it so
  // the test stays fast.
  store.reset();
  server->Signal(SIGTERM);
  absl::StatusOr<int> status = server->Wait();
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status)) << server->Log();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << server->Log();
  EXPECT_FALSE(std::filesystem::exists(ready));
  EXPECT_TRUE(absl::StrContains(server->Log(), "stopped")) << server->Log();
}

// Runs the server with `args` to its end; its exit code (-1 if it did not
// exit by itself).
int ExitCode(const std::vector<std::string>& args, std::string* log) {
  auto server = ServerProcess::Start(args, TmpPath("server-flags.log"));
  if (server == nullptr) return -1;
  absl::StatusOr<int> status = server->Wait(absl::Seconds(20));
  *log = server->Log();
  if (!status.ok() || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

TEST(StoreServer, BadFlagsAndABusyDataDirFail) {
  std::string log;
  EXPECT_EQ(ExitCode({"--no-such-flag"}, &log), 2) << log;
  EXPECT_EQ(ExitCode({"--retained-versions=0", "--data-dir=" + TmpPath("unused")}, &log), 1);
  EXPECT_TRUE(absl::StrContains(log, "--retained-versions")) << log;
  EXPECT_EQ(ExitCode({"--tls-cert=/nonexistent.pem", "--listen=127.0.0.1:0"}, &log), 1);
  EXPECT_TRUE(absl::StrContains(log, "INVALID_ARGUMENT")) << log;
  EXPECT_EQ(ExitCode({"--shutdown-grace=soon", "--listen=127.0.0.1:0"}, &log), 1);
  EXPECT_TRUE(absl::StrContains(log, "--shutdown-grace")) << log;
  EXPECT_EQ(ExitCode({"--max-message-bytes=1000", "--listen=127.0.0.1:0"}, &log), 1);
  EXPECT_TRUE(absl::StrContains(log, "--max-message-bytes")) << log;

  // A second server on a data dir in use.
  const std::string data_dir = TmpPath("store-busy");
  const std::string ready = TmpPath("ready-busy");
  auto first = ServerProcess::Start(
      {"--listen=127.0.0.1:0", "--data-dir=" + data_dir, "--ready-file=" + ready},
      TmpPath("server-busy.log"));
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->WaitReady(ready).ok());
  EXPECT_EQ(ExitCode({"--listen=127.0.0.1:0", "--data-dir=" + data_dir}, &log), 1);
  EXPECT_TRUE(absl::StrContains(log, "UNAVAILABLE")) << log;
}

// Runs a shell command; true when it exits 0.
bool Shell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

TEST(StoreServer, TlsAndMutualTls) {
  if (!Shell("command -v openssl")) GTEST_SKIP() << "no openssl tool to make certificates";
  const std::string dir = TmpPath("tls");
  std::filesystem::create_directories(dir);
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  ASSERT_TRUE(Shell(absl::StrCat("cd ", dir, " && openssl req -x509 ", ec,
                                 " -keyout ca.key -out ca.pem -days 2 -subj /CN=gander-test-ca",
                                 " -addext basicConstraints=critical,CA:TRUE",
                                 " -addext keyUsage=critical,keyCertSign,cRLSign")));
  std::ofstream(dir + "/server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                     << "extendedKeyUsage=serverAuth\n";
  std::ofstream(dir + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  for (const char* who : {"server", "client"}) {
    ASSERT_TRUE(
        Shell(absl::StrCat("cd ", dir, " && openssl req ", ec, " -keyout ", who, ".key -out ", who,
                           ".csr -subj /CN=", who, " && openssl x509 -req -in ", who,
                           ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out ", who,
                           ".pem -extfile ", who, ".ext")))
        << who;
  }
  const std::string ca = ReadFile(dir + "/ca.pem");
  const std::string ready = TmpPath("ready-tls");
  auto server = ServerProcess::Start(
      {"--listen=127.0.0.1:0", "--data-dir=" + TmpPath("store-tls"), "--ready-file=" + ready,
       "--tls-cert=" + dir + "/server.pem", "--tls-key=" + dir + "/server.key",
       "--tls-client-ca=" + dir + "/ca.pem"},
      TmpPath("server-tls.log"));
  ASSERT_NE(server, nullptr);
  absl::StatusOr<int> port = server->WaitReady(ready);
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_TRUE(absl::StrContains(server->Log(), "\"mutual_tls\":true")) << server->Log();
  const std::string target = absl::StrCat("127.0.0.1:", *port);

  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = ca;
  with_cert.pem_private_key = ReadFile(dir + "/client.key");
  with_cert.pem_cert_chain = ReadFile(dir + "/client.pem");
  std::unique_ptr<storage::StateStore> store = Connect(target, grpc::SslCredentials(with_cert));
  ASSERT_NE(store, nullptr);
  auto created = store->CreateStream({"tls-1", "acme", "m"});
  EXPECT_TRUE(created.ok()) << created.status();

  // Without a client certificate, or without TLS: no way in.
  const auto refused = [&](std::shared_ptr<grpc::ChannelCredentials> credentials) {
    storage::RemoteStoreOptions options;
    options.target = target;
    options.credentials = std::move(credentials);
    options.call_timeout = absl::Seconds(10);
    auto client = storage::ConnectRemoteStateStore(options);
    if (!client.ok()) return client.status().code();
    return (*client)->GetStream("tls-1").status().code();
  };
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = ca;
  EXPECT_EQ(refused(grpc::SslCredentials(without_cert)), StatusCode::kUnavailable);
  EXPECT_EQ(refused(grpc::InsecureChannelCredentials()), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gander::cli
