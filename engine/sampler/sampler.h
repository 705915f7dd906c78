// Draws each next token of one stream from the model's logits, according to
// the stream's SamplingParams, deterministically: the token drawn at step n
// is a function of (params, logits, the tokens sampled before, n) only.
//
// One step (Next), on logits [V] float32:
//   1. NaN logits are treated as -inf; +inf logits as the largest finite
//      float (so several +inf tokens share the mass equally); -0 as +0.
//   2. Penalties (penalties.h) for tokens with a positive count.
//   3. Tokens still at -inf can never be drawn; if that is every token, the
//      step fails with FAILED_PRECONDITION.
//   4. temperature == 0 or top_k == 1: greedy, the highest logit wins, ties
//      to the lowest id.
//   5. Otherwise weights w[t] = exp((logit[t] - max) / temperature) (so the
//      most likely token has weight 1), then, in this order:
//        top_k: keep the top_k tokens by (logit desc, id asc);
//        top_p: keep the shortest prefix, in (logit desc, id asc) order, of
//               the remaining tokens whose weights, added in that order,
//               reach top_p times their total weight;
//        min_p: keep tokens with w[t] >= min_p.
//      Ordering by logit is ordering by probability (exp is monotone), with
//      ties broken by the lower id; a filter that keeps everything is
//      exactly a no-op (top_k = V draws like top_k = 0).
//   6. Draw: u = CounterUniform(seed, position), threshold = u * (total
//      weight of the kept tokens), and the kept token where the running sum
//      of weights in id order first exceeds the threshold is drawn.
//   7. Penalty counts decay and the drawn token's count grows by 1; the
//      position grows by 1.
// Arithmetic is IEEE float/double with a bit-reproducible exp and one fixed
// summation order for totals and the walk (blocks of 64 ids, four lanes per
// block: internal/weights.h), compiled with -ffp-contract=off, so the same
// float inputs give the same token on every platform.
//
// Cost per step: O(V) (a few passes, one exp per token, two at a time;
// greedy needs no exp); top_k adds O(V + k log k) and computes only k exps;
// top_p adds O(V + m log m) for a nucleus of m tokens (a few selection
// passes over V when the nucleus is large).
// Scratch memory of 20 bytes per vocabulary entry (1.25 MiB for V = 65536)
// is allocated on the first Next and reused; it is not part of the state and
// is not copied. To keep many idle streams cheap, keep their SamplerState and
// create a Sampler when the stream runs.
//
// Example:
//   absl::StatusOr<Sampler> sampler = Sampler::Create(params, config.vocab);
//   if (!sampler.ok()) return sampler.status();
//   absl::StatusOr<int> token = sampler->Next(logits);  // logits [V]
//   std::string checkpoint = sampler->state().Serialize();
//   ...
//   // Later, possibly in another process: continues exactly where it was.
//   absl::StatusOr<SamplerState> restored = SamplerState::Deserialize(checkpoint);
//   absl::StatusOr<Sampler> resumed = Sampler::Create(params, config.vocab, *restored);
//
// Ownership and threads: a Sampler owns its state and scratch; it does not
// keep the logits. Thread-compatible: one thread at a time per Sampler;
// distinct Samplers are independent. Copying a Sampler forks it (same
// params, same state). On any error Next leaves the state unchanged.
#ifndef GANDER_ENGINE_SAMPLER_SAMPLER_H_
#define GANDER_ENGINE_SAMPLER_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/sampler/sampler_state.h"
#include "engine/sampler/sampling_params.h"

namespace gander::engine {

class Sampler {
 public:
  // Validates `params` for `vocab_size` (SamplingParams::Validate) and
  // `initial` (every counted token in [0, vocab_size), every count finite and
  // > 0); INVALID_ARGUMENT naming the field or token otherwise.
  static absl::StatusOr<Sampler> Create(const SamplingParams& params, int vocab_size,
                                        SamplerState initial = {});

  Sampler(const Sampler&) = default;
  Sampler& operator=(const Sampler&) = default;
  Sampler(Sampler&&) = default;
  Sampler& operator=(Sampler&&) = default;

  // Samples the next token from logits [vocab_size] float32 and advances the
  // state. INVALID_ARGUMENT if logits.size() != vocab_size;
  // FAILED_PRECONDITION if no token has a logit above -inf (after NaN -> -inf
  // and penalties).
  absl::StatusOr<int> Next(absl::Span<const float> logits);

  // The position and penalty counts after the tokens sampled so far.
  const SamplerState& state() const { return state_; }
  const SamplingParams& params() const { return params_; }
  int vocab_size() const { return vocab_size_; }

 private:
  // Per-call buffers, reused between calls. Copies start empty: the contents
  // never outlive a call.
  struct Scratch {
    Scratch() = default;
    Scratch(const Scratch&) {}
    Scratch& operator=(const Scratch&) { return *this; }
    Scratch(Scratch&&) = default;
    Scratch& operator=(Scratch&&) = default;

    std::vector<float> logits;          // [V] penalized logits
    std::vector<double> weights;        // [V] by token id
    std::vector<uint64_t> keys;         // [V] (rank, id) keys of candidates
    std::vector<double> block_sums;     // [V / 64] sums of weights per block
    std::vector<double> exponent_sums;  // [2048] weights by binary exponent
  };

  Sampler(const SamplingParams& params, int vocab_size, SamplerState state);

  // Steps 5 and 6 above, on logits [V] (not yet sanitized) whose largest
  // sanitized value is `max` and of which `finite` are above -inf. Returns
  // the drawn token id (-1 only if every weight were 0, which the most likely
  // token's weight of 1 rules out).
  int Draw(absl::Span<const float> logits, float max, size_t finite);

  SamplingParams params_;
  int vocab_size_;
  SamplerState state_;
  Scratch scratch_;
};

}  // namespace gander::engine

#endif  // GANDER_ENGINE_SAMPLER_SAMPLER_H_
