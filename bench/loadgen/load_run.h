// A load run against a Gander worker: N concurrent Sessions.Stream calls,
// each creating a new stream and running rounds of (append P random token
// ids, generate G tokens), measuring throughput, time to first token and
// inter-token latency, and counting failed calls by gRPC status code.
//
// Example:
//   LoadConfig config;
//   config.client.server = "127.0.0.1:50051";
//   config.streams = 16;
//   GANDER_ASSIGN_OR_RETURN(LoadReport report, RunLoad(config));
//   std::fputs(FormatReportTable(config, report).c_str(), stdout);
//
// Timing: time to first token runs from just before the Generate request is
// written to the arrival of its first token event (it includes the prefill
// of the round's prompt); inter-token latency is the gap between two
// consecutive token events of one generation. Throughput is all generated
// tokens over the run's wall time (from the start to the end of the last
// call; the deletion of the streams that follows each call is inside that
// span unless it is the last thing a thread does).
//
// Threads: one per stream (the synchronous gRPC API), so N is meant for
// tens to a few hundred. Failure: RunLoad fails only when the run cannot
// start (Models.ListModels refused, no such model, a vocabulary under 2
// tokens, bad configuration: INVALID_ARGUMENT); failed calls during the run
// are counted in LoadReport::errors (RESOURCE_EXHAUSTED and friends are
// results, not failures).
#ifndef GANDER_BENCH_LOADGEN_LOAD_RUN_H_
#define GANDER_BENCH_LOADGEN_LOAD_RUN_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/loadgen/percentiles.h"
#include "cli/client/connection.h"
#include "gander/v1/sessions.pb.h"

namespace gander::bench {

struct LoadConfig {
  // Server, token, TLS; client.timeout bounds each stream's whole call.
  cli::client::ClientOptions client;
  // CreateTarget.tenant and .model; empty: the caller's / the only model.
  std::string tenant;
  std::string model;
  // Concurrent streams (threads), >= 1. Default 1.
  int streams = 1;
  // gRPC channels (connections) the streams are spread over, >= 1.
  // Default 1.
  int channels = 1;
  // Token ids appended per round, >= 1. Default 128.
  uint32_t prompt_tokens = 128;
  // Generate.max_tokens per round, >= 1. Default 128.
  uint32_t gen_tokens = 128;
  // Rounds per stream, >= 1. Default 1.
  int rounds = 1;
  // Zero: each thread runs one stream of `rounds` rounds. Positive: each
  // thread keeps opening new streams (of up to `rounds` rounds) until this
  // much time has passed; after it no stream opens and no round but a
  // stream's first starts.
  absl::Duration duration = absl::ZeroDuration();
  // Sampling temperature (0: greedy) and the streams' seed. The prompt ids
  // are drawn from a generator seeded by `seed` and the thread's index.
  float temperature = 0;
  uint64_t seed = 0;
  // Open options of every stream.
  v1::CheckpointPolicy checkpoint_policy = v1::CHECKPOINT_POLICY_UNSPECIFIED;
  uint32_t every_n_tokens = 0;
  v1::StateCodec codec = v1::STATE_CODEC_UNSPECIFIED;
  // How long each stream's call stays open after its last round (to hold
  // many streams open at once). Default: 0.
  absl::Duration hold = absl::ZeroDuration();
  // Keep the created streams; default: delete each one after its call.
  bool keep_streams = false;
  // Prefix of the created streams' ids ("<prefix>-<thread>-<n>"). Empty:
  // "loadgen-<random hex>".
  std::string id_prefix;
};

struct LoadReport {
  // The model used and its vocabulary size.
  std::string model;
  uint32_t vocab_size = 0;
  // Wall time of the run, seconds.
  double wall_seconds = 0;
  // Streams whose open succeeded (an Opened event arrived).
  uint64_t streams_opened = 0;
  // Generations that ended with generation_finished.
  uint64_t generations = 0;
  // Token events received (in every generation, finished or not).
  uint64_t generated_tokens = 0;
  // Prompt token ids sent.
  uint64_t prompt_tokens = 0;
  // Milliseconds.
  LatencySummary ttft_ms;
  LatencySummary itl_ms;
  // Failed calls by status code name ("RESOURCE_EXHAUSTED": 3); a failed
  // cleanup delete counts under "delete: CODE".
  std::map<std::string, uint64_t> errors;

  double TokensPerSecond() const {
    return wall_seconds > 0 ? static_cast<double>(generated_tokens) / wall_seconds : 0;
  }
};

// Checks `config` (INVALID_ARGUMENT naming the field), asks the server for
// the vocabulary size, and runs the load.
absl::StatusOr<LoadReport> RunLoad(const LoadConfig& config);

// The report as a two-column text table with a title line.
std::string FormatReportTable(const LoadConfig& config, const LoadReport& report);

// The report (and the configuration) as one JSON object.
std::string FormatReportJson(const LoadConfig& config, const LoadReport& report);

}  // namespace gander::bench

#endif  // GANDER_BENCH_LOADGEN_LOAD_RUN_H_
