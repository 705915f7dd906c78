// Gander's Prometheus metrics and the HTTP endpoint that exposes them.
//
// A worker owns one Metrics; every layer records into it through the small
// methods below, and a MetricsServer serves its registry as Prometheus text
// at http://HOST:PORT/metrics (`--metrics-listen`).
//
// The families (all names are stable: dashboards and alerts use them):
//
//   counters
//     gander_tokens_generated_total              tokens sampled and sent to clients
//     gander_tokens_prefilled_total              input tokens run through the model
//     gander_requests_total{method}              RPCs started; method is the full
//                                                gRPC name, "gander.v1.Sessions/Stream"
//     gander_errors_total{method,code}           RPCs ended with a non-OK status;
//                                                code is the canonical name, e.g.
//                                                "RESOURCE_EXHAUSTED"
//     gander_checkpoints_total                   checkpoints written to the store
//   gauges
//     gander_open_streams                        Sessions.Stream calls past `open`
//     gander_resident_streams                    stream states held in memory
//     gander_queue_depth                         work items waiting for the engine
//     gander_active_generations                  `generate` requests running
//   histograms
//     gander_batch_size                          rows (streams) per engine step;
//                                                buckets 1, 2, 4, ..., 1024
//     gander_step_seconds                        one engine step, seconds
//     gander_checkpoint_seconds                  one checkpoint write, seconds
//     gander_restore_seconds                     one state restore from the store, seconds
//     gander_time_to_first_token_seconds         `generate` received -> first token
//                                                sent, seconds
//     gander_inter_token_seconds                 between two tokens of one
//                                                generation, seconds
//   Time histograms share TimeBuckets(): 100 us to 60 s, 1-2.5-5 per decade.
//
// Example:
//   Metrics metrics;
//   GANDER_ASSIGN_OR_RETURN(std::unique_ptr<MetricsServer> http,
//                           MetricsServer::Start("0.0.0.0:9464", metrics.registry()));
//   metrics.RecordRequest("gander.v1.Sessions/Stream");
//   metrics.RecordStep(/*rows=*/12, absl::Milliseconds(3));
//   metrics.open_streams().Increment();
//
// Ownership: Metrics owns its registry (shared with any MetricsServer that
// serves it). References returned by the accessors live as long as the
// Metrics.
//
// Thread safety: every method of Metrics may be called from any thread
// (prometheus-cpp metrics are atomic; the label caches take a mutex).
// MetricsServer answers scrapes on its own threads.
#ifndef GANDER_SERVICE_METRICS_METRICS_H_
#define GANDER_SERVICE_METRICS_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace gander::service {

class Metrics {
 public:
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The registry to serve (MetricsServer) or to collect in tests.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Bucket bounds of the time histograms, seconds, ascending.
  static std::vector<double> TimeBuckets();
  // Bucket bounds of gander_batch_size: 1, 2, 4, ..., 1024.
  static std::vector<double> BatchSizeBuckets();

  // gander_tokens_generated_total += n.
  void AddTokensGenerated(uint64_t n);
  // gander_tokens_prefilled_total += n.
  void AddTokensPrefilled(uint64_t n);
  // gander_requests_total{method} += 1.
  void RecordRequest(absl::string_view method) ABSL_LOCKS_EXCLUDED(mu_);
  // gander_errors_total{method, code} += 1; nothing for absl::StatusCode::kOk.
  void RecordError(absl::string_view method, absl::StatusCode code) ABSL_LOCKS_EXCLUDED(mu_);
  // One engine step over `rows` streams that took `duration`:
  // gander_batch_size and gander_step_seconds.
  void RecordStep(size_t rows, absl::Duration duration);
  // One checkpoint written: gander_checkpoints_total += 1 and
  // gander_checkpoint_seconds.
  void RecordCheckpoint(absl::Duration duration);
  // gander_restore_seconds.
  void RecordRestore(absl::Duration duration);
  // gander_time_to_first_token_seconds.
  void RecordTimeToFirstToken(absl::Duration duration);
  // gander_inter_token_seconds.
  void RecordInterToken(absl::Duration duration);

  // The gauges, for Set / Increment / Decrement.
  prometheus::Gauge& open_streams() { return *open_streams_; }
  prometheus::Gauge& resident_streams() { return *resident_streams_; }
  prometheus::Gauge& queue_depth() { return *queue_depth_; }
  prometheus::Gauge& active_generations() { return *active_generations_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Counter* tokens_generated_;
  prometheus::Counter* tokens_prefilled_;
  prometheus::Counter* checkpoints_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Gauge* open_streams_;
  prometheus::Gauge* resident_streams_;
  prometheus::Gauge* queue_depth_;
  prometheus::Gauge* active_generations_;
  prometheus::Histogram* batch_size_;
  prometheus::Histogram* step_seconds_;
  prometheus::Histogram* checkpoint_seconds_;
  prometheus::Histogram* restore_seconds_;
  prometheus::Histogram* time_to_first_token_seconds_;
  prometheus::Histogram* inter_token_seconds_;

  // Label children already made, so that a hot path does one hash lookup.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, prometheus::Counter*> request_counters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<std::string, int>, prometheus::Counter*> error_counters_
      ABSL_GUARDED_BY(mu_);
};

// An HTTP server answering GET /metrics with the Prometheus text format.
class MetricsServer {
 public:
  // Listens on `listen`, "HOST:PORT" ("0.0.0.0:9464", "127.0.0.1:0" for any
  // free port, "[::]:9464"; an empty HOST means every interface), serving
  // `collectable` (kept alive by the server). INVALID_ARGUMENT for a
  // malformed address or a null collectable, UNAVAILABLE when the port
  // cannot be bound (in use, no such address).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      absl::string_view listen, std::shared_ptr<prometheus::Collectable> collectable);

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  // Stops listening; returns once the server's threads have ended (up to
  // about 2 s: civetweb's accept loop notices the stop at its next poll).
  ~MetricsServer();

  // The TCP port bound (the real one when 0 was asked for).
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                std::shared_ptr<prometheus::Collectable> collectable, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> collectable_;
  int port_;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_METRICS_METRICS_H_
