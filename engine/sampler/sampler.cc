#include "engine/sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/sampler/counter_rng.h"
#include "engine/sampler/internal/weights.h"
#include "engine/sampler/penalties.h"

namespace gander::engine {
namespace {

using sampler_internal::IdOfKey;
using sampler_internal::MakeKey;
using sampler_internal::SanitizeLogit;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The first size of the nucleus search, and its growth factor.
constexpr size_t kNucleusFirstGuess = 64;
constexpr size_t kNucleusGrowth = 4;

bool ById(uint64_t a, uint64_t b) { return static_cast<uint32_t>(a) < static_cast<uint32_t>(b); }

// Reorders keys [0, n) so that [0, result) is, in rank order, the shortest
// prefix of the rank order whose weights, summed in that order, reach
// `target` (all n if rounding keeps them from reaching it). Selects and sorts
// a growing head instead of sorting everything.
size_t Nucleus(uint64_t* keys, size_t n, absl::Span<const double> weights, double target) {
  size_t done = 0;  // [0, done) is sorted and holds the best keys
  size_t head = std::min(n, kNucleusFirstGuess);
  double cumulative = 0.0;
  while (true) {
    if (head < n) std::nth_element(keys + done, keys + head, keys + n);
    std::sort(keys + done, keys + head);
    for (size_t j = done; j < head; ++j) {
      cumulative += weights[IdOfKey(keys[j])];
      if (cumulative >= target) return j + 1;
    }
    if (head == n) return n;
    done = head;
    head = std::min(n, head * kNucleusGrowth);
  }
}

// A positive weight below which no token can be in the top_p nucleus, so
// that only the tokens at or above it need ranking. Positive weights are
// bucketed by binary exponent; from the top bucket down, the first bucket
// where the weight so far reaches target * (1 + kMargin) gives the bound
// (its lower edge). The tokens above the bound are a prefix of the rank
// order (weights grow with logits), and their sum in any order differs from
// this estimate by at most V * 2^-53 relative, far below kMargin, so their
// rank-order sum reaches the target too: the nucleus lies inside. If the
// buckets never reach it, every positive weight is kept.
double NucleusWeightBound(absl::Span<const double> weights, double target,
                          std::vector<double>* exponent_sums) {
  constexpr double kMargin = 1e-6;
  constexpr int kExponents = 2048;
  std::vector<double>& sums = *exponent_sums;
  sums.assign(kExponents, 0.0);
  for (double weight : weights) {
    uint64_t bits;
    std::memcpy(&bits, &weight, sizeof(bits));
    sums[(bits >> 52) & 0x7FF] += weight;  // weights are >= 0: no sign bit
  }
  const double goal = target * (1.0 + kMargin);
  double sum = 0.0;
  for (int exponent = kExponents - 1; exponent > 0; --exponent) {
    sum += sums[exponent];
    if (sum >= goal) return std::ldexp(1.0, exponent - 1023);
  }
  return std::numeric_limits<double>::denorm_min();
}

}  // namespace

absl::StatusOr<Sampler> Sampler::Create(const SamplingParams& params, int vocab_size,
                                        SamplerState initial) {
  if (absl::Status status = params.Validate(vocab_size); !status.ok()) return status;
  for (const auto& [token, count] : initial.counts) {
    if (token < 0 || token >= vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "initial state counts token ", token, ", outside the vocabulary [0, ", vocab_size, ")"));
    }
    if (!std::isfinite(count) || !(count > 0.0f)) {
      return absl::InvalidArgumentError(absl::StrCat("initial state count of token ", token,
                                                     " must be finite and > 0, got ", count));
    }
  }
  return Sampler(params, vocab_size, std::move(initial));
}

Sampler::Sampler(const SamplingParams& params, int vocab_size, SamplerState state)
    : params_(params), vocab_size_(vocab_size), state_(std::move(state)) {}

absl::StatusOr<int> Sampler::Next(absl::Span<const float> logits) {
  const size_t vocab = static_cast<size_t>(vocab_size_);
  if (logits.size() != vocab) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits has ", logits.size(), " entries, expected vocab_size ", vocab));
  }

  // Penalties touch only counted tokens, so the logits are copied only when
  // some penalty is on.
  absl::Span<const float> source = logits;
  if (PenaltiesEnabled(params_)) {
    std::vector<float>& adjusted = scratch_.logits;
    adjusted.resize(vocab);
    for (size_t i = 0; i < vocab; ++i) adjusted[i] = SanitizeLogit(logits[i]);
    ApplyPenalties(params_, state_.counts, absl::MakeSpan(adjusted));
    source = adjusted;
  }

  const sampler_internal::LogitScan scan = sampler_internal::ScanLogits(source);
  if (scan.finite == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("no token can be sampled at position ", state_.position,
                     ": every logit is -inf or NaN after penalties"));
  }
  const int token = (params_.temperature == 0.0f || params_.top_k == 1)
                        ? sampler_internal::FirstIdOfMax(source, scan.max)
                        : Draw(source, scan.max, scan.finite);

  if (token < 0) {  // not reachable: the most likely token is always kept
    return absl::InternalError(
        absl::StrCat("sampler found no token at position ", state_.position));
  }
  UpdatePenaltyCounts(params_.penalty_decay, token, &state_.counts);
  ++state_.position;
  return token;
}

int Sampler::Draw(absl::Span<const float> logits, float max, size_t finite) {
  const size_t vocab = logits.size();
  const double temperature = static_cast<double>(params_.temperature);
  std::vector<double>& weights = scratch_.weights;
  std::vector<uint64_t>& keys = scratch_.keys;
  std::vector<double>& block_sums = scratch_.block_sums;
  weights.resize(vocab);
  keys.resize(vocab);
  block_sums.resize((vocab + sampler_internal::kBlock - 1) / sampler_internal::kBlock);
  const absl::Span<const double> w = weights;

  // Two representations of the kept set, with identical sums and draws:
  // dense (every id; weights [V], 0 for dropped tokens) or sparse (keys
  // [0, n) in id order; weights of other ids are stale).
  bool sparse = false;
  size_t n = 0;
  double total;

  // top_k: the set is unique (keys are distinct).
  const size_t k = static_cast<size_t>(params_.top_k);
  if (k > 0 && k < finite) {
    for (size_t t = 0; t < vocab; ++t) {
      const float l = SanitizeLogit(logits[t]);
      if (l != kNegInf) keys[n++] = MakeKey(l, static_cast<uint32_t>(t));
    }
    std::nth_element(keys.begin(), keys.begin() + k, keys.begin() + n);
    std::sort(keys.begin(), keys.begin() + k, ById);
    n = k;
    sparse = true;
    for (size_t j = 0; j < n; ++j) {
      const int id = IdOfKey(keys[j]);
      weights[id] = sampler_internal::Weight(logits[id], max, temperature);
    }
    total = sampler_internal::SparseTotal(absl::MakeConstSpan(keys.data(), n), w);
  } else {
    sampler_internal::DenseWeights(logits, max, temperature, absl::MakeSpan(weights));
    total = sampler_internal::DenseBlockSums(w, absl::MakeSpan(block_sums));
  }
  bool filtered = false;  // whether the kept set shrank after `total`

  // min_p keeps a prefix of the rank order, as does top_p, so the result is
  // the shorter of the two prefixes whichever is applied first; applying
  // min_p first only shrinks top_p's search. top_p's target still comes from
  // the total before min_p, as the order top_p -> min_p requires.
  if (params_.min_p > 0.0f) {
    const double min_weight = static_cast<double>(params_.min_p);
    if (sparse) {
      size_t kept = 0;
      for (size_t j = 0; j < n; ++j) {
        if (weights[IdOfKey(keys[j])] >= min_weight) keys[kept++] = keys[j];
      }
      filtered = kept < n;
      n = kept;
    } else {
      for (size_t t = 0; t < vocab; ++t) {
        if (weights[t] < min_weight && weights[t] > 0.0) {
          weights[t] = 0.0;
          filtered = true;
        }
      }
    }
  }

  if (params_.top_p < 1.0f) {
    const double target = static_cast<double>(params_.top_p) * total;
    if (sparse) {
      const size_t keep = Nucleus(keys.data(), n, w, target);
      filtered = filtered || keep < n;
      n = keep;
      std::sort(keys.begin(), keys.begin() + n, ById);
    } else {
      // Rank only the tokens that can be in the nucleus.
      const double bound = NucleusWeightBound(w, target, &scratch_.exponent_sums);
      size_t positive = 0;
      for (size_t t = 0; t < vocab; ++t) {
        if (weights[t] <= 0.0) continue;
        ++positive;
        if (weights[t] >= bound) {
          keys[n++] = MakeKey(SanitizeLogit(logits[t]), static_cast<uint32_t>(t));
        }
      }
      const size_t keep = Nucleus(keys.data(), n, w, target);
      if (keep < positive) {
        filtered = true;
        if (keep <= vocab / 16) {
          // A small nucleus is cheaper to sum and walk as a sparse set.
          sparse = true;
          n = keep;
          std::sort(keys.begin(), keys.begin() + n, ById);
        } else {
          for (size_t t = 0; t < vocab; ++t) {
            if (weights[t] < bound) weights[t] = 0.0;
          }
          for (size_t j = keep; j < n; ++j) weights[IdOfKey(keys[j])] = 0.0;
        }
      }
    }
  }

  const absl::Span<const uint64_t> kept_keys(keys.data(), n);
  double kept_total = total;
  if (filtered) {
    kept_total = sparse ? sampler_internal::SparseTotal(kept_keys, w)
                        : sampler_internal::DenseBlockSums(w, absl::MakeSpan(block_sums));
  }
  const double threshold = CounterUniform(params_.seed, state_.position) * kept_total;
  // The most likely token has weight 1 and is never dropped, so the walk
  // always finds a token.
  return sparse ? sampler_internal::SparseDraw(kept_keys, w, threshold)
                : sampler_internal::DenseDraw(w, block_sums, threshold);
}

}  // namespace gander::engine
