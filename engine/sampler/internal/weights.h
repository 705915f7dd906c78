// The sampler's hot loops: sanitizing and scanning logits, turning them into
// weights, summing weights in the canonical order, and the draw. Split out
// of sampler.cc so that the vectorized loops can be tested against scalar
// ones.
//
// Canonical summation (what makes a draw reproducible bit for bit): token ids
// are grouped in blocks of kBlock consecutive ids, and each block in kLanes
// lanes by id % kLanes. A lane's sum adds its weights in id order; a block's
// sum is (lane0 + lane1) + (lane2 + lane3); the total adds the block sums in
// block order. Tokens outside the kept set count as weight 0, which changes
// no sum, so a dense array [V] and a sparse list of ids give the same bits.
// The draw walks blocks, adding block sums, to the first block where the
// running sum exceeds the threshold, then walks that block's tokens in id
// order adding weights one by one from the running sum before the block,
// and returns the first token where it exceeds the threshold (if rounding
// lets the walk end without one, the last token with positive weight in that
// block, or overall).
//
// Keys: a uint64 whose high 32 bits rank the logit (larger logit, smaller
// rank; equal logits, equal rank) and whose low 32 bits are the token id, so
// that ordering keys orders tokens by (logit desc, id asc).
//
// Pure functions over caller-owned spans; thread-compatible.
#ifndef GANDER_ENGINE_SAMPLER_INTERNAL_WEIGHTS_H_
#define GANDER_ENGINE_SAMPLER_INTERNAL_WEIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/types/span.h"

namespace gander::engine::sampler_internal {

inline constexpr size_t kBlock = 64;
inline constexpr size_t kLanes = 4;

// NaN -> -inf, +inf -> the largest finite float, -0 -> +0.
inline float SanitizeLogit(float logit) {
  if (logit != logit) return -std::numeric_limits<float>::infinity();
  if (logit > std::numeric_limits<float>::max()) return std::numeric_limits<float>::max();
  if (logit == 0.0f) return 0.0f;
  return logit;
}

inline uint64_t MakeKey(float sanitized_logit, uint32_t id) {
  // Floats order like their bits read as sign-magnitude integers: map them
  // to unsigned integers in increasing order, then reverse.
  uint32_t bits;
  std::memcpy(&bits, &sanitized_logit, sizeof(bits));
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(~ascending) << 32) | id;
}

inline int IdOfKey(uint64_t key) { return static_cast<int>(static_cast<uint32_t>(key)); }

struct LogitScan {
  float max;      // largest sanitized logit (+0 rather than -0); -inf if none
  size_t finite;  // how many sanitized logits are above -inf
};
// One pass over raw logits [V].
LogitScan ScanLogits(absl::Span<const float> logits);

// The lowest id whose sanitized logit equals `max` (which ScanLogits found,
// so it exists); -1 if none does.
int FirstIdOfMax(absl::Span<const float> logits, float max);

// exp((logit - max) / temperature) with the logit sanitized first; 0 for
// -inf or NaN. `max` is the largest sanitized logit, so the result is in
// [0, 1].
double Weight(float logit, float max, double temperature);

// weights[t] = Weight(logits[t], max, temperature) for every t: the same
// bits, two lanes at a time. weights.size() == logits.size().
void DenseWeights(absl::Span<const float> logits, float max, double temperature,
                  absl::Span<double> weights);

// Block sums of dense weights [V] into block_sums [ceil(V / kBlock)];
// returns the canonical total.
double DenseBlockSums(absl::Span<const double> weights, absl::Span<double> block_sums);

// The canonical total over the tokens of `keys` (ids strictly increasing),
// weights looked up by id in `weights` [V].
double SparseTotal(absl::Span<const uint64_t> keys, absl::Span<const double> weights);

// The draw over dense weights [V] with their block sums, or over a sparse
// set; `threshold` is u * total for u in [0, 1). Returns the drawn id, or -1
// if every weight is 0.
int DenseDraw(absl::Span<const double> weights, absl::Span<const double> block_sums,
              double threshold);
int SparseDraw(absl::Span<const uint64_t> keys, absl::Span<const double> weights, double threshold);

}  // namespace gander::engine::sampler_internal

#endif  // GANDER_ENGINE_SAMPLER_INTERNAL_WEIGHTS_H_
