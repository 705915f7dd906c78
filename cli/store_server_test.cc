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
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "storage/remote/remote_state_store.h"
#include "tests/testing/server_process.h"

namespace gander::cli {
namespace {

using absl::StatusCode;
using gander::testing::HttpGetBody;
using gander::testing::MetricValue;
using gander::testing::ReadWholeFile;
using gander::testing::ServerProcess;
using gander::testing::TmpPath;

// `gander store-server ARGS...`, logging to TEST_TMPDIR/NAME.log; its ready
// file is TEST_TMPDIR/NAME.ready.
std::unique_ptr<ServerProcess> StartStoreServer(const std::vector<std::string>& args,
                                                const std::string& name) {
  return ServerProcess::Start("store-server", args, name);
}

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

TEST(StoreServer, CommitSurvivesSigkillAndSigtermStopsCleanly) {
  const std::string data_dir = TmpPath("store-kill");
  const std::vector<std::string> args = {"--listen=127.0.0.1:0", "--data-dir=" + data_dir};
  const std::string state = RandomBytes((5 << 20) / 2 + 17, 1);  // three chunks
  uint64_t epoch = 0;
  {
    std::vector<std::string> with_metrics = args;
    with_metrics.push_back("--metrics-listen=127.0.0.1:0");
    auto server = StartStoreServer(with_metrics, "store-kill-1");
    ASSERT_NE(server, nullptr);
    absl::StatusOr<std::map<std::string, int>> ports = server->WaitReadyPorts();
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
    const std::string metrics = HttpGetBody(ports->at("metrics_port"), "/metrics");
    EXPECT_EQ(MetricValue(metrics, "gander_checkpoints_total"), 1) << metrics;
    EXPECT_EQ(
        MetricValue(metrics, "gander_requests_total{method=\"gander.store.v1.StateStore/Commit\"}"),
        1)
        << metrics;
    EXPECT_EQ(MetricValue(metrics,
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

  // The restart writes its own, fresh ready file.
  auto server = StartStoreServer(args, "store-kill-2");
  ASSERT_NE(server, nullptr);
  absl::StatusOr<int> port = server->WaitReady();
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
  EXPECT_FALSE(std::filesystem::exists(server->ready_file())) << server->ready_file();
  EXPECT_TRUE(absl::StrContains(server->Log(), "stopped")) << server->Log();
}

// Runs the server with `args` to its end; its exit code (-1 if it did not
// exit by itself). Each run logs to a file of its own.
int ExitCode(const std::vector<std::string>& args, std::string* log) {
  static int runs = 0;
  auto server = StartStoreServer(args, absl::StrCat("store-flags-", runs++));
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
  auto first = StartStoreServer({"--listen=127.0.0.1:0", "--data-dir=" + data_dir}, "store-busy");
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->WaitReady().ok());
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
  const std::string ca = ReadWholeFile(dir + "/ca.pem");
  auto server =
      StartStoreServer({"--listen=127.0.0.1:0", "--data-dir=" + TmpPath("store-tls"),
                        "--tls-cert=" + dir + "/server.pem", "--tls-key=" + dir + "/server.key",
                        "--tls-client-ca=" + dir + "/ca.pem"},
                       "store-tls");
  ASSERT_NE(server, nullptr);
  absl::StatusOr<int> port = server->WaitReady();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_TRUE(absl::StrContains(server->Log(), "\"mutual_tls\":true")) << server->Log();
  const std::string target = absl::StrCat("127.0.0.1:", *port);

  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = ca;
  with_cert.pem_private_key = ReadWholeFile(dir + "/client.key");
  with_cert.pem_cert_chain = ReadWholeFile(dir + "/client.pem");
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
