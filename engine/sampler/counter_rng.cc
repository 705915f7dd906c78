#include "engine/sampler/counter_rng.h"

namespace gander::engine {
namespace {

// 2^64 / golden ratio, rounded to odd: the Weyl increment of SplitMix64.
constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;
// Any fixed constant; keeps seed 0 from mapping to key Mix64(0) == 0.
constexpr uint64_t kSeedSalt = 0x6A09E667F3BCC909ull;  // frac(sqrt(2)) * 2^64

uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t CounterRandomBits(uint64_t seed, uint64_t position) {
  const uint64_t key = Mix64(seed ^ kSeedSalt);
  const uint64_t x = key + (position + 1) * kGamma;
  return Mix64(Mix64(x) ^ key);
}

double CounterUniform(uint64_t seed, uint64_t position) {
  // 2^-53: every value k * 2^-53 with k < 2^53 is exact in a double.
  constexpr double kScale = 1.0 / 9007199254740992.0;
  return static_cast<double>(CounterRandomBits(seed, position) >> 11) * kScale;
}

}  // namespace gander::engine
