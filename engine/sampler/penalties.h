// The repetition, presence and frequency penalties and the decayed counts
// they are computed from, as exact, separately testable functions. Sampler
// uses them on every step; they are public so their arithmetic can be
// checked by hand.
//
// For every token t with count[t] > 0, in this order (float32 arithmetic):
//   if repetition_penalty != 1:  logit[t] = logit[t] > 0 ? logit[t] / rp
//                                                        : logit[t] * rp
//   logit[t] -= presence_penalty + frequency_penalty * count[t]
// After a token is sampled:
//   count[t] *= penalty_decay for every t (a count that reaches 0 is erased)
//   count[sampled] += 1
//
// Example:
//   ApplyPenalties(params, state.counts, absl::MakeSpan(logits));  // logits [V]
//   UpdatePenaltyCounts(params.penalty_decay, token, &state.counts);
//
// Pure functions of their arguments; thread-compatible. No failure modes:
// token ids outside [0, V) in `counts` are ignored.
#ifndef GANDER_ENGINE_SAMPLER_PENALTIES_H_
#define GANDER_ENGINE_SAMPLER_PENALTIES_H_

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "engine/sampler/sampling_params.h"

namespace gander::engine {

// True if the penalties in `params` can change a logit.
bool PenaltiesEnabled(const SamplingParams& params);

// Applies the penalties above to logits [V] in place, for the tokens in
// `counts` with a positive count. Leaves logits untouched when
// !PenaltiesEnabled(params).
void ApplyPenalties(const SamplingParams& params, const absl::flat_hash_map<int, float>& counts,
                    absl::Span<float> logits);

// Decays every count by `decay`, erases counts that became 0, then adds 1 to
// `token`'s count.
void UpdatePenaltyCounts(float decay, int token, absl::flat_hash_map<int, float>* counts);

}  // namespace gander::engine

#endif  // GANDER_ENGINE_SAMPLER_PENALTIES_H_
