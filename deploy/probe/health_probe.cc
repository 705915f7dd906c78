// gander-health-probe: asks a gRPC server's standard health service
// (grpc.health.v1.Health/Check) whether it is SERVING. The container
// images' HEALTHCHECK runs it; it also serves as a Kubernetes exec probe
// where the native gRPC probe cannot be used (a TLS port).
//
//   gander-health-probe --addr=127.0.0.1:50051
//   GANDER_HEALTH_ADDR=127.0.0.1:50052 gander-health-probe   (the images' form)
//   gander-health-probe --addr=store:50052 --tls-ca=ca.pem --tls-cert=c.pem --tls-key=c.key
//
// Exit status: 0 when the server answers SERVING within --timeout; 1 when it
// answers anything else (NOT_SERVING while it shuts down) or cannot be
// reached; 2 on a usage error. One line on stdout or stderr says which.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/flags.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "service/security/tls.h"

namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

absl::Status Probe(const gander::cli::FlagSet& flags) {
  absl::Duration timeout;
  if (!absl::ParseDuration(flags.Get("timeout"), &timeout) || timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout must be a positive duration, got ", flags.Get("timeout")));
  }
  const gander::service::ClientTlsOptions tls{flags.Get("tls-ca"), flags.Get("tls-cert"),
                                              flags.Get("tls-key"), flags.Get("tls-server-name")};
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      gander::service::MakeChannelCredentials(tls);
  if (!credentials.ok()) return credentials.status();
  auto channel = grpc::CreateCustomChannel(flags.Get("addr"), *credentials,
                                           gander::service::MakeChannelArguments(tls));
  auto stub = Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  HealthCheckRequest request;
  request.set_service(flags.Get("service"));
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(flags.Get("addr"), ": health check failed (code ",
                                               status.error_code(), "): ", status.error_message()));
  }
  if (response.status() != HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(
        flags.Get("addr"), ": ", HealthCheckResponse::ServingStatus_Name(response.status())));
  }
  std::printf("%s: SERVING\n", flags.Get("addr").c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  gander::cli::FlagSet flags("health-probe");
  const char* addr = std::getenv("GANDER_HEALTH_ADDR");
  flags.Add("addr", "HOST:PORT of the server (default: $GANDER_HEALTH_ADDR, else 127.0.0.1:50051)",
            false, addr != nullptr && addr[0] != '\0' ? addr : "127.0.0.1:50051");
  flags.Add("service", "service name to ask about (empty: the whole server)");
  flags.Add("timeout", "how long to wait for the answer", false, "3s");
  flags.Add("tls-ca", "CA of the server's certificate: turns TLS on");
  flags.Add("tls-cert", "client certificate (mutual TLS)");
  flags.Add("tls-key", "client private key (mutual TLS)");
  flags.Add("tls-server-name", "name to check the server's certificate against");
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf("usage: gander-health-probe [flags]\n%s", flags.Usage().c_str());
      return 0;
    }
  }
  if (absl::Status parsed = flags.Parse(argc, argv); !parsed.ok()) {
    std::fprintf(stderr, "gander-health-probe: %s\n", std::string(parsed.message()).c_str());
    return 2;
  }
  if (absl::Status probed = Probe(flags); !probed.ok()) {
    std::fprintf(stderr, "gander-health-probe: %s\n", std::string(probed.message()).c_str());
    return probed.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
