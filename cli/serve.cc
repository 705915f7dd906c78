// `gander serve`: an inference worker. Loads the model, starts the
// scheduler, and serves Sessions, Streams, Models, the gRPC health service
// and server reflection on one port, plus Prometheus metrics on another.
//
//   gander serve --model=rwkv7.pth --vocab=rwkv_vocab_v20230424.txt
//       --listen=0.0.0.0:50051 --data-dir=/var/lib/gander
//   gander serve --model=... --store=store:50052      (a shared store server)
//
// Stops on SIGTERM or SIGINT: the health service turns NOT_SERVING, open
// streams are checkpointed (when they changed since their last checkpoint)
// and their leases released, within --shutdown-grace; then the process exits 0.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/status_macros.h"
#include "engine/backend.h"
#include "engine/model.h"
#ifdef GANDER_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif
#include "engine/scheduler/scheduler.h"
#include "engine/tokenizer/tokenizer.h"
#include "service/admin/models_service.h"
#include "service/admin/streams_service.h"
#include "service/auth/tenants.h"
#include "service/logging/log.h"
#include "service/metrics/metrics.h"
#include "service/process/process.h"
#include "service/security/tls.h"
#include "service/worker/worker.h"
#include "storage/remote/remote_state_store.h"
#include "storage/rocksdb_state_store.h"
#include "storage/state_codec.h"

namespace gander::cli {
namespace {

using service::Log;
using service::LogLevel;

absl::StatusOr<int> IntFlag(const FlagSet& flags, const std::string& name, long long min,
                            long long max) {
  GANDER_ASSIGN_OR_RETURN(long long value, flags.GetInt(name));
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be in [", min, ", ", max, "], got ", value));
  }
  return static_cast<int>(value);
}

std::string DefaultWorkerId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "worker";
  return host;
}

// The CUDA backend of --backend=cuda: slots for every running generation,
// one pass per engine step.
absl::StatusOr<std::unique_ptr<engine::Backend>> LoadCudaBackend(
    const FlagSet& flags, const engine::LoadOptions& load_options,
    const engine::SchedulerOptions& scheduler_options) {
#ifdef GANDER_WITH_CUDA
  engine::cuda::CudaBackendOptions options;
  GANDER_ASSIGN_OR_RETURN(options.device, IntFlag(flags, "cuda-device", 0, 1024));
  const std::string type = flags.Get("cuda-dtype");
  if (type == "fp16") {
    options.weight_type = engine::cuda::CudaWeightType::kF16;
  } else if (type == "bf16") {
    options.weight_type = engine::cuda::CudaWeightType::kBF16;
  } else if (type == "fp32") {
    options.weight_type = engine::cuda::CudaWeightType::kF32;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--cuda-dtype must be fp16, bf16 or fp32, got ", type));
  }
  options.slots = scheduler_options.max_running;
  options.max_rows = scheduler_options.max_step_tokens;
  GANDER_ASSIGN_OR_RETURN(engine::ModelWeights weights,
                          engine::LoadModelWeights(flags.Get("model"), load_options));
  return engine::cuda::CreateCudaBackend(weights, options);
#else
  (void)flags;
  (void)load_options;
  (void)scheduler_options;
  return absl::FailedPreconditionError(
      "--backend=cuda: this gander was built without CUDA (build it with --config=cuda)");
#endif
}

absl::Status Serve(const FlagSet& flags) {
  // Stream states are large (2.4 MB for the 0.1B model) and come and go as
  // streams open, close and move out of memory. A fixed mmap threshold
  // keeps glibc from raising it after the first free: every state buffer
  // then has its own mapping, returned to the system when freed, so resident
  // memory follows the states actually held (--max-resident-streams).
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  GANDER_ASSIGN_OR_RETURN(service::TerminationSignals signals,
                          service::TerminationSignals::Block());
  if (flags.Has("log-level")) {
    GANDER_ASSIGN_OR_RETURN(LogLevel level, service::ParseLogLevel(flags.Get("log-level")));
    service::SetMinLogLevel(level);
  }

  // Limits and policies.
  service::WorkerOptions worker_options;
  worker_options.worker_id = flags.Has("worker-id") ? flags.Get("worker-id") : DefaultWorkerId();
  worker_options.model_name = flags.Get("model-name");
  GANDER_ASSIGN_OR_RETURN(worker_options.default_codec,
                          storage::ParseStateCodec(flags.Get("codec")));
  GANDER_ASSIGN_OR_RETURN(worker_options.lease_ttl,
                          service::ParseDurationFlag("lease-ttl", flags.Get("lease-ttl")));
  if (worker_options.lease_ttl < absl::Seconds(1) || worker_options.lease_ttl > absl::Hours(24)) {
    return absl::InvalidArgumentError("--lease-ttl must be in [1s, 24h]");
  }
  GANDER_ASSIGN_OR_RETURN(worker_options.max_open_streams,
                          IntFlag(flags, "max-open-streams", 1, 10000000));
  GANDER_ASSIGN_OR_RETURN(worker_options.max_resident_streams,
                          IntFlag(flags, "max-resident-streams", 1, 10000000));
  GANDER_ASSIGN_OR_RETURN(worker_options.max_tokens_per_request,
                          IntFlag(flags, "max-tokens-per-request", 1, 1 << 30));
  GANDER_ASSIGN_OR_RETURN(worker_options.max_input_tokens_per_request,
                          IntFlag(flags, "max-input-tokens", 1, 1 << 30));
  engine::SchedulerOptions scheduler_options;
  GANDER_ASSIGN_OR_RETURN(scheduler_options.max_running, IntFlag(flags, "max-running", 1, 65536));
  GANDER_ASSIGN_OR_RETURN(scheduler_options.max_queued, IntFlag(flags, "max-queued", 0, 1 << 20));
  GANDER_ASSIGN_OR_RETURN(scheduler_options.prefill_chunk,
                          IntFlag(flags, "prefill-chunk", 1, 1 << 20));
  GANDER_ASSIGN_OR_RETURN(scheduler_options.max_step_tokens,
                          IntFlag(flags, "max-step-tokens", 2, 1 << 22));
  GANDER_ASSIGN_OR_RETURN(int max_message_bytes,
                          IntFlag(flags, "max-message-bytes", (1 << 20) + (64 << 10), INT_MAX));
  GANDER_ASSIGN_OR_RETURN(int threads, IntFlag(flags, "threads", 0, 1024));
  GANDER_ASSIGN_OR_RETURN(absl::Duration grace, service::ParseDurationFlag(
                                                    "shutdown-grace", flags.Get("shutdown-grace")));

  // Security.
  GANDER_ASSIGN_OR_RETURN(service::TenantDirectory tenants,
                          service::TenantDirectory::Open(flags.Get("auth-tokens")));
  GANDER_ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ServerCredentials> credentials,
      service::MakeServerCredentials({.cert_path = flags.Get("tls-cert"),
                                      .key_path = flags.Get("tls-key"),
                                      .client_ca_path = flags.Get("tls-client-ca")}));

  // Model and vocabulary.
  engine::LoadOptions load_options;
  const std::string dtype = flags.Get("dtype");
  if (dtype == "bf16") {
    load_options.type = engine::WeightType::kBF16;
  } else if (dtype == "fp32") {
    load_options.type = engine::WeightType::kF32;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--dtype must be bf16 or fp32, got ", dtype));
  }
  const absl::Time load_start = absl::Now();
  std::unique_ptr<engine::Backend> model;
  const std::string backend_name = flags.Get("backend");
  if (backend_name == "cpu") {
    GANDER_ASSIGN_OR_RETURN(model, engine::Model::Load(flags.Get("model"), load_options, threads));
  } else if (backend_name == "cuda") {
    GANDER_ASSIGN_OR_RETURN(model, LoadCudaBackend(flags, load_options, scheduler_options));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--backend must be cpu or cuda, got ", backend_name));
  }
  std::unique_ptr<engine::Tokenizer> tokenizer;
  if (flags.Has("vocab")) {
    GANDER_ASSIGN_OR_RETURN(engine::Tokenizer loaded,
                            engine::Tokenizer::FromFile(flags.Get("vocab")));
    tokenizer = std::make_unique<engine::Tokenizer>(std::move(loaded));
  }
  Log(LogLevel::kInfo, "model_loaded",
      {{"path", flags.Get("model")},
       {"fingerprint", model->fingerprint()},
       {"layers", model->config().layers},
       {"embd", model->config().embd},
       {"vocab", model->config().vocab},
       {"backend", model->name()},
       {"weights", model->weight_dtype()},
       {"seconds", absl::ToDoubleSeconds(absl::Now() - load_start)}});

  // The store: embedded RocksDB, or a shared store server.
  std::unique_ptr<storage::StateStore> store;
  if (flags.Has("store")) {
    GANDER_ASSIGN_OR_RETURN(
        std::shared_ptr<grpc::ChannelCredentials> store_credentials,
        service::MakeChannelCredentials({.ca_path = flags.Get("store-tls-ca"),
                                         .cert_path = flags.Get("store-tls-cert"),
                                         .key_path = flags.Get("store-tls-key")}));
    storage::RemoteStoreOptions remote;
    remote.target = flags.Get("store");
    remote.credentials = store_credentials;
    remote.connect_timeout = absl::Seconds(30);
    GANDER_ASSIGN_OR_RETURN(store, storage::ConnectRemoteStateStore(remote));
  } else {
    GANDER_ASSIGN_OR_RETURN(std::unique_ptr<storage::RocksDbStateStore> local,
                            storage::OpenRocksDbStateStore(flags.Get("data-dir"), {}));
    store = std::move(local);
  }

  // Metrics, then the scheduler and the services.
  auto metrics = std::make_shared<service::Metrics>();
  std::unique_ptr<service::MetricsServer> metrics_server;
  if (!flags.Get("metrics-listen").empty()) {
    GANDER_ASSIGN_OR_RETURN(metrics_server, service::MetricsServer::Start(
                                                flags.Get("metrics-listen"), metrics->registry()));
  }
  scheduler_options.on_step = [metrics](const engine::SchedulerOptions::StepStats& s) {
    metrics->RecordStep(static_cast<size_t>(s.rows), s.duration);
    metrics->AddTokensPrefilled(static_cast<uint64_t>(s.prefill_rows));
  };
  GANDER_ASSIGN_OR_RETURN(
      std::unique_ptr<engine::Scheduler> scheduler,
      engine::Scheduler::Create(model.get(), tokenizer.get(), scheduler_options));
  // The scheduler's queue and running set, sampled for the gauges.
  absl::Notification stop_sampling;
  std::thread sampler([&] {
    do {
      const engine::Scheduler::Stats stats = scheduler->stats();
      metrics->queue_depth().Set(stats.queued);
      metrics->active_generations().Set(stats.running);
    } while (!stop_sampling.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  });
  struct JoinOnExit {
    absl::Notification& stop;
    std::thread& thread;
    ~JoinOnExit() {
      stop.Notify();
      thread.join();
    }
  } join_sampler{stop_sampling, sampler};

  const bool auth_on = tenants.enabled();
  auto authenticate =
      [&tenants,
       auth_on](const grpc::ServerContextBase& context) -> absl::StatusOr<service::Caller> {
    GANDER_ASSIGN_OR_RETURN(service::Principal principal,
                            tenants.Authenticate(context.client_metadata()));
    service::Caller caller;
    caller.tenant = principal.tenant;
    caller.any_tenant = !auth_on;
    caller.max_open_streams = static_cast<int>(principal.limits.max_open_streams);
    caller.max_tokens_per_request = static_cast<int>(principal.limits.max_tokens_per_request);
    return caller;
  };
  service::WorkerHooks hooks;
  hooks.on_streams = [metrics](int open, int resident) {
    metrics->open_streams().Set(open);
    metrics->resident_streams().Set(resident);
  };
  hooks.on_checkpoint = [metrics](absl::Duration d) { metrics->RecordCheckpoint(d); };
  hooks.on_restore = [metrics](absl::Duration d) { metrics->RecordRestore(d); };
  hooks.on_first_token = [metrics](absl::Duration d) { metrics->RecordTimeToFirstToken(d); };
  hooks.on_inter_token = [metrics](absl::Duration d) { metrics->RecordInterToken(d); };
  hooks.on_tokens_generated = [metrics](int n) { metrics->AddTokensGenerated(n); };
  hooks.on_call_end = [metrics](absl::StatusCode code) {
    metrics->RecordRequest("gander.v1.Sessions/Stream");
    metrics->RecordError("gander.v1.Sessions/Stream", code);
    if (code != absl::StatusCode::kOk && code != absl::StatusCode::kCancelled) {
      Log(LogLevel::kInfo, "stream_call_failed", {{"code", absl::StatusCodeToString(code)}});
    }
  };
  service::Worker worker(model.get(), tokenizer.get(), scheduler.get(), store.get(), authenticate,
                         worker_options, std::move(hooks));

  service::TenantResolver tenant_of =
      [&tenants](const grpc::ServerContextBase& context) -> absl::StatusOr<std::string> {
    GANDER_ASSIGN_OR_RETURN(service::Principal principal,
                            tenants.Authenticate(context.client_metadata()));
    return principal.tenant;
  };
  service::StreamsServiceOptions streams_options;
  streams_options.tenant_mode =
      auth_on ? service::TenantMode::kStrict : service::TenantMode::kFromRequest;
  service::StreamsService streams(
      store.get(), *model, worker_options.model_name, tenant_of,
      [&worker](const std::string& id) { return worker.IsOpen(id); }, streams_options);
  service::ModelsService models(*model, worker_options.model_name,
                                service::VocabularyName(flags.Get("vocab")), tenant_of);

  service::RegisterHealthSchemaForReflection();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.Get("listen"), credentials, &port);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  builder.RegisterService(worker.sessions_service());
  builder.RegisterService(&streams);
  builder.RegisterService(&models);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", flags.Get("listen")));
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  std::vector<std::pair<std::string, int>> ports = {{"grpc_port", port}};
  if (metrics_server) ports.emplace_back("metrics_port", metrics_server->port());
  GANDER_RETURN_IF_ERROR(service::WriteReadyFile(flags.Get("ready-file"), ports));
  Log(LogLevel::kInfo, "serving",
      {{"listen", service::BoundAddress(flags.Get("listen"), port)},
       {"metrics", metrics_server ? metrics_server->port() : 0},
       {"worker_id", worker_options.worker_id},
       {"store", flags.Has("store") ? flags.Get("store") : flags.Get("data-dir")},
       {"auth", auth_on},
       {"tls", !flags.Get("tls-cert").empty()}});

  const int signal_number = signals.Wait();
  Log(LogLevel::kInfo, "shutting_down", {{"signal", signal_number}});
  server->GetHealthCheckService()->SetServingStatus(false);
  const absl::Time deadline = absl::Now() + grace;
  worker.Shutdown(deadline);
  server->Shutdown(absl::ToChronoTime(std::max(deadline, absl::Now() + absl::Milliseconds(100))));
  if (!flags.Get("ready-file").empty()) std::remove(flags.Get("ready-file").c_str());
  Log(LogLevel::kInfo, "stopped", {});
  return absl::OkStatus();
}

}  // namespace

int ServeCommand(int argc, char** argv) {
  FlagSet flags("serve");
  flags.Add("model", "model file (.pth or .safetensors)", /*required=*/true);
  flags.Add("vocab", "vocabulary file (rwkv_vocab_v20230424.txt); without it, token ids only");
  flags.Add("model-name", "name clients use for the model", false, "rwkv7");
  flags.Add("dtype", "weights in memory: bf16 or fp32", false, "bf16");
  flags.Add("threads", "engine threads (0 = every core)", false, "0");
  flags.Add("backend", "where the model runs: cpu, or cuda (builds with --config=cuda)", false,
            "cpu");
  flags.Add("cuda-device", "CUDA device index (--backend=cuda)", false, "0");
  flags.Add("cuda-dtype", "weights on the GPU: fp16, bf16 or fp32 (--backend=cuda)", false, "fp16");
  flags.Add("listen", "gRPC address", false, "0.0.0.0:50051");
  flags.Add("metrics-listen", "Prometheus /metrics address (empty = off)", false, "0.0.0.0:9464");
  flags.Add("ready-file", "once listening, write grpc_port=N and metrics_port=M here");
  flags.Add("data-dir", "embedded store directory (without --store)", false, "./gander-data");
  flags.Add("store", "HOST:PORT of a shared `gander store-server` instead of the embedded store");
  flags.Add("store-tls-ca", "CA that signed the store server's certificate (TLS to the store)");
  flags.Add("store-tls-cert", "client certificate for mutual TLS to the store");
  flags.Add("store-tls-key", "client key for mutual TLS to the store");
  flags.Add("worker-id", "lease owner name, unique per worker (default: the host name)");
  flags.Add("auth-tokens", "token file (TOKEN TENANT [limits] per line); without it, no auth");
  flags.Add("tls-cert", "server certificate (PEM): serve TLS");
  flags.Add("tls-key", "server private key (PEM)");
  flags.Add("tls-client-ca", "CA for client certificates: require mutual TLS");
  flags.Add("codec", "default checkpoint codec: raw, lossless, bf16, int8", false, "lossless");
  flags.Add("lease-ttl", "stream lease time to live (renewed every third of it)", false, "30s");
  flags.Add("max-open-streams", "open streams on this worker", false, "1024");
  flags.Add("max-resident-streams", "stream states kept in memory (idle ones move to the store)",
            false, "256");
  flags.Add("max-running", "generations batched together", false, "64");
  flags.Add("max-queued", "generations waiting for a batch slot", false, "256");
  flags.Add("prefill-chunk", "most prompt tokens of one stream per engine step", false, "128");
  flags.Add("max-step-tokens", "most tokens per engine step (>= max-running + prefill-chunk)",
            false, "512");
  flags.Add("max-tokens-per-request", "cap (and default) of Generate.max_tokens", false, "4096");
  flags.Add("max-input-tokens", "most tokens in one append_input", false, "65536");
  flags.Add("max-message-bytes", "largest request message", false, "4194304");
  flags.Add("shutdown-grace", "time to checkpoint and release streams on SIGTERM", false, "20s");
  flags.Add("log-level", "debug, info, warning or error (default info)");
  return RunCommand(flags, argc, argv, Serve);
}

}  // namespace gander::cli
