#include "bench/loadgen/load_run.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "cli/client/table.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "gander/v1/models.grpc.pb.h"
#include "gander/v1/sessions.grpc.pb.h"
#include "gander/v1/streams.grpc.pb.h"

namespace gander::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Milliseconds(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// What one thread measured.
struct WorkerStats {
  uint64_t streams_opened = 0;
  uint64_t generations = 0;
  uint64_t generated_tokens = 0;
  uint64_t prompt_tokens = 0;
  std::vector<double> ttft_ms;
  std::vector<double> itl_ms;
  std::map<std::string, uint64_t> errors;
  // When the thread's last call ended (before its stream was deleted).
  Clock::time_point last_call_end;
};

// A generator seed from the run's seed and a thread's index (SplitMix64
// finalizer over their combination), so threads draw different prompts and
// the same run seed draws the same ones.
uint64_t MixSeed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

absl::Status CheckConfig(const LoadConfig& c) {
  if (c.streams < 1) return absl::InvalidArgumentError("--streams must be >= 1");
  if (c.channels < 1) return absl::InvalidArgumentError("--channels must be >= 1");
  if (c.prompt_tokens < 1) return absl::InvalidArgumentError("--prompt-tokens must be >= 1");
  if (c.gen_tokens < 1) return absl::InvalidArgumentError("--gen-tokens must be >= 1");
  if (c.rounds < 1) return absl::InvalidArgumentError("--rounds must be >= 1");
  if (c.duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must not be negative");
  }
  if (!(c.temperature >= 0)) return absl::InvalidArgumentError("--temperature must be >= 0");
  return absl::OkStatus();
}

// The model to load and its vocabulary size, from Models.ListModels.
absl::Status ResolveModel(const std::shared_ptr<grpc::Channel>& channel, const LoadConfig& config,
                          LoadReport* report) {
  std::unique_ptr<v1::Models::Stub> stub = v1::Models::NewStub(channel);
  grpc::ClientContext context;
  cli::client::PrepareContext(config.client, "", &context);
  v1::ListModelsResponse response;
  GANDER_RETURN_IF_ERROR(
      FromGrpcStatus(stub->ListModels(&context, v1::ListModelsRequest(), &response)));
  const v1::ModelInfo* chosen = nullptr;
  for (const v1::ModelInfo& model : response.models()) {
    if (config.model.empty() || model.name() == config.model) {
      if (chosen != nullptr && config.model.empty()) {
        return absl::InvalidArgumentError(
            "the server serves several models: choose one with --model");
      }
      chosen = &model;
    }
  }
  if (chosen == nullptr) {
    return absl::NotFoundError(config.model.empty()
                                   ? std::string("the server serves no model")
                                   : absl::StrCat("the server has no model '", config.model, "'"));
  }
  if (chosen->vocab_size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", chosen->name(), "' has a vocabulary of ", chosen->vocab_size(), " tokens"));
  }
  report->model = chosen->name();
  report->vocab_size = chosen->vocab_size();
  return absl::OkStatus();
}

// One thread's work: streams of rounds, until done.
class Worker {
 public:
  Worker(const LoadConfig& config, const std::shared_ptr<grpc::Channel>& channel,
         uint32_t vocab_size, int index, std::string id_prefix, Clock::time_point end)
      : config_(config),
        sessions_(v1::Sessions::NewStub(channel)),
        streams_(v1::Streams::NewStub(channel)),
        vocab_size_(vocab_size),
        index_(index),
        id_prefix_(std::move(id_prefix)),
        end_(end),
        rng_(MixSeed(config.seed, static_cast<uint64_t>(index))) {}

  void Run() {
    const bool timed = config_.duration > absl::ZeroDuration();
    for (int n = 0;; ++n) {
      if (timed && Clock::now() >= end_) break;
      const absl::Status status = RunStream(absl::StrCat(id_prefix_, "-", index_, "-", n));
      if (!timed) break;
      if (!status.ok()) {
        // Back off a little after a refusal so a full server is not spun on.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  const WorkerStats& Stats() const { return stats_; }

 private:
  // One stream's call; returns (and counts) its final status.
  absl::Status RunStream(const std::string& id) {
    grpc::ClientContext context;
    cli::client::PrepareContext(config_.client, id, &context);
    auto call = sessions_->Stream(&context);
    bool opened = false;
    bool completed = false;
    absl::Status local = Drive(*call, id, &opened, &completed);
    if (!local.ok()) {
      context.TryCancel();
      v1::StreamResponse ignored;
      while (call->Read(&ignored)) {
      }
    } else {
      call->WritesDone();
      v1::StreamResponse response;
      while (call->Read(&response)) {
      }
    }
    absl::Status status = cli::client::FinishAfterReads([&] { return call->Finish(); }, &context);
    stats_.last_call_end = Clock::now();
    if (!local.ok()) {
      status = local;
    } else if (status.ok() && !completed) {
      status = absl::InternalError("protocol error: the call ended OK before its rounds did");
    }
    if (!status.ok()) ++stats_.errors[CodeName(status.code())];
    if (opened && !config_.keep_streams) Delete(id);
    return status;
  }

  // Opens the stream and runs its rounds; *completed tells whether they
  // all ran. A broken call returns OK early (Finish tells why); a protocol
  // violation returns INTERNAL.
  absl::Status Drive(grpc::ClientReaderWriterInterface<v1::StreamRequest, v1::StreamResponse>& call,
                     const std::string& id, bool* opened, bool* completed) {
    const bool timed = config_.duration > absl::ZeroDuration();
    v1::StreamRequest request;
    v1::Open* open = request.mutable_open();
    open->mutable_create()->set_model(config_.model);
    open->mutable_create()->set_tenant(config_.tenant);
    open->mutable_create()->set_stream_id(id);
    open->set_seed(config_.seed);
    open->set_checkpoint_policy(config_.checkpoint_policy);
    open->set_every_n_tokens(config_.every_n_tokens);
    open->set_codec(config_.codec);
    if (!call.Write(request)) return absl::OkStatus();
    v1::StreamResponse response;
    if (!call.Read(&response)) return absl::OkStatus();
    if (!response.has_opened()) {
      return absl::InternalError("protocol error: the first event is not opened");
    }
    *opened = true;
    ++stats_.streams_opened;

    std::uniform_int_distribution<uint32_t> token(1, vocab_size_ - 1);
    for (int round = 0; round < config_.rounds; ++round) {
      // A stream opened before the end runs at least its first round.
      if (timed && round > 0 && Clock::now() >= end_) break;
      request.Clear();
      v1::TokenIds* ids = request.mutable_append_input()->mutable_token_ids();
      for (uint32_t i = 0; i < config_.prompt_tokens; ++i) ids->add_ids(token(rng_));
      if (!call.Write(request)) return absl::OkStatus();
      stats_.prompt_tokens += config_.prompt_tokens;
      request.Clear();
      request.mutable_generate()->set_max_tokens(config_.gen_tokens);
      request.mutable_generate()->mutable_sampling()->set_temperature(config_.temperature);
      const Clock::time_point sent = Clock::now();
      if (!call.Write(request)) return absl::OkStatus();
      Clock::time_point last = sent;
      bool first = true;
      while (true) {
        if (!call.Read(&response)) return absl::OkStatus();
        if (response.has_token()) {
          const Clock::time_point now = Clock::now();
          (first ? stats_.ttft_ms : stats_.itl_ms).push_back(Milliseconds(now - last));
          first = false;
          last = now;
          ++stats_.generated_tokens;
        } else if (response.has_generation_finished()) {
          ++stats_.generations;
          break;
        } else if (response.has_opened()) {
          return absl::InternalError("protocol error: a second opened event");
        }
        // input_appended and checkpointed: nothing to measure.
      }
    }
    // Keep the call (and so the stream) open a while, to have many streams
    // open at once.
    if (config_.hold > absl::ZeroDuration()) absl::SleepFor(config_.hold);
    *completed = true;
    return absl::OkStatus();
  }

  void Delete(const std::string& id) {
    cli::client::ClientOptions options = config_.client;
    options.timeout = absl::Seconds(30);
    grpc::ClientContext context;
    cli::client::PrepareContext(options, id, &context);
    v1::DeleteStreamRequest request;
    request.set_stream_id(id);
    v1::DeleteStreamResponse response;
    const grpc::Status status = streams_->DeleteStream(&context, request, &response);
    if (!status.ok()) {
      ++stats_.errors[absl::StrCat("delete: ",
                                   CodeName(static_cast<absl::StatusCode>(status.error_code())))];
    }
  }

  const LoadConfig& config_;
  std::unique_ptr<v1::Sessions::Stub> sessions_;
  std::unique_ptr<v1::Streams::Stub> streams_;
  const uint32_t vocab_size_;
  const int index_;
  const std::string id_prefix_;
  const Clock::time_point end_;
  std::mt19937_64 rng_;
  WorkerStats stats_;
};

std::string JsonEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

std::string JsonSummary(const LatencySummary& s) {
  if (s.count == 0) {
    return "{\"count\": 0, \"p50\": null, \"p99\": null, \"max\": null, \"mean\": null}";
  }
  return absl::StrFormat(R"({"count": %d, "p50": %.4f, "p99": %.4f, "max": %.4f, "mean": %.4f})",
                         s.count, s.p50, s.p99, s.max, s.mean);
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(const LoadConfig& config) {
  GANDER_RETURN_IF_ERROR(CheckConfig(config));
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < config.channels; ++i) {
    grpc::ChannelArguments arguments;
    // A distinct argument per channel gives each its own connection.
    arguments.SetInt("gander.loadgen.channel", i);
    GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                            cli::client::MakeChannel(config.client, arguments));
    channels.push_back(std::move(channel));
  }
  LoadReport report;
  GANDER_RETURN_IF_ERROR(ResolveModel(channels[0], config, &report));
  std::string prefix = config.id_prefix;
  if (prefix.empty()) {
    absl::BitGen gen;
    prefix = absl::StrFormat("loadgen-%08x", absl::Uniform<uint32_t>(gen));
  }

  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + absl::ToChronoNanoseconds(
                  config.duration > absl::ZeroDuration() ? config.duration : absl::ZeroDuration());
  std::vector<std::unique_ptr<Worker>> workers;
  workers.reserve(config.streams);
  for (int i = 0; i < config.streams; ++i) {
    workers.push_back(std::make_unique<Worker>(config, channels[i % channels.size()],
                                               report.vocab_size, i, prefix, end));
  }
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& worker : workers) threads.emplace_back([w = worker.get()] { w->Run(); });
  for (std::thread& thread : threads) thread.join();
  Clock::time_point last = start;
  for (const auto& worker : workers) last = std::max(last, worker->Stats().last_call_end);
  report.wall_seconds = std::chrono::duration<double>(last - start).count();

  std::vector<double> ttft, itl;
  for (const auto& worker : workers) {
    const WorkerStats& s = worker->Stats();
    report.streams_opened += s.streams_opened;
    report.generations += s.generations;
    report.generated_tokens += s.generated_tokens;
    report.prompt_tokens += s.prompt_tokens;
    ttft.insert(ttft.end(), s.ttft_ms.begin(), s.ttft_ms.end());
    itl.insert(itl.end(), s.itl_ms.begin(), s.itl_ms.end());
    for (const auto& [code, count] : s.errors) report.errors[code] += count;
  }
  report.ttft_ms = Summarize(std::move(ttft));
  report.itl_ms = Summarize(std::move(itl));
  return report;
}

std::string FormatReportTable(const LoadConfig& config, const LoadReport& report) {
  auto ms = [](const LatencySummary& s, bool with_max) {
    if (s.count == 0) return std::string("-");
    std::string text = absl::StrFormat("p50 %.2f  p99 %.2f", s.p50, s.p99);
    if (with_max) absl::StrAppend(&text, absl::StrFormat("  max %.2f", s.max));
    absl::StrAppend(&text, absl::StrFormat("  (n=%d)", s.count));
    return text;
  };
  std::string errors;
  for (const auto& [code, count] : report.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : ", ", code, " ", count);
  }
  std::string title = absl::StrFormat(
      "gander_loadgen: %d streams x %d rounds, prompt %u tokens, generate %u tokens, "
      "model %s (vocab %u)",
      config.streams, config.rounds, config.prompt_tokens, config.gen_tokens, report.model,
      report.vocab_size);
  if (config.duration > absl::ZeroDuration()) {
    absl::StrAppend(&title, ", for ", absl::FormatDuration(config.duration));
  }
  return absl::StrCat(
      title, "\n",
      cli::client::FormatTable(
          {"wall time", absl::StrFormat("%.3f s", report.wall_seconds)},
          {{"streams opened", absl::StrCat(report.streams_opened)},
           {"generations", absl::StrCat(report.generations)},
           {"prompt tokens sent", absl::StrCat(report.prompt_tokens)},
           {"generated tokens", absl::StrCat(report.generated_tokens)},
           {"throughput", absl::StrFormat("%.1f tokens/s", report.TokensPerSecond())},
           {"time to first token (ms)", ms(report.ttft_ms, /*with_max=*/false)},
           {"inter-token latency (ms)", ms(report.itl_ms, /*with_max=*/true)},
           {"errors", errors.empty() ? "none" : errors}}));
}

std::string FormatReportJson(const LoadConfig& config, const LoadReport& report) {
  std::string errors;
  for (const auto& [code, count] : report.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : ", ", "\"", JsonEscape(code), "\": ", count);
  }
  return absl::StrCat(
      "{\n",
      absl::StrFormat(
          "  \"config\": {\"server\": \"%s\", \"streams\": %d, \"channels\": %d, "
          "\"prompt_tokens\": %u, \"gen_tokens\": %u, \"rounds\": %d, \"duration_s\": %.3f, "
          "\"temperature\": %.4f, \"seed\": %u},\n",
          JsonEscape(config.client.server), config.streams, config.channels, config.prompt_tokens,
          config.gen_tokens, config.rounds, absl::ToDoubleSeconds(config.duration),
          config.temperature, config.seed),
      absl::StrFormat("  \"model\": \"%s\", \"vocab_size\": %u,\n", JsonEscape(report.model),
                      report.vocab_size),
      absl::StrFormat("  \"wall_s\": %.4f, \"streams_opened\": %u, \"generations\": %u, "
                      "\"prompt_tokens\": %u, \"generated_tokens\": %u, \"tokens_per_s\": %.3f,\n",
                      report.wall_seconds, report.streams_opened, report.generations,
                      report.prompt_tokens, report.generated_tokens, report.TokensPerSecond()),
      "  \"ttft_ms\": ", JsonSummary(report.ttft_ms), ",\n",  //
      "  \"itl_ms\": ", JsonSummary(report.itl_ms), ",\n",    //
      "  \"errors\": {", errors, "}\n}\n");
}

}  // namespace gander::bench
