// The sampler's random numbers: a counter-based generator, i.e. a pure
// function of (seed, position) with no hidden state. The draw for a stream's
// n-th sampled token depends only on the stream's seed and n, so a stream
// resumed from a checkpoint, forked, or moved to another worker draws exactly
// the same numbers as one that never stopped.
//
// Construction (every step is a bijection on 64-bit words, all arithmetic
// mod 2^64):
//   key  = Mix64(seed ^ kSeedSalt)           seed -> stream key
//   x    = key + (position + 1) * kGamma      a Weyl sequence (the SplitMix64
//                                             state after position+1 steps)
//   bits = Mix64(Mix64(x) ^ key)              two rounds of the SplitMix64
//                                             finalizer, keyed again so that
//                                             streams whose keys differ by a
//                                             multiple of kGamma are not
//                                             shifted copies of each other
//   uniform = (bits >> 11) * 2^-53            53 random bits -> [0, 1)
// where Mix64 is the xor-shift-multiply finalizer of SplitMix64 (Stafford's
// "Mix13" constants) and kGamma is the odd 64-bit golden-ratio constant.
//
// These outputs are part of Gander's persisted contract (a checkpoint stores
// only the position): changing the construction changes every resumed
// stream's future tokens, which counter_rng_test pins with known values.
//
// Example:
//   double u = CounterUniform(/*seed=*/42, /*position=*/7);  // in [0, 1)
//
// Pure functions; thread-safe; no failure modes.
#ifndef GANDER_ENGINE_SAMPLER_COUNTER_RNG_H_
#define GANDER_ENGINE_SAMPLER_COUNTER_RNG_H_

#include <cstdint>

namespace gander::engine {

// 64 uniformly distributed bits for (seed, position).
uint64_t CounterRandomBits(uint64_t seed, uint64_t position);

// A uniform double in [0, 1) for (seed, position), with 53 random bits; never
// returns 1.0.
double CounterUniform(uint64_t seed, uint64_t position);

}  // namespace gander::engine

#endif  // GANDER_ENGINE_SAMPLER_COUNTER_RNG_H_
