// The forward pass as the scheduler sees it: where RWKV-7 runs (the CPU
// Model, or an accelerator backend such as engine/cuda) behind one call.
//
// A backend advances streams' RecurrentStates by running their tokens and
// returns each stream's last-token logits. Some backends keep a stream's
// state in device memory between calls (a "slot"): after Run, the host
// RecurrentState object may be stale until Sync or Release copies the
// device's version back. The RecurrentState object is the stream's identity
// for the backend: the caller must not read, change, move or destroy a
// state it has passed to Run until Release has returned for it (Sync makes
// it readable in between, without ending residency).
//
// The CPU Model keeps nothing: its Sync and Release do nothing.
//
// Thread safety: one thread at a time (the scheduler's loop).
//
// Example:
//   Backend* backend = model.get();             // or a CUDA backend
//   Backend::Segment segments[] = {{prompt, &state}};
//   RETURN_IF_ERROR(backend->Run(segments, absl::MakeSpan(logits)));
//   RETURN_IF_ERROR(backend->Release(&state));  // state is the host's again
#ifndef GANDER_ENGINE_BACKEND_H_
#define GANDER_ENGINE_BACKEND_H_

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/model_config.h"
#include "engine/recurrent_state.h"

namespace gander::engine {

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const ModelConfig& config() const = 0;
  // The weights' fingerprint (engine/weights/model_weights.h).
  virtual const std::string& fingerprint() const = 0;
  // A short name for logs and metrics ("cpu", "cuda").
  virtual const char* name() const = 0;
  // How the weights are held for the arithmetic: "fp32", "bf16" or "fp16".
  virtual const char* weight_dtype() const = 0;

  // S segments, each some tokens of one stream (a prefill chunk, or the one
  // token of a decode), run as one batch. Segment s's tokens [T_s] (T_s >= 1)
  // advance *states[s] (distinct states); logits [S, V] receive each
  // segment's last-token logits.
  // INVALID_ARGUMENT (no segments, an empty segment, a token outside
  // [0, V), a state of another shape, two segments with one state, a logits
  // span of the wrong size) before anything runs. Other errors (device
  // failures: INTERNAL, RESOURCE_EXHAUSTED) leave the states of the batch
  // unusable: Release then reports the loss instead of returning a state.
  struct Segment {
    absl::Span<const int> tokens;
    RecurrentState* state = nullptr;
  };
  virtual absl::Status Run(absl::Span<const Segment> segments, absl::Span<float> logits) = 0;

  // Makes *state's host memory current (copying it back from the device if
  // needed); the backend may keep using its device copy afterwards.
  virtual absl::Status Sync(RecurrentState* state) = 0;
  // Sync, then forget *state: the caller owns it fully again. A state the
  // backend does not hold is fine (OK, nothing done). On error (DATA_LOSS:
  // the device copy was lost by a failed Run; INTERNAL: the copy failed)
  // *state is forgotten anyway and its host memory is not current.
  virtual absl::Status Release(RecurrentState* state) = 0;
};

// INVALID_ARGUMENT unless 0 <= token < config.vocab.
absl::Status CheckTokenId(const ModelConfig& config, int token);
// INVALID_ARGUMENT for a null state or one shaped for another model.
absl::Status CheckStateShape(const ModelConfig& config, const RecurrentState* state);

// The argument checks every Backend::Run makes (see Run), for `config`.
absl::Status CheckRunArguments(const ModelConfig& config,
                               absl::Span<const Backend::Segment> segments,
                               absl::Span<const float> logits);

}  // namespace gander::engine

#endif  // GANDER_ENGINE_BACKEND_H_
