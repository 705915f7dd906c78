// TLS credentials against a real in-process gRPC server (the standard
// health service on a loopback port), with certificates made at test time by
// the `openssl` command: a CA, a server certificate for localhost and
// 127.0.0.1, a client certificate, and a second, unrelated CA.
#include "service/security/tls.h"

#include <grpc/grpc_security_constants.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"

namespace gander::service {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr char kOpenssl[] = "/usr/bin/openssl";

std::string TempDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

// The PEM files every test uses, made once for the whole suite.
struct Pki {
  std::string dir;
  std::string ca, server_cert, server_key, client_cert, client_key;
  std::string other_ca, other_client_cert, other_client_key;
  std::string error;  // non-empty when generation failed
};

// Runs a shell command, returning an error text on failure.
std::string Run(const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  return rc == 0 ? "" : absl::StrCat("command failed (", rc, "): ", command);
}

Pki MakePki() {
  Pki pki;
  pki.dir = TempDir() + "/pki";
  std::string error = Run("mkdir -p '" + pki.dir + "'");
  if (!error.empty()) {
    pki.error = error;
    return pki;
  }
  const std::string config = pki.dir + "/openssl.cnf";
  WriteFile(config,
            "[req]\n"
            "distinguished_name = dn\n"
            "prompt = no\n"
            "[dn]\n"
            "CN = unused\n"
            "[ca_ext]\n"
            "basicConstraints = critical,CA:TRUE\n"
            "keyUsage = critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier = hash\n"
            "[server_ext]\n"
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
            "[client_ext]\n"
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = clientAuth\n");
  const std::string openssl = kOpenssl;
  const std::string new_key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  auto path = [&](const std::string& name) { return "'" + pki.dir + "/" + name + "'"; };
  auto make_ca = [&](const std::string& name, const std::string& cn) {
    return Run(openssl + " req -x509 -config " + path("openssl.cnf") + " -extensions ca_ext" +
               new_key + " -keyout " + path(name + ".key") + " -out " + path(name + ".pem") +
               " -days 2 -subj '/CN=" + cn + "'");
  };
  auto make_leaf = [&](const std::string& name, const std::string& ca, const std::string& cn,
                       const std::string& extensions, int serial) {
    std::string e =
        Run(openssl + " req -new -config " + path("openssl.cnf") + new_key + " -keyout " +
            path(name + ".key") + " -out " + path(name + ".csr") + " -subj '/CN=" + cn + "'");
    if (!e.empty()) return e;
    return Run(openssl + " x509 -req -in " + path(name + ".csr") + " -CA " + path(ca + ".pem") +
               " -CAkey " + path(ca + ".key") + " -set_serial " + std::to_string(serial) +
               " -days 2 -extfile " + path("openssl.cnf") + " -extensions " + extensions +
               " -out " + path(name + ".pem"));
  };
  for (const std::string& step :
       {make_ca("ca", "Gander Test CA"), make_ca("other_ca", "Unrelated CA"),
        make_leaf("server", "ca", "localhost", "server_ext", 2),
        make_leaf("client", "ca", "client-a", "client_ext", 3),
        make_leaf("other_client", "other_ca", "client-b", "client_ext", 4)}) {
    if (!step.empty()) {
      pki.error = step;
      return pki;
    }
  }
  pki.ca = pki.dir + "/ca.pem";
  pki.server_cert = pki.dir + "/server.pem";
  pki.server_key = pki.dir + "/server.key";
  pki.client_cert = pki.dir + "/client.pem";
  pki.client_key = pki.dir + "/client.key";
  pki.other_ca = pki.dir + "/other_ca.pem";
  pki.other_client_cert = pki.dir + "/other_client.pem";
  pki.other_client_key = pki.dir + "/other_client.key";
  return pki;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access(kOpenssl, X_OK) != 0) return;
    pki_ = new Pki(MakePki());
    grpc::EnableDefaultHealthCheckService(true);
    // The default health service is served only next to another
    // synchronous service; server reflection is that service here.
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    if (pki_ == nullptr) GTEST_SKIP() << kOpenssl << " is not installed";
    ASSERT_EQ(pki_->error, "");
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  void StartServer(const ServerTlsOptions& options) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        MakeServerCredentials(options);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  // One health check over a new channel made from `options`.
  grpc::Status Check(const ClientTlsOptions& options) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        MakeChannelCredentials(options);
    if (!credentials.ok()) {
      ADD_FAILURE() << credentials.status();
      return grpc::Status(grpc::StatusCode::INTERNAL, "no credentials");
    }
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port_), *credentials, MakeChannelArguments(options));
    std::unique_ptr<Health::Stub> stub = Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, HealthCheckRequest(), &response);
    if (status.ok()) {
      EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
    }
    return status;
  }

  ServerTlsOptions ServerTls(bool mutual) const {
    return {pki_->server_cert, pki_->server_key, mutual ? pki_->ca : ""};
  }
  ClientTlsOptions ClientTls(bool with_cert) const {
    return {pki_->ca, with_cert ? pki_->client_cert : "", with_cert ? pki_->client_key : "", ""};
  }

  static Pki* pki_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

Pki* TlsTest::pki_ = nullptr;

TEST_F(TlsTest, PlaintextWhenNothingIsSet) {
  StartServer(ServerTlsOptions());
  grpc::Status status = Check(ClientTlsOptions());
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, TlsClientTalksToTlsServer) {
  StartServer(ServerTls(/*mutual=*/false));
  grpc::Status status = Check(ClientTls(/*with_cert=*/false));
  EXPECT_TRUE(status.ok()) << status.error_message();
  // A client certificate is accepted (and ignored) without mutual TLS.
  status = Check(ClientTls(/*with_cert=*/true));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(TlsTest, InsecureClientFailsAgainstTlsServer) {
  StartServer(ServerTls(/*mutual=*/false));
  EXPECT_EQ(Check(ClientTlsOptions()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ClientTrustingAnotherCaFails) {
  StartServer(ServerTls(/*mutual=*/false));
  ClientTlsOptions options = ClientTls(/*with_cert=*/false);
  options.ca_path = pki_->other_ca;
  EXPECT_EQ(Check(options).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ServerNameOverrideIsChecked) {
  StartServer(ServerTls(/*mutual=*/false));
  ClientTlsOptions options = ClientTls(/*with_cert=*/false);
  options.server_name = "localhost";  // in the certificate
  grpc::Status status = Check(options);
  EXPECT_TRUE(status.ok()) << status.error_message();
  options.server_name = "store.gander.internal";  // not in the certificate
  EXPECT_EQ(Check(options).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsRequiresAClientCertificateFromTheClientCa) {
  StartServer(ServerTls(/*mutual=*/true));
  grpc::Status status = Check(ClientTls(/*with_cert=*/true));
  EXPECT_TRUE(status.ok()) << status.error_message();

  EXPECT_EQ(Check(ClientTls(/*with_cert=*/false)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Check(ClientTlsOptions()).error_code(), grpc::StatusCode::UNAVAILABLE);

  ClientTlsOptions foreign = ClientTls(/*with_cert=*/true);
  foreign.cert_path = pki_->other_client_cert;
  foreign.key_path = pki_->other_client_key;
  EXPECT_EQ(Check(foreign).error_code(), grpc::StatusCode::UNAVAILABLE);
}

// Option checking needs no certificates beyond PEM-looking files.
class TlsOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    cert_ = dir_ + "/fake_cert.pem";
    key_ = dir_ + "/fake_key.pem";
    garbage_ = dir_ + "/garbage.pem";
    encrypted_ = dir_ + "/encrypted_key.pem";
    WriteFile(cert_, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    WriteFile(key_, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
    WriteFile(garbage_, "not a pem file\n");
    WriteFile(encrypted_,
              "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
  }

  template <typename T>
  static void ExpectError(const absl::StatusOr<T>& result, absl::StatusCode code,
                          const std::string& fragment) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), code) << result.status();
    EXPECT_NE(result.status().message().find(fragment), absl::string_view::npos) << result.status();
  }

  std::string dir_, cert_, key_, garbage_, encrypted_;
};

TEST_F(TlsOptionsTest, ServerRejectsIncompleteSets) {
  ExpectError(MakeServerCredentials({"", key_, ""}), absl::StatusCode::kInvalidArgument,
              "needs both --tls-cert and --tls-key; got no certificate and a key");
  ExpectError(MakeServerCredentials({cert_, "", ""}), absl::StatusCode::kInvalidArgument,
              "got a certificate and no key");
  ExpectError(MakeServerCredentials({"", "", cert_}), absl::StatusCode::kInvalidArgument,
              "(with --tls-client-ca)");
}

TEST_F(TlsOptionsTest, ServerReportsUnreadableAndMalformedFiles) {
  const std::string missing = dir_ + "/missing.pem";
  ExpectError(MakeServerCredentials({missing, key_, ""}), absl::StatusCode::kNotFound,
              "server certificate '" + missing + "'");
  ExpectError(MakeServerCredentials({cert_, missing, ""}), absl::StatusCode::kNotFound,
              "server private key '" + missing + "'");
  ExpectError(MakeServerCredentials({cert_, key_, missing}), absl::StatusCode::kNotFound,
              "client CA certificate '" + missing + "'");
  ExpectError(MakeServerCredentials({cert_, dir_, ""}), absl::StatusCode::kNotFound,
              "cannot read server private key '" + dir_ + "'");
  ExpectError(MakeServerCredentials({garbage_, key_, ""}), absl::StatusCode::kInvalidArgument,
              "'" + garbage_ + "' holds no PEM certificate");
  ExpectError(MakeServerCredentials({cert_, cert_, ""}), absl::StatusCode::kInvalidArgument,
              "'" + cert_ + "' holds no PEM private key");
  ExpectError(MakeServerCredentials({cert_, encrypted_, ""}), absl::StatusCode::kInvalidArgument,
              "is encrypted");
  ExpectError(MakeServerCredentials({cert_, key_, key_}), absl::StatusCode::kInvalidArgument,
              "client CA certificate '" + key_ + "' holds no PEM certificate");
}

TEST_F(TlsOptionsTest, ClientRejectsIncompleteSets) {
  ExpectError(MakeChannelCredentials({"", cert_, key_, ""}), absl::StatusCode::kInvalidArgument,
              "need --tls-ca");
  ExpectError(MakeChannelCredentials({"", "", "", "localhost"}), absl::StatusCode::kInvalidArgument,
              "need --tls-ca");
  ExpectError(MakeChannelCredentials({cert_, cert_, "", ""}), absl::StatusCode::kInvalidArgument,
              "got only --tls-cert");
  ExpectError(MakeChannelCredentials({cert_, "", key_, ""}), absl::StatusCode::kInvalidArgument,
              "got only --tls-key");
  ExpectError(MakeChannelCredentials({dir_ + "/none.pem", "", "", ""}), absl::StatusCode::kNotFound,
              "server CA certificate '" + dir_ + "/none.pem'");
  ExpectError(MakeChannelCredentials({cert_, cert_, garbage_, ""}),
              absl::StatusCode::kInvalidArgument, "client private key");
}

TEST_F(TlsOptionsTest, InsecureWhenEmpty) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server =
      MakeServerCredentials(ServerTlsOptions());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE(*server, nullptr);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> client =
      MakeChannelCredentials(ClientTlsOptions());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_NE(*client, nullptr);
}

// The value of channel argument `key` in `arguments`, or "<absent>".
std::string ArgumentValue(const grpc::ChannelArguments& arguments, const std::string& key) {
  const grpc_channel_args args = arguments.c_channel_args();
  for (size_t i = 0; i < args.num_args; ++i) {
    if (key == args.args[i].key && args.args[i].type == GRPC_ARG_STRING) {
      return args.args[i].value.string;
    }
  }
  return "<absent>";
}

TEST(MakeChannelArguments, SetsTheTargetNameOverrideOnlyWhenGiven) {
  ClientTlsOptions options;
  EXPECT_EQ(ArgumentValue(MakeChannelArguments(options), GRPC_SSL_TARGET_NAME_OVERRIDE_ARG),
            "<absent>");
  options.server_name = "worker-0.gander";
  EXPECT_EQ(ArgumentValue(MakeChannelArguments(options), GRPC_SSL_TARGET_NAME_OVERRIDE_ARG),
            "worker-0.gander");
}

}  // namespace
}  // namespace gander::service
