#include "service/metrics/metrics.h"

#include <prometheus/exposer.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gander::service {
namespace {

prometheus::Counter* AddCounter(prometheus::Registry& registry, const std::string& name,
                                const std::string& help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge* AddGauge(prometheus::Registry& registry, const std::string& name,
                            const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Histogram* AddHistogram(prometheus::Registry& registry, const std::string& name,
                                    const std::string& help, const std::vector<double>& buckets) {
  return &prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, buckets);
}

// Splits "HOST:PORT" into civetweb's listening_ports syntax ("HOST:PORT",
// "[V6]:PORT", or "PORT" for every interface).
absl::StatusOr<std::string> CivetListenAddress(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", listen, "' is not HOST:PORT"));
  }
  const absl::string_view host = listen.substr(0, colon);
  const absl::string_view port = listen.substr(colon + 1);
  bool digits = !port.empty() && port.size() <= 5;
  for (char c : port) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (!digits || std::stoi(std::string(port)) > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", listen, "' has port '", port, "' (expected 0 to 65535)"));
  }
  if (host.empty()) return std::string(port);
  const bool bracketed = host.front() == '[';
  if (bracketed != (host.back() == ']') || (!bracketed && host.find(':') != host.npos) ||
      host.find_first_of(" ,\t") != host.npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address '", listen, "' has a malformed host (an IPv6 host goes in brackets)"));
  }
  return std::string(listen);
}

}  // namespace

std::vector<double> Metrics::TimeBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,    0.5,    1,     2.5,    5,     10,   25,    60};
}

std::vector<double> Metrics::BatchSizeBuckets() {
  std::vector<double> buckets;
  for (int rows = 1; rows <= 1024; rows *= 2) buckets.push_back(rows);
  return buckets;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  tokens_generated_ =
      AddCounter(r, "gander_tokens_generated_total", "Tokens sampled and sent to clients.");
  tokens_prefilled_ =
      AddCounter(r, "gander_tokens_prefilled_total", "Input tokens run through the model.");
  checkpoints_ =
      AddCounter(r, "gander_checkpoints_total", "Stream checkpoints written to the store.");
  requests_ = &prometheus::BuildCounter()
                   .Name("gander_requests_total")
                   .Help("RPCs started, by full gRPC method name.")
                   .Register(r);
  errors_ = &prometheus::BuildCounter()
                 .Name("gander_errors_total")
                 .Help("RPCs ended with a non-OK status, by method and canonical status code.")
                 .Register(r);
  open_streams_ = AddGauge(r, "gander_open_streams", "Sessions.Stream calls past open.");
  resident_streams_ =
      AddGauge(r, "gander_resident_streams", "Stream states held in the worker's memory.");
  queue_depth_ = AddGauge(r, "gander_queue_depth", "Work items waiting for the engine.");
  active_generations_ = AddGauge(r, "gander_active_generations", "Generate requests running now.");
  const std::vector<double> time_buckets = TimeBuckets();
  batch_size_ =
      AddHistogram(r, "gander_batch_size", "Rows (streams) per engine step.", BatchSizeBuckets());
  step_seconds_ =
      AddHistogram(r, "gander_step_seconds", "Duration of one engine step, seconds.", time_buckets);
  checkpoint_seconds_ = AddHistogram(r, "gander_checkpoint_seconds",
                                     "Duration of one checkpoint write, seconds.", time_buckets);
  restore_seconds_ =
      AddHistogram(r, "gander_restore_seconds",
                   "Duration of one stream-state restore from the store, seconds.", time_buckets);
  time_to_first_token_seconds_ = AddHistogram(
      r, "gander_time_to_first_token_seconds",
      "From a generate request's arrival to its first token sent, seconds.", time_buckets);
  inter_token_seconds_ =
      AddHistogram(r, "gander_inter_token_seconds",
                   "Time between two tokens of one generation, seconds.", time_buckets);
}

void Metrics::AddTokensGenerated(uint64_t n) {
  tokens_generated_->Increment(static_cast<double>(n));
}

void Metrics::AddTokensPrefilled(uint64_t n) {
  tokens_prefilled_->Increment(static_cast<double>(n));
}

void Metrics::RecordRequest(absl::string_view method) {
  prometheus::Counter* counter = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = request_counters_.find(method);
    if (it != request_counters_.end()) counter = it->second;
  }
  if (counter == nullptr) {
    absl::MutexLock lock(&mu_);
    prometheus::Counter*& slot = request_counters_[std::string(method)];
    if (slot == nullptr) slot = &requests_->Add({{"method", std::string(method)}});
    counter = slot;
  }
  counter->Increment();
}

void Metrics::RecordError(absl::string_view method, absl::StatusCode code) {
  if (code == absl::StatusCode::kOk) return;
  std::pair<std::string, int> key(std::string(method), static_cast<int>(code));
  prometheus::Counter* counter = nullptr;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = error_counters_.find(key);
    if (it != error_counters_.end()) counter = it->second;
  }
  if (counter == nullptr) {
    absl::MutexLock lock(&mu_);
    prometheus::Counter*& slot = error_counters_[key];
    if (slot == nullptr) {
      slot = &errors_->Add({{"method", key.first}, {"code", absl::StatusCodeToString(code)}});
    }
    counter = slot;
  }
  counter->Increment();
}

void Metrics::RecordStep(size_t rows, absl::Duration duration) {
  batch_size_->Observe(static_cast<double>(rows));
  step_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::RecordCheckpoint(absl::Duration duration) {
  checkpoints_->Increment();
  checkpoint_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::RecordRestore(absl::Duration duration) {
  restore_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::RecordTimeToFirstToken(absl::Duration duration) {
  time_to_first_token_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::RecordInterToken(absl::Duration duration) {
  inter_token_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view listen, std::shared_ptr<prometheus::Collectable> collectable) {
  if (collectable == nullptr) {
    return absl::InvalidArgumentError("MetricsServer::Start: no collectable to serve");
  }
  absl::StatusOr<std::string> address = CivetListenAddress(listen);
  if (!address.ok()) return address.status();
  std::unique_ptr<prometheus::Exposer> exposer;
  // The only exceptions Gander catches: prometheus-cpp's Exposer reports a
  // failure to listen by throwing from its constructor.
  try {
    exposer = std::make_unique<prometheus::Exposer>(*address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", listen, "': ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", listen, "': no port was bound"));
  }
  exposer->RegisterCollectable(collectable);
  const int port = ports.front();
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(exposer), std::move(collectable), port));
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                             std::shared_ptr<prometheus::Collectable> collectable, int port)
    : exposer_(std::move(exposer)), collectable_(std::move(collectable)), port_(port) {}

MetricsServer::~MetricsServer() = default;

}  // namespace gander::service
