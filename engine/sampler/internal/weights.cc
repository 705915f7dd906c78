#include "engine/sampler/internal/weights.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/sampler/internal/det_exp.h"

namespace gander::engine::sampler_internal {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kMaxFloat = std::numeric_limits<float>::max();

typedef float Float4 __attribute__((vector_size(16)));
typedef int32_t Int4 __attribute__((vector_size(16)));

static_assert(kBlock % kLanes == 0 && kLanes == 4, "the block sum below assumes 4 lanes");

// The lane sums of one block of a sparse set: keys [begin, end) all in the
// same block.
double SparseBlockSum(const uint64_t* begin, const uint64_t* end,
                      absl::Span<const double> weights) {
  double lanes[kLanes] = {0.0, 0.0, 0.0, 0.0};
  for (const uint64_t* k = begin; k != end; ++k) {
    const int id = IdOfKey(*k);
    lanes[id % kLanes] += weights[id];
  }
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

// The end of the run of keys starting at `begin` whose ids share a block.
const uint64_t* BlockEnd(const uint64_t* begin, const uint64_t* end) {
  const size_t block = static_cast<size_t>(IdOfKey(*begin)) / kBlock;
  const uint64_t* k = begin + 1;
  while (k != end && static_cast<size_t>(IdOfKey(*k)) / kBlock == block) ++k;
  return k;
}

}  // namespace

LogitScan ScanLogits(absl::Span<const float> logits) {
  const size_t n = logits.size();
  const float* p = logits.data();
  // Four lanes; NaN becomes -inf; +inf is clamped once at the end (the
  // maximum of clamped values is the clamped maximum).
  Float4 max4 = {kNegInf, kNegInf, kNegInf, kNegInf};
  Int4 finite4 = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    Float4 l;
    std::memcpy(&l, p + i, sizeof(l));
    l = (l == l) ? l : kNegInf;
    max4 = (l > max4) ? l : max4;
    finite4 -= (l > kNegInf);  // a true comparison is -1
  }
  float max = kNegInf;
  size_t finite = 0;
  for (int lane = 0; lane < 4; ++lane) {
    if (max4[lane] > max) max = max4[lane];
    finite += static_cast<size_t>(finite4[lane]);
  }
  for (; i < n; ++i) {
    const float l = SanitizeLogit(p[i]);
    if (l > max) max = l;
    if (l > kNegInf) ++finite;
  }
  return LogitScan{SanitizeLogit(max), finite};
}

int FirstIdOfMax(absl::Span<const float> logits, float max) {
  for (size_t i = 0; i < logits.size(); ++i) {
    if (SanitizeLogit(logits[i]) == max) return static_cast<int>(i);
  }
  return -1;
}

double Weight(float logit, float max, double temperature) {
  const double l = static_cast<double>(logit > kMaxFloat ? kMaxFloat : logit);
  return DeterministicExp((l - static_cast<double>(max)) / temperature);
}

void DenseWeights(absl::Span<const float> logits, float max, double temperature,
                  absl::Span<double> weights) {
  const size_t n = logits.size();
  const float* p = logits.data();
  double* w = weights.data();
  const double m = static_cast<double>(max);
  const double max_float = static_cast<double>(kMaxFloat);
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    Double2 l = {static_cast<double>(p[i]), static_cast<double>(p[i + 1])};
    l = (l > max_float) ? Double2{} + max_float : l;  // NaN passes and gives 0
    const Double2 e = DeterministicExp2((l - m) / temperature);
    std::memcpy(w + i, &e, sizeof(e));
  }
  for (; i < n; ++i) w[i] = Weight(p[i], max, temperature);
}

double DenseBlockSums(absl::Span<const double> weights, absl::Span<double> block_sums) {
  const size_t n = weights.size();
  const double* w = weights.data();
  double total = 0.0;
  for (size_t start = 0, block = 0; start < n; start += kBlock, ++block) {
    const size_t end = start + kBlock < n ? start + kBlock : n;
    Double2 lanes01 = {0.0, 0.0};
    Double2 lanes23 = {0.0, 0.0};
    size_t i = start;
    for (; i + 4 <= end; i += 4) {
      Double2 a, b;
      std::memcpy(&a, w + i, sizeof(a));
      std::memcpy(&b, w + i + 2, sizeof(b));
      lanes01 += a;
      lanes23 += b;
    }
    // A short last block: its remaining ids continue their lanes.
    double lanes[kLanes] = {lanes01[0], lanes01[1], lanes23[0], lanes23[1]};
    for (; i < end; ++i) lanes[i % kLanes] += w[i];
    const double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    block_sums[block] = sum;
    total += sum;
  }
  return total;
}

double SparseTotal(absl::Span<const uint64_t> keys, absl::Span<const double> weights) {
  double total = 0.0;
  const uint64_t* end = keys.data() + keys.size();
  for (const uint64_t* begin = keys.data(); begin != end;) {
    const uint64_t* block_end = BlockEnd(begin, end);
    total += SparseBlockSum(begin, block_end, weights);
    begin = block_end;
  }
  return total;
}

int DenseDraw(absl::Span<const double> weights, absl::Span<const double> block_sums,
              double threshold) {
  const size_t n = weights.size();
  double running = 0.0;
  for (size_t start = 0, block = 0; start < n; start += kBlock, ++block) {
    const double after = running + block_sums[block];
    if (threshold < after) {
      const size_t end = start + kBlock < n ? start + kBlock : n;
      double cumulative = running;
      int last_positive = -1;
      for (size_t t = start; t < end; ++t) {
        if (weights[t] <= 0.0) continue;
        cumulative += weights[t];
        last_positive = static_cast<int>(t);
        if (threshold < cumulative) break;
      }
      return last_positive;
    }
    running = after;
  }
  for (size_t t = n; t > 0; --t) {
    if (weights[t - 1] > 0.0) return static_cast<int>(t - 1);
  }
  return -1;
}

int SparseDraw(absl::Span<const uint64_t> keys, absl::Span<const double> weights,
               double threshold) {
  double running = 0.0;
  const uint64_t* end = keys.data() + keys.size();
  for (const uint64_t* begin = keys.data(); begin != end;) {
    const uint64_t* block_end = BlockEnd(begin, end);
    const double after = running + SparseBlockSum(begin, block_end, weights);
    if (threshold < after) {
      double cumulative = running;
      int last_positive = -1;
      for (const uint64_t* k = begin; k != block_end; ++k) {
        const int id = IdOfKey(*k);
        if (weights[id] <= 0.0) continue;
        cumulative += weights[id];
        last_positive = id;
        if (threshold < cumulative) break;
      }
      return last_positive;
    }
    running = after;
    begin = block_end;
  }
  for (size_t j = keys.size(); j > 0; --j) {
    const int id = IdOfKey(keys[j - 1]);
    if (weights[id] > 0.0) return id;
  }
  return -1;
}

}  // namespace gander::engine::sampler_internal
