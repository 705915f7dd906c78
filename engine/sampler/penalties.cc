#include "engine/sampler/penalties.h"

namespace gander::engine {

bool PenaltiesEnabled(const SamplingParams& params) {
  return params.repetition_penalty != 1.0f || params.presence_penalty != 0.0f ||
         params.frequency_penalty != 0.0f;
}

void ApplyPenalties(const SamplingParams& params, const absl::flat_hash_map<int, float>& counts,
                    absl::Span<float> logits) {
  if (!PenaltiesEnabled(params)) return;
  const float rp = params.repetition_penalty;
  // Each token's update depends only on its own logit and count, so the
  // (unspecified) iteration order of the map cannot change the result.
  for (const auto& [token, count] : counts) {
    if (token < 0 || static_cast<size_t>(token) >= logits.size() || !(count > 0.0f)) continue;
    float logit = logits[token];
    if (rp != 1.0f) logit = logit > 0.0f ? logit / rp : logit * rp;
    const float penalty = params.presence_penalty + params.frequency_penalty * count;
    logits[token] = logit - penalty;
  }
}

void UpdatePenaltyCounts(float decay, int token, absl::flat_hash_map<int, float>* counts) {
  if (decay != 1.0f) {
    for (auto it = counts->begin(); it != counts->end();) {
      it->second *= decay;
      if (it->second == 0.0f) {
        counts->erase(it++);
      } else {
        ++it;
      }
    }
  }
  (*counts)[token] += 1.0f;
}

}  // namespace gander::engine
