#include "engine/sampler/counter_rng.h"

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace gander::engine {
namespace {

// These values are a persisted contract: a checkpoint stores only the
// position, so changing them changes every resumed stream's tokens. They
// were computed independently of this code, from the construction documented
// in counter_rng.h.
TEST(CounterRngTest, PinnedValues) {
  EXPECT_EQ(CounterRandomBits(0, 0), 0x44207c88e700b1a5ull);
  EXPECT_EQ(CounterRandomBits(0, 1), 0x9fc100cb6baeab48ull);
  EXPECT_EQ(CounterRandomBits(1, 0), 0x067f188aef38bc2cull);
  EXPECT_EQ(CounterRandomBits(42, 7), 0x0a4e05179264f29eull);
  EXPECT_EQ(CounterRandomBits(UINT64_MAX, UINT64_MAX), 0x7bb4c7d0095dfd83ull);
  EXPECT_EQ(CounterRandomBits(1234567890123ull, 1000000), 0x352ead3ee43c8313ull);
  EXPECT_EQ(CounterUniform(0, 0), 0.2661207041010154);
  EXPECT_EQ(CounterUniform(42, 7), 0.04025298905834851);
}

TEST(CounterRngTest, PureFunctionOfSeedAndPosition) {
  for (uint64_t p = 0; p < 1000; ++p) {
    ASSERT_EQ(CounterUniform(99, p), CounterUniform(99, p));
  }
  // Calls in any order give the same values.
  const double later = CounterUniform(5, 500);
  for (uint64_t p = 0; p < 500; ++p) CounterUniform(5, p);
  EXPECT_EQ(CounterUniform(5, 500), later);
}

// Moments, a 16-bin histogram, the lag-1 correlation and the balance of each
// bit over 160000 positions, for several seeds. Bounds are ~5 sigma.
TEST(CounterRngTest, RoughlyUniform) {
  constexpr int kN = 160000;
  for (uint64_t seed : std::vector<uint64_t>{0, 1, 2, 0xDEADBEEF, UINT64_MAX}) {
    SCOPED_TRACE(seed);
    double sum = 0, sum_sq = 0, sum_lag = 0, previous = CounterUniform(seed, 0);
    int bins[16] = {};
    int bit_ones[64] = {};
    for (int p = 0; p < kN; ++p) {
      const double u = CounterUniform(seed, p);
      ASSERT_GE(u, 0.0);
      ASSERT_LT(u, 1.0);
      sum += u;
      sum_sq += u * u;
      if (p > 0) sum_lag += (u - 0.5) * (previous - 0.5);
      previous = u;
      ++bins[static_cast<int>(u * 16)];
      const uint64_t bits = CounterRandomBits(seed, p);
      for (int b = 0; b < 64; ++b) bit_ones[b] += (bits >> b) & 1;
    }
    const double mean = sum / kN;
    const double variance = sum_sq / kN - mean * mean;
    EXPECT_NEAR(mean, 0.5, 0.004);
    EXPECT_NEAR(variance, 1.0 / 12.0, 0.0009);
    EXPECT_NEAR(sum_lag / (kN - 1) / (1.0 / 12.0), 0.0, 0.0125);
    double chi2 = 0;
    for (int count : bins) {
      const double expected = kN / 16.0;
      chi2 += (count - expected) * (count - expected) / expected;
    }
    EXPECT_LT(chi2, 50.0);  // 15 degrees of freedom: P(chi2 > 50) < 1e-5
    for (int b = 0; b < 64; ++b) EXPECT_NEAR(bit_ones[b] / double(kN), 0.5, 0.0065) << "bit " << b;
  }
}

TEST(CounterRngTest, DifferentSeedsDiffer) {
  // Sequences of 8 draws for 1000 seeds (including adjacent ones) are all
  // distinct, and adjacent seeds are uncorrelated.
  std::set<std::vector<uint64_t>> sequences;
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    std::vector<uint64_t> sequence;
    for (uint64_t p = 0; p < 8; ++p) sequence.push_back(CounterRandomBits(seed, p));
    sequences.insert(sequence);
  }
  EXPECT_EQ(sequences.size(), 1000u);

  constexpr int kN = 50000;
  double cross = 0;
  for (int p = 0; p < kN; ++p) {
    cross += (CounterUniform(7, p) - 0.5) * (CounterUniform(8, p) - 0.5);
  }
  EXPECT_NEAR(cross / kN / (1.0 / 12.0), 0.0, 0.025);
}

TEST(CounterRngTest, SeedStreamsAreNotShiftedCopies) {
  // A plain Weyl sequence with an unmixed seed would make seed s + kGamma at
  // position p equal seed s at position p + 1; check that no small shift
  // relates nearby seeds.
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (uint64_t other = 0; other < 20; ++other) {
      for (uint64_t shift = 1; shift < 16; ++shift) {
        EXPECT_NE(CounterRandomBits(seed, 100 + shift), CounterRandomBits(other, 100));
      }
    }
  }
}

}  // namespace
}  // namespace gander::engine
