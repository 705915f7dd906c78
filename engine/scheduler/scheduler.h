// The scheduler: one loop that owns the Backend and runs every runnable
// stream's work in each engine step (continuous batching).
//
// A generation is submitted with the stream's StreamContext, lent to the
// scheduler until the generation's on_done callback has been called. The
// loop admits generations in arrival order into a running set of at most
// max_running; each engine step (Backend::Run) carries
//   - one decode row for every running generation past its prefill, and
//   - prefill chunks (at most prefill_chunk tokens of one stream each) of the
//     generations still consuming their input, as many as fit in
//     max_step_tokens,
// so a long prompt is consumed over several steps and never stalls the other
// streams' decoding. After the step each generation whose input is consumed
// samples its next token (Sampler), which is fed back in the next step.
//
// Determinism: the CPU Model's Run gives each stream bitwise the result it
// would get alone, and a prefill's chunking does not change its result, so
// a stream's tokens depend only on its own context, inputs and sampling
// settings, never on its batch neighbours or on timing.
//
// What a generation leaves in its StreamContext when it ends (for whatever
// reason): `state` has consumed every token fed so far, `token_count` counts
// them, `pending` holds what is not yet consumed (input a cancel interrupted,
// or the last sampled token, which the next generation feeds first) and
// `sampler` the sampler's position and penalty counts. Checkpointing that
// context and restoring it continues the stream exactly.
//
// Limits: Submit returns RESOURCE_EXHAUSTED when max_queued generations are
// already waiting for a running slot (never unbounded memory).
// Cancellation: GenerationHandle::Cancel (or the deadline) ends the
// generation at the next step boundary, also in the middle of its prefill.
//
// Thread safety: Submit, Cancel and stats are safe from any thread. The
// callbacks run on the loop thread, one at a time: they must be quick and
// must not call back into the scheduler except Cancel/stats.
#ifndef GANDER_ENGINE_SCHEDULER_SCHEDULER_H_
#define GANDER_ENGINE_SCHEDULER_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/backend.h"
#include "engine/recurrent_state.h"
#include "engine/sampler/sampler_state.h"
#include "engine/sampler/sampling_params.h"
#include "engine/sampler/stop_checker.h"
#include "engine/tokenizer/tokenizer.h"

namespace gander::engine {

// Everything that defines where a stream is. Owned by whoever holds the
// stream; lent to the scheduler for the duration of a generation.
struct StreamContext {
  RecurrentState state;
  SamplerState sampler;
  uint64_t token_count = 0;  // tokens consumed by `state`
  std::vector<int> pending;  // tokens not yet consumed, fed first by the next generation
};

struct SchedulerOptions {
  int max_running = 64;       // generations in the running set (rows of decode)
  int max_queued = 256;       // generations waiting for a running slot
  int max_step_tokens = 512;  // rows per engine step, decode and prefill together
  int prefill_chunk = 128;    // most tokens of one stream's prefill per step
  // Called on the loop thread after each engine step (for metrics).
  struct StepStats {
    int rows = 0;          // tokens run in the step
    int decode_rows = 0;   // of which single-token decodes
    int prefill_rows = 0;  // of which prefill tokens
    absl::Duration duration;
  };
  std::function<void(const StepStats&)> on_step;
};

// One generated token, as the loop reports it.
struct TokenEvent {
  int token = 0;
  uint64_t position = 0;  // tokens the stream had consumed before this one
  std::string text;       // UTF-8 text released with this token (may be empty)
  // Only when GenerationRequest::top_logprobs > 0: log-probability of the
  // token under softmax(penalized logits), and the top alternatives
  // (id, logprob), most likely first, ties to the lower id.
  std::optional<float> logprob;
  std::vector<std::pair<int, float>> top_logprobs;
};

enum class FinishReason { kStopToken, kStopString, kMaxTokens, kCancelled };

struct GenerationResult {
  // OK, or: DEADLINE_EXCEEDED (the deadline passed), CANCELLED (the
  // scheduler shut down), INTERNAL (an engine failure).
  absl::Status status;
  FinishReason reason = FinishReason::kCancelled;  // meaningful when status is OK
  int generated = 0;                               // tokens sampled (a stop token included)
  std::string trailing_text;                       // text released at the end (held-back bytes)
};

struct GenerationRequest {
  // Lent until on_done returns; must not be touched by anyone else meanwhile.
  // Its `pending` must not be empty (the first token to feed).
  StreamContext* context = nullptr;
  SamplingParams params;  // validated; max_tokens must be > 0
  int top_logprobs = 0;   // 0..20
  absl::Time deadline = absl::InfiniteFuture();
  // Every `snapshot_every` generated tokens (0: never), on_snapshot gets a
  // copy of the context as it stands between two steps (a consistent point
  // to checkpoint).
  int snapshot_every = 0;
  std::function<void(StreamContext)> on_snapshot;
  std::function<void(TokenEvent)> on_token;
  std::function<void(GenerationResult)> on_done;  // exactly once
};

// Refers to one submitted generation.
class GenerationHandle {
 public:
  // Ends the generation at the next step boundary with kCancelled (no-op
  // once it has ended).
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

class Scheduler {
 public:
  // Starts the loop. The backend (and tokenizer, which may be null: then no
  // text is produced and stop strings are rejected) are not owned and must
  // outlive the scheduler. INVALID_ARGUMENT for options out of range.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(Backend* backend,
                                                           const Tokenizer* tokenizer,
                                                           SchedulerOptions options);
  // Stops the loop; generations still queued or running end with CANCELLED.
  ~Scheduler();

  // Queues a generation. INVALID_ARGUMENT (bad request: null context, empty
  // pending input, a token outside the vocabulary, bad params),
  // RESOURCE_EXHAUSTED (the queue is full), FAILED_PRECONDITION (stop
  // strings without a tokenizer). On error nothing is queued and no callback
  // will run.
  absl::StatusOr<std::shared_ptr<GenerationHandle>> Submit(GenerationRequest request);

  struct Stats {
    int queued = 0;   // waiting for a running slot
    int running = 0;  // in the running set
  };
  Stats stats() const;

  const Backend& backend() const { return *backend_; }

 private:
  struct Job;
  Scheduler(Backend* backend, const Tokenizer* tokenizer, SchedulerOptions options);
  void Loop();
  // Runs one engine step over the running generations; ends those that
  // finish (removing them from `running`).
  void Step(std::vector<std::shared_ptr<Job>>& running);
  // Ends a generation: hands its context back (the backend releases the
  // state) and calls on_done.
  void Finish(Job& job, absl::Status status, FinishReason reason, std::string trailing);

  Backend* backend_;
  const Tokenizer* tokenizer_;
  SchedulerOptions options_;
  struct Shared;
  std::unique_ptr<Shared> shared_;
};

}  // namespace gander::engine

#endif  // GANDER_ENGINE_SCHEDULER_SCHEDULER_H_
