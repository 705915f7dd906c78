// An RWKV-7 (x070) model ready to run on the CPU: its weights, and the
// forward pass over one or many streams' recurrent states.
//
// Three ways in, one computation (so they agree to float32 rounding):
//   Step:        one token of one stream                     (T = 1, B = 1)
//   Prefill:     T tokens of one stream; the projections of all T tokens are
//                matrix products, only the state update is sequential in T
//   DecodeBatch: one token for each of B streams, each with its own state
//
// Activations and the recurrent state are float32; weights are bf16 or fp32
// as loaded (engine/weights/model_weights.h).
//
// Thread safety: a Model is used by one thread at a time (it owns scratch
// buffers and a thread pool that spreads each call over all cores). Use one
// Model per scheduler loop.
//
// Failure: every call validates its arguments first and returns
// INVALID_ARGUMENT (token id outside [0, V), empty input, wrong output size,
// a state shaped for another model) without touching any state.
//
// Example:
//   auto model = Model::Load("rwkv7.pth", {.type = WeightType::kBF16});
//   RecurrentState state = (*model)->NewState();
//   std::vector<float> logits((*model)->config().vocab);
//   absl::Status s = (*model)->Prefill({510, 33, 2}, &state, absl::MakeSpan(logits));
#ifndef GANDER_ENGINE_MODEL_H_
#define GANDER_ENGINE_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/recurrent_state.h"
#include "engine/weights/model_weights.h"

namespace gander::kernels::cpu {
class ThreadPool;
}

namespace gander::engine {

class Model : public Backend {
 public:
  // Takes the weights. threads = 0 uses every core.
  static absl::StatusOr<std::unique_ptr<Model>> Create(ModelWeights weights, int threads = 0);
  // LoadModelWeights(path, options), then Create.
  static absl::StatusOr<std::unique_ptr<Model>> Load(const std::string& path,
                                                     const LoadOptions& options = {},
                                                     int threads = 0);
  ~Model() override;

  const ModelConfig& config() const override { return weights_.config; }
  const ModelWeights& weights() const { return weights_; }
  const std::string& fingerprint() const override { return weights_.fingerprint; }
  const char* name() const override { return "cpu"; }
  const char* weight_dtype() const override {
    return weights_.type == WeightType::kBF16 ? "bf16" : "fp32";
  }

  // A fresh stream's state (all zeros).
  RecurrentState NewState() const { return RecurrentState(config()); }

  // Runs one token through `state`; logits [V].
  absl::Status Step(int token, RecurrentState* state, absl::Span<float> logits);

  // Runs tokens [T] (T >= 1) through `state`. logits is [V] (the last
  // token's) or, with all_logits, [T, V] (every position's).
  absl::Status Prefill(absl::Span<const int> tokens, RecurrentState* state,
                       absl::Span<float> logits, bool all_logits = false);

  // One token for each of B streams: tokens [B], states [B] (distinct),
  // logits [B, V].
  absl::Status DecodeBatch(absl::Span<const int> tokens, absl::Span<RecurrentState* const> states,
                           absl::Span<float> logits);

  // The general step of a scheduler (Backend::Run). Each stream's result is
  // bitwise what Prefill/DecodeBatch give it alone: the kernels never mix
  // rows of different streams.
  absl::Status Run(absl::Span<const Segment> segments, absl::Span<float> logits) override;

  // States live in host memory only: nothing to copy back.
  absl::Status Sync(RecurrentState*) override { return absl::OkStatus(); }
  absl::Status Release(RecurrentState*) override { return absl::OkStatus(); }

 private:
  Model(ModelWeights weights, int threads);

  // The computation behind all three calls. Row r carries tokens[r] for
  // states[r]; consecutive rows with the same state are one stream's
  // consecutive tokens. Writes logits [rows_with_logits, V] for rows r with
  // want_logits[r]. Arguments are already validated.
  void Forward(absl::Span<const int> tokens, absl::Span<RecurrentState* const> states,
               const std::vector<bool>& want_logits, float* logits);

  ModelWeights weights_;
  std::unique_ptr<kernels::cpu::ThreadPool> pool_;
  // Scratch, grown to the largest row count seen: [rows, width] float32.
  struct Scratch;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace gander::engine

#endif  // GANDER_ENGINE_MODEL_H_
