// gander store-server: the state store (RocksDB, durable defaults) served
// over gRPC as gander.store.v1.StateStore, so several workers share one
// store. Also serves the standard health service, server reflection and
// Prometheus metrics.
//
//   gander store-server --listen=0.0.0.0:50052 --data-dir=/var/lib/gander-store
//       --ready-file=/run/gander/ready --tls-cert=server.pem --tls-key=server.key
//       --tls-client-ca=workers-ca.pem   (one command line)
//
// Once listening it logs one line ("serving", JSON, to stderr) and, with
// --ready-file, writes that file atomically with `grpc_port=N` (the port
// bound, also when --listen asked for port 0) and, when metrics are on,
// `metrics_port=M`. SIGTERM or SIGINT shut it down gracefully: health turns
// NOT_SERVING, no new calls are taken, calls in flight get up to
// --shutdown-grace to finish (then they are cancelled; a cancelled upload
// writes nothing; an idle client connection may also hold the shutdown
// until the client acknowledges the server's GOAWAY, a few seconds at most,
// never beyond the grace), the store is closed, the ready file removed, and
// the process exits 0. Exit 1: a flag value out of range, the store could
// not be opened, an address not bound or a TLS file not read; exit 2: an
// unknown flag or a flag without its value.
//
// Metrics (gander_requests_total{method}, gander_errors_total{method,code},
// and gander_checkpoints_total / gander_checkpoint_seconds for every
// checkpoint written by Commit or CreateStreamWithCheckpoint, transfer
// included) at http://--metrics-listen/metrics.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <climits>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/status_macros.h"
#include "service/logging/log.h"
#include "service/metrics/metrics.h"
#include "service/process/process.h"
#include "service/security/tls.h"
#include "service/store/state_store_service.h"
#include "storage/rocksdb_state_store.h"

namespace gander::cli {
namespace {

using service::Log;
using service::LogLevel;

absl::Status ServeStore(const FlagSet& flags) {
  GANDER_ASSIGN_OR_RETURN(const long long retained, flags.GetInt("retained-versions"));
  if (retained < 1 || retained > 1000000) {
    return absl::InvalidArgumentError("--retained-versions must be in [1, 1000000]");
  }
  GANDER_ASSIGN_OR_RETURN(const long long max_message, flags.GetInt("max-message-bytes"));
  constexpr long long kMinMessageBytes = (1 << 20) + (64 << 10);  // a 1 MiB chunk and framing
  if (max_message < kMinMessageBytes || max_message > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-message-bytes must be in [", kMinMessageBytes, ", ", INT_MAX, "]"));
  }
  GANDER_ASSIGN_OR_RETURN(
      const absl::Duration grace,
      service::ParseDurationFlag("shutdown-grace", flags.Get("shutdown-grace")));
  const std::string listen = flags.Get("listen");
  if (listen.empty()) return absl::InvalidArgumentError("--listen is empty");
  const std::string data_dir = flags.Get("data-dir");
  if (data_dir.empty()) return absl::InvalidArgumentError("--data-dir is empty");
  const std::string ready_file = flags.Get("ready-file");
  const service::ServerTlsOptions tls{flags.Get("tls-cert"), flags.Get("tls-key"),
                                      flags.Get("tls-client-ca")};

  // Before any thread (RocksDB's, gRPC's) exists, so that every thread
  // inherits the blocked mask and only Wait below receives the signals.
  GANDER_ASSIGN_OR_RETURN(service::TerminationSignals signals,
                          service::TerminationSignals::Block());
  GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                          service::MakeServerCredentials(tls));

  auto metrics = std::make_shared<service::Metrics>();
  std::unique_ptr<service::MetricsServer> metrics_server;
  if (!flags.Get("metrics-listen").empty()) {
    GANDER_ASSIGN_OR_RETURN(metrics_server, service::MetricsServer::Start(
                                                flags.Get("metrics-listen"), metrics->registry()));
  }

  storage::RocksDbStoreOptions store_options;  // durable defaults: synced WAL
  store_options.base.retained_versions = static_cast<int>(retained);
  absl::StatusOr<std::unique_ptr<storage::RocksDbStateStore>> store =
      storage::OpenRocksDbStateStore(data_dir, store_options);
  if (!store.ok()) {
    return absl::Status(store.status().code(), absl::StrCat("opening the store in ", data_dir, ": ",
                                                            store.status().message()));
  }

  service::StateStoreServiceOptions service_options;
  service_options.on_call_end = [metrics](const std::string& method, absl::StatusCode code,
                                          absl::Duration elapsed) {
    metrics->RecordRequest(method);
    metrics->RecordError(method, code);
    if (code == absl::StatusCode::kOk && (absl::EndsWith(method, "/Commit") ||
                                          absl::EndsWith(method, "/CreateStreamWithCheckpoint"))) {
      metrics->RecordCheckpoint(elapsed);
    }
  };
  service::StateStoreService service(store->get(), std::move(service_options));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_message));
  builder.SetMaxSendMessageSize(static_cast<int>(max_message));
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " (address in use or not local?)"));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(gander::store::v1::StateStore::service_full_name(), true);
  }

  std::vector<std::pair<std::string, int>> ports = {{"grpc_port", port}};
  if (metrics_server) ports.emplace_back("metrics_port", metrics_server->port());
  if (absl::Status written = service::WriteReadyFile(ready_file, ports); !written.ok()) {
    server->Shutdown(absl::ToChronoTime(absl::Now()));
    return written;
  }
  Log(LogLevel::kInfo, "serving",
      {{"listen", service::BoundAddress(listen, port)},
       {"service", "gander.store.v1.StateStore"},
       {"metrics", metrics_server ? metrics_server->port() : 0},
       {"data_dir", data_dir},
       {"retained_versions", static_cast<int64_t>(retained)},
       {"tls", tls.enabled()},
       {"mutual_tls", !tls.client_ca_path.empty()}});

  const int signal_number = signals.Wait();
  Log(LogLevel::kInfo, "shutting_down",
      {{"signal", signal_number}, {"grace", absl::FormatDuration(grace)}});
  if (health != nullptr) health->SetServingStatus(false);
  server->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server->Wait();
  server.reset();
  store->reset();  // closes the database
  if (!ready_file.empty()) std::remove(ready_file.c_str());
  Log(LogLevel::kInfo, "stopped", {});
  return absl::OkStatus();
}

}  // namespace

int StoreServerCommand(int argc, char** argv) {
  FlagSet flags("store-server");
  flags.Add("listen", "HOST:PORT to serve on (port 0: any free port)", false, "0.0.0.0:50052");
  flags.Add("data-dir", "directory of the RocksDB store (created when absent)", false,
            "./gander-store");
  flags.Add("ready-file", "once listening, write grpc_port=N and metrics_port=M here");
  flags.Add("retained-versions", "checkpoints kept per stream", false, "8");
  flags.Add("tls-cert", "server certificate chain (PEM); with --tls-key turns TLS on");
  flags.Add("tls-key", "private key of --tls-cert (PEM)");
  flags.Add("tls-client-ca", "CA (PEM) that must have signed client certificates (mutual TLS)");
  flags.Add("max-message-bytes", "largest gRPC message sent or received", false, "4194304");
  flags.Add("metrics-listen", "Prometheus /metrics address (empty = off)", false, "0.0.0.0:9465");
  flags.Add("shutdown-grace", "on SIGTERM/SIGINT, how long calls in flight may finish", false,
            "10s");
  return RunCommand(flags, argc, argv, ServeStore);
}

}  // namespace gander::cli
