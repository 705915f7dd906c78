#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/sampler/internal/crc32.h"
#include "engine/sampler/internal/det_exp.h"
#include "engine/sampler/internal/weights.h"
#include "gtest/gtest.h"

namespace gander::engine::sampler_internal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

uint64_t Bits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  return bits;
}
bool SameBits(double a, double b) { return Bits(a) == Bits(b); }

TEST(DeterministicExpTest, ExactPoints) {
  EXPECT_EQ(DeterministicExp(0.0), 1.0);
  EXPECT_EQ(DeterministicExp(-0.0), 1.0);
  EXPECT_EQ(DeterministicExp(-std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(DeterministicExp(-701.0), 0.0);
  EXPECT_EQ(DeterministicExp(std::nan("")), 0.0);
  EXPECT_TRUE(std::isinf(DeterministicExp(std::numeric_limits<double>::infinity())));
}

TEST(DeterministicExpTest, MatchesLibmToAFewUlp) {
  double worst = 0.0;
  for (int i = 0; i <= 700000; ++i) {
    const double x = -700.0 + i * 0.001 + 0.000123;  // off the grid of ln2 multiples
    const double expected = std::exp(x);
    worst = std::max(worst, std::abs(DeterministicExp(x) - expected) / expected);
  }
  for (double x : {1e-300, 1e-17, 1e-9, 0.3465, 0.3466, 0.5, 1.0, 10.0, 100.0, 699.0}) {
    worst = std::max(worst, std::abs(DeterministicExp(x) - std::exp(x)) / std::exp(x));
    worst = std::max(worst, std::abs(DeterministicExp(-x) - std::exp(-x)) / std::exp(-x));
  }
  EXPECT_LT(worst, 2e-14);
}

TEST(DeterministicExpTest, Monotone) {
  double previous = 0.0;
  for (int i = -200000; i <= 0; ++i) {
    const double value = DeterministicExp(i * 1e-4);
    ASSERT_GE(value, previous) << "at x = " << i * 1e-4;
    previous = value;
  }
}

TEST(DeterministicExpTest, VectorFormGivesTheScalarBits) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(-720.0, 0.0);
  for (int i = 0; i < 100000; ++i) {
    const Double2 x = {uniform(rng), (i % 3 == 0) ? -uniform(rng) / 1e6 : uniform(rng)};
    const Double2 e = DeterministicExp2(x);
    ASSERT_TRUE(SameBits(e[0], DeterministicExp(x[0]))) << x[0];
    ASSERT_TRUE(SameBits(e[1], DeterministicExp(x[1]))) << x[1];
  }
  const Double2 special = DeterministicExp2(Double2{std::nan(""), -HUGE_VAL});
  EXPECT_EQ(special[0], 0.0);
  EXPECT_EQ(special[1], 0.0);
}

TEST(Crc32Test, StandardCheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_NE(Crc32("a"), Crc32("b"));
}

// Logits with every special value, of a length that is not a multiple of 4.
std::vector<float> SpecialLogits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> logits(n);
  for (float& l : logits) {
    switch (rng() % 12) {
      case 0:
        l = kNaN;
        break;
      case 1:
        l = -kInf;
        break;
      case 2:
        l = -0.0f;
        break;
      case 3:
        l = 0.0f;
        break;
      default:
        l = static_cast<float>(static_cast<int>(rng() % 2000) - 1000) / 97.0f;
    }
  }
  return logits;
}

TEST(WeightsTest, SanitizeAndKeys) {
  EXPECT_EQ(SanitizeLogit(kNaN), -kInf);
  EXPECT_EQ(SanitizeLogit(kInf), std::numeric_limits<float>::max());
  EXPECT_FALSE(std::signbit(SanitizeLogit(-0.0f)));
  EXPECT_EQ(SanitizeLogit(-2.5f), -2.5f);
  // Keys order by (logit desc, id asc).
  const std::vector<float> ordered = {
      std::numeric_limits<float>::max(), 3.0f, 1e-30f, 0.0f, -1e-30f, -3.0f, -kInf};
  for (size_t i = 0; i + 1 < ordered.size(); ++i) {
    EXPECT_LT(MakeKey(ordered[i], 9), MakeKey(ordered[i + 1], 0)) << i;
  }
  EXPECT_LT(MakeKey(1.0f, 3), MakeKey(1.0f, 4));
  EXPECT_EQ(IdOfKey(MakeKey(-7.0f, 65535)), 65535);
}

TEST(WeightsTest, ScanMatchesAScalarLoop) {
  for (size_t n : {0, 1, 3, 4, 5, 63, 64, 65, 1001}) {
    for (uint32_t seed = 0; seed < 20; ++seed) {
      std::vector<float> logits = SpecialLogits(n, seed);
      if (seed == 1 && n > 2) logits[n - 1] = kInf;  // in the scalar tail
      if (seed == 2 && n > 0) logits[0] = kInf;      // in the vector body
      float max = -kInf;
      size_t finite = 0;
      for (float l : logits) {
        const float s = SanitizeLogit(l);
        max = std::max(max, s);
        finite += s > -kInf;
      }
      const LogitScan scan = ScanLogits(logits);
      EXPECT_EQ(scan.max, max) << "n " << n << " seed " << seed;
      EXPECT_FALSE(std::signbit(scan.max) && scan.max == 0.0f);
      EXPECT_EQ(scan.finite, finite);
      if (finite > 0) {
        const int first = FirstIdOfMax(logits, scan.max);
        ASSERT_GE(first, 0);
        EXPECT_EQ(SanitizeLogit(logits[first]), max);
        for (int i = 0; i < first; ++i) EXPECT_LT(SanitizeLogit(logits[i]), max);
      }
    }
  }
}

TEST(WeightsTest, DenseWeightsGiveTheScalarBits) {
  for (size_t n : {1, 2, 5, 1001}) {
    std::vector<float> logits = SpecialLogits(n, 3);
    logits[0] = kInf;
    const float max = ScanLogits(logits).max;
    for (double temperature : {0.01, 0.7, 1.0, 3.0}) {
      std::vector<double> weights(n);
      DenseWeights(logits, max, temperature, absl::MakeSpan(weights));
      for (size_t t = 0; t < n; ++t) {
        ASSERT_TRUE(SameBits(weights[t], Weight(logits[t], max, temperature)))
            << "t " << t << " logit " << logits[t];
        ASSERT_GE(weights[t], 0.0);
        ASSERT_LE(weights[t], 1.0);
      }
      EXPECT_EQ(weights[0], 1.0);  // +inf is the maximum
    }
  }
}

// A direct transcription of the canonical order in weights.h.
double ReferenceTotal(const std::vector<double>& w) {
  double total = 0;
  for (size_t start = 0; start < w.size(); start += kBlock) {
    double lanes[4] = {0, 0, 0, 0};
    for (size_t t = start; t < std::min(w.size(), start + kBlock); ++t) lanes[t % 4] += w[t];
    total += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  }
  return total;
}

TEST(WeightsTest, DenseAndSparseSumsAndDrawsAgree) {
  std::mt19937 rng(11);
  for (size_t n : {1, 7, 64, 130, 4099}) {
    for (int trial = 0; trial < 20; ++trial) {
      // A random kept set; dropped tokens have weight 0 in the dense form.
      std::vector<double> dense(n, 0.0);
      std::vector<uint64_t> keys;
      for (size_t t = 0; t < n; ++t) {
        if (rng() % 3 == 0 && !(t == n - 1 && keys.empty())) continue;
        dense[t] = std::ldexp(static_cast<double>(rng() % 1000 + 1), -static_cast<int>(rng() % 60));
        keys.push_back(MakeKey(0.0f, static_cast<uint32_t>(t)));
      }
      std::vector<double> blocks((n + kBlock - 1) / kBlock);
      const double total = DenseBlockSums(dense, absl::MakeSpan(blocks));
      EXPECT_TRUE(SameBits(total, ReferenceTotal(dense)));
      EXPECT_TRUE(SameBits(total, SparseTotal(keys, dense)));
      for (int draw = 0; draw < 50; ++draw) {
        const double threshold = (rng() / 4294967296.0) * total;
        const int a = DenseDraw(dense, blocks, threshold);
        ASSERT_EQ(a, SparseDraw(keys, dense, threshold));
        ASSERT_GE(a, 0);
        ASSERT_GT(dense[a], 0.0);
        // The drawn token is where the running sum crosses the threshold
        // (checked in plain id order, up to rounding).
        double before = 0;
        for (int t = 0; t < a; ++t) before += dense[t];
        EXPECT_LE(before, threshold * (1 + 1e-12));
        EXPECT_GT(before + dense[a], threshold * (1 - 1e-12));
      }
    }
  }
}

}  // namespace
}  // namespace gander::engine::sampler_internal
