#include "engine/scheduler/scheduler.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/sampler/penalties.h"
#include "engine/sampler/sampler.h"

namespace gander::engine {

struct Scheduler::Job {
  GenerationRequest request;
  std::shared_ptr<GenerationHandle> handle;
  std::optional<Sampler> sampler;
  std::optional<StopChecker> stop;
  std::optional<StreamingDetokenizer> detokenizer;
  // Tokens of context->pending consumed by this generation's prefill so far.
  size_t prefilled = 0;
  bool decoding = false;  // the prefill is done; `feed` is the last sampled token
  int feed = 0;
  int generated = 0;
};

struct Scheduler::Shared {
  mutable absl::Mutex mu;
  std::deque<std::shared_ptr<Job>> queue ABSL_GUARDED_BY(mu);
  int running ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::thread loop;
};

namespace {

// The status of a generation whose state the backend could not hand back.
absl::Status StateLost(const absl::Status& release) {
  return absl::InternalError(absl::StrCat(
      "the stream's state could not be taken back from the backend: ", release.ToString()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(Backend* backend,
                                                             const Tokenizer* tokenizer,
                                                             SchedulerOptions options) {
  if (backend == nullptr) return absl::InvalidArgumentError("no backend");
  if (options.max_running < 1 || options.max_queued < 0 || options.prefill_chunk < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_running (", options.max_running, ") and prefill_chunk (", options.prefill_chunk,
        ") must be >= 1, max_queued (", options.max_queued, ") >= 0"));
  }
  // Every step must fit a decode row for each running stream and one whole
  // prefill chunk, so prefills always progress.
  if (options.max_step_tokens < options.max_running + options.prefill_chunk) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_step_tokens (", options.max_step_tokens,
                     ") must be at least max_running + prefill_chunk (",
                     options.max_running + options.prefill_chunk, ")"));
  }
  std::unique_ptr<Scheduler> scheduler(new Scheduler(backend, tokenizer, std::move(options)));
  scheduler->shared_->loop = std::thread([s = scheduler.get()] { s->Loop(); });
  return scheduler;
}

Scheduler::Scheduler(Backend* backend, const Tokenizer* tokenizer, SchedulerOptions options)
    : backend_(backend),
      tokenizer_(tokenizer),
      options_(std::move(options)),
      shared_(std::make_unique<Shared>()) {}

Scheduler::~Scheduler() {
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->stopping = true;
  }
  shared_->loop.join();
}

absl::StatusOr<std::shared_ptr<GenerationHandle>> Scheduler::Submit(GenerationRequest request) {
  const ModelConfig& config = backend_->config();
  if (request.context == nullptr) return absl::InvalidArgumentError("no stream context");
  if (request.context->pending.empty()) {
    return absl::InvalidArgumentError("nothing to generate from: the stream has no pending input");
  }
  for (int token : request.context->pending) {
    if (token < 0 || token >= config.vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", token, " is outside the vocabulary [0, ", config.vocab, ")"));
    }
  }
  if (request.context->state.floats().size() != config.StateFloats()) {
    return absl::InvalidArgumentError("the stream's state is shaped for another model");
  }
  if (request.params.max_tokens <= 0) {
    return absl::InvalidArgumentError("max_tokens must be > 0");
  }
  if (request.top_logprobs < 0 || request.top_logprobs > 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_logprobs must be in [0, 20], got ", request.top_logprobs));
  }
  if (!request.params.stop_strings.empty() && tokenizer_ == nullptr) {
    return absl::FailedPreconditionError("stop strings need a model served with a vocabulary");
  }
  if (!request.on_token || !request.on_done) {
    return absl::InvalidArgumentError("on_token and on_done are required");
  }
  absl::StatusOr<Sampler> sampler =
      Sampler::Create(request.params, config.vocab, request.context->sampler);
  if (!sampler.ok()) return sampler.status();

  auto job = std::make_shared<Job>();
  job->handle = std::make_shared<GenerationHandle>();
  job->sampler.emplace(*std::move(sampler));
  job->stop.emplace(request.params);
  if (tokenizer_ != nullptr) job->detokenizer.emplace(tokenizer_);
  job->request = std::move(request);
  std::shared_ptr<GenerationHandle> handle = job->handle;

  absl::MutexLock lock(&shared_->mu);
  if (shared_->stopping) return absl::UnavailableError("the scheduler is shutting down");
  if (shared_->running + static_cast<int>(shared_->queue.size()) >=
      options_.max_running + options_.max_queued) {
    return absl::ResourceExhaustedError(absl::StrCat("the worker's generation queue is full (",
                                                     shared_->queue.size(), " waiting, ",
                                                     shared_->running, " running); retry later"));
  }
  shared_->queue.push_back(std::move(job));
  return handle;
}

Scheduler::Stats Scheduler::stats() const {
  absl::MutexLock lock(&shared_->mu);
  return {static_cast<int>(shared_->queue.size()), shared_->running};
}

namespace {

// Log-softmax of the penalized logits at `token`, plus the top `k`.
void FillLogprobs(const SamplingParams& params, const SamplerState& before,
                  absl::Span<const float> logits, int token, int k, TokenEvent* event) {
  std::vector<float> penalized(logits.begin(), logits.end());
  for (float& x : penalized) {
    if (std::isnan(x)) x = -std::numeric_limits<float>::infinity();
  }
  ApplyPenalties(params, before.counts, absl::MakeSpan(penalized));
  const float max = *std::max_element(penalized.begin(), penalized.end());
  double sum = 0;
  for (float x : penalized) sum += std::exp(static_cast<double>(x) - max);
  const double log_z = max + std::log(sum);
  auto logprob = [&](int id) { return static_cast<float>(penalized[id] - log_z); };
  event->logprob = logprob(token);
  std::vector<int> ids(penalized.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
  k = std::min<int>(k, static_cast<int>(ids.size()));
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int a, int b) {
    return penalized[a] != penalized[b] ? penalized[a] > penalized[b] : a < b;
  });
  for (int i = 0; i < k; ++i) event->top_logprobs.emplace_back(ids[i], logprob(ids[i]));
}

FinishReason FromStopReason(StopReason reason) {
  switch (reason) {
    case StopReason::kStopToken:
      return FinishReason::kStopToken;
    case StopReason::kStopString:
      return FinishReason::kStopString;
    default:
      return FinishReason::kMaxTokens;
  }
}

}  // namespace

void Scheduler::Loop() {
  std::vector<std::shared_ptr<Job>> running;
  for (;;) {
    {
      absl::MutexLock lock(&shared_->mu);
      if (running.empty()) {
        // Sleep until there is work or we are told to stop; wake now and
        // then to notice nothing is lost (Cancel does not signal).
        shared_->mu.AwaitWithTimeout(absl::Condition(
                                         +[](Shared* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
                                           return s->stopping || !s->queue.empty();
                                         },
                                         shared_.get()),
                                     absl::Milliseconds(100));
      }
      if (shared_->stopping) {
        for (auto& job : shared_->queue) running.push_back(std::move(job));
        shared_->queue.clear();
        shared_->running = 0;
        break;
      }
      while (static_cast<int>(running.size()) < options_.max_running && !shared_->queue.empty()) {
        running.push_back(std::move(shared_->queue.front()));
        shared_->queue.pop_front();
      }
      shared_->running = static_cast<int>(running.size());
    }
    if (!running.empty()) {
      Step(running);
      absl::MutexLock lock(&shared_->mu);
      shared_->running = static_cast<int>(running.size());
    }
  }
  for (auto& job : running) {
    Finish(*job, absl::CancelledError("the worker is shutting down"), FinishReason::kCancelled, "");
  }
}

// Ends `job` (already out of the running set) and hands its context back.
void Scheduler::Finish(Job& job, absl::Status status, FinishReason reason, std::string trailing) {
  StreamContext* context = job.request.context;
  if (!job.decoding) {
    context->pending.erase(context->pending.begin(),
                           context->pending.begin() + static_cast<long>(job.prefilled));
  } else if (job.generated > 0) {
    context->pending = {job.feed};
  }
  context->sampler = job.sampler->state();
  GenerationResult result;
  result.status = std::move(status);
  // The state is the owner's again; a backend that cannot give it back
  // fails the generation (the context must not be checkpointed).
  if (absl::Status released = backend_->Release(&context->state); !released.ok()) {
    result.status = StateLost(released);
  }
  result.reason = reason;
  result.generated = job.generated;
  if (result.status.ok()) {
    trailing += job.stop->Flush();
    if (job.detokenizer) trailing += job.detokenizer->Flush();
  }
  result.trailing_text = std::move(trailing);
  job.request.on_done(std::move(result));
}

void Scheduler::Step(std::vector<std::shared_ptr<Job>>& running) {
  const int vocab = backend_->config().vocab;
  const absl::Time now = absl::Now();

  // Cancelled and expired generations leave before the step.
  for (size_t i = 0; i < running.size();) {
    Job& job = *running[i];
    if (job.handle->cancelled() || now >= job.request.deadline) {
      std::shared_ptr<Job> keep = std::move(running[i]);
      running.erase(running.begin() + static_cast<long>(i));
      if (keep->handle->cancelled()) {
        Finish(*keep, absl::OkStatus(), FinishReason::kCancelled, "");
      } else {
        Finish(*keep, absl::DeadlineExceededError("the generation's deadline passed"),
               FinishReason::kCancelled, "");
      }
      continue;
    }
    ++i;
  }
  if (running.empty()) return;

  // Decode rows first (one per generation past its prefill), then prefill
  // chunks in admission order while they fit.
  std::vector<Backend::Segment> segments;
  std::vector<Job*> segment_jobs;
  std::vector<bool> completes_prefill;
  int rows = 0, decode_rows = 0;
  for (auto& job : running) {
    if (!job->decoding) continue;
    segments.push_back({absl::MakeConstSpan(&job->feed, 1), &job->request.context->state});
    segment_jobs.push_back(job.get());
    completes_prefill.push_back(false);
    ++rows;
  }
  decode_rows = rows;
  for (auto& job : running) {
    if (job->decoding) continue;
    const std::vector<int>& pending = job->request.context->pending;
    const size_t left = pending.size() - job->prefilled;
    const int chunk = static_cast<int>(std::min<size_t>(left, options_.prefill_chunk));
    if (rows + chunk > options_.max_step_tokens) break;
    segments.push_back({absl::MakeConstSpan(pending).subspan(job->prefilled, chunk),
                        &job->request.context->state});
    segment_jobs.push_back(job.get());
    completes_prefill.push_back(static_cast<size_t>(chunk) == left);
    rows += chunk;
  }

  std::vector<float> logits(segments.size() * static_cast<size_t>(vocab));
  const absl::Time start = absl::Now();
  absl::Status run = backend_->Run(segments, absl::MakeSpan(logits));
  if (options_.on_step) {
    options_.on_step({rows, decode_rows, rows - decode_rows, absl::Now() - start});
  }
  if (!run.ok()) {
    // Arguments were validated at Submit; a failure here is a bug. Nothing
    // was applied, so every generation of the step ends cleanly.
    for (Job* job : segment_jobs) job->handle->Cancel();
    std::vector<std::shared_ptr<Job>> failed;
    for (size_t i = 0; i < running.size();) {
      if (running[i]->handle->cancelled()) {
        failed.push_back(std::move(running[i]));
        running.erase(running.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
    for (auto& job : failed) {
      Finish(*job, absl::InternalError(absl::StrCat("engine step failed: ", run.message())),
             FinishReason::kCancelled, "");
    }
    return;
  }

  std::vector<Job*> finished_jobs;
  for (size_t s = 0; s < segments.size(); ++s) {
    Job& job = *segment_jobs[s];
    StreamContext* context = job.request.context;
    context->token_count += segments[s].tokens.size();
    if (!job.decoding) {
      job.prefilled += segments[s].tokens.size();
      if (!completes_prefill[s]) continue;
      context->pending.clear();
      job.prefilled = 0;
      job.decoding = true;
    }
    const absl::Span<const float> row = absl::MakeConstSpan(logits).subspan(s * vocab, vocab);
    TokenEvent event;
    const SamplerState before =
        job.request.top_logprobs > 0 ? job.sampler->state() : SamplerState();
    absl::StatusOr<int> token = job.sampler->Next(row);
    if (!token.ok()) {
      // Every token has -inf logit after penalties: nothing can be drawn.
      finished_jobs.push_back(&job);
      continue;
    }
    if (job.request.top_logprobs > 0) {
      FillLogprobs(job.request.params, before, row, *token, job.request.top_logprobs, &event);
    }
    event.token = *token;
    event.position = context->token_count;
    std::string piece;
    if (job.detokenizer) {
      absl::StatusOr<std::string> decoded = job.detokenizer->Push(*token);
      if (decoded.ok()) piece = *std::move(decoded);
    }
    StopReason reason = StopReason::kNone;
    event.text = job.stop->Push(*token, piece, &reason);
    job.feed = *token;
    ++job.generated;
    job.request.on_token(std::move(event));
    if (reason != StopReason::kNone) {
      finished_jobs.push_back(&job);
      continue;
    }
    if (job.request.snapshot_every > 0 && job.request.on_snapshot &&
        job.generated % job.request.snapshot_every == 0 && backend_->Sync(&context->state).ok()) {
      // A failed Sync skips the snapshot; the generation's end reports it.
      StreamContext copy = *context;
      copy.pending = {job.feed};
      copy.sampler = job.sampler->state();
      job.request.on_snapshot(std::move(copy));
    }
  }

  for (Job* done : finished_jobs) {
    auto it = std::find_if(running.begin(), running.end(),
                           [done](const std::shared_ptr<Job>& j) { return j.get() == done; });
    std::shared_ptr<Job> keep = std::move(*it);
    running.erase(it);
    const StopReason reason = keep->stop->stop_reason();
    if (reason == StopReason::kNone) {
      Finish(*keep,
             absl::FailedPreconditionError(
                 "no token can be sampled: every logit is -inf after penalties"),
             FinishReason::kCancelled, "");
    } else {
      Finish(*keep, absl::OkStatus(), FromStopReason(reason), "");
    }
  }
}

}  // namespace gander::engine
