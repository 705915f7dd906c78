// The scalar maths of the RWKV-7 CUDA kernels, on the host: against the CPU
// engine's formulas (engine/model.cc), kernels/cpu LayerNorm / GroupNorm
// and engine/weights/bf16.h, plus known fp16 / bf16 bit patterns.
#include "kernels/cuda/rwkv7_ops_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/weights/bf16.h"
#include "gtest/gtest.h"
#include "kernels/cpu/norm.h"

namespace gander::kernels::cuda::rwkv7_math {
namespace {

float FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

uint32_t ToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

// The CPU engine's formulas, written out as engine/model.cc has them.
float EngineSigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

std::vector<float> RandomFloats(std::mt19937* rng, int n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(n);
  for (float& v : out) v = dist(*rng);
  return out;
}

TEST(Rwkv7MathTest, ActivationsMatchEngineFormulas) {
  std::mt19937 rng(1);
  for (float x : RandomFloats(&rng, 10000, -30.0f, 30.0f)) {
    EXPECT_EQ(Sigmoid(x), EngineSigmoid(x)) << x;
    EXPECT_EQ(Tanh(x), std::tanh(x)) << x;
    const float h = std::max(x, 0.0f);
    EXPECT_EQ(SquaredRelu(x), h * h) << x;
  }
  EXPECT_EQ(Sigmoid(0.0f), 0.5f);
  EXPECT_EQ(SquaredRelu(-3.0f), 0.0f);
  EXPECT_EQ(SquaredRelu(3.0f), 9.0f);
  EXPECT_EQ(Sigmoid(-200.0f), 0.0f);
  EXPECT_EQ(Sigmoid(200.0f), 1.0f);
}

TEST(Rwkv7MathTest, TimeMixFormulasMatchEngine) {
  constexpr float kEngineDecayScale = 0.6065306597126334f;
  EXPECT_FLOAT_EQ(kDecayScale, std::exp(-0.5f));
  std::mt19937 rng(2);
  const std::vector<float> a = RandomFloats(&rng, 5000, -4.0f, 4.0f);
  const std::vector<float> b = RandomFloats(&rng, 5000, -4.0f, 4.0f);
  const std::vector<float> c = RandomFloats(&rng, 5000, -2.0f, 2.0f);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(Decay(a[i]), std::exp(-kEngineDecayScale * EngineSigmoid(a[i])));
    // Token shift: d = prev - xa; xa + d * mix.
    const float d = b[i] - a[i];
    EXPECT_EQ(ShiftMix(a[i], b[i], c[i]), a[i] + d * c[i]);
    EXPECT_EQ(KeyAdjust(a[i], b[i], c[i]), a[i] * (1.0f + (b[i] - 1.0f) * c[i]));
    EXPECT_EQ(ValueResidual(a[i], b[i], c[i]), a[i] + (b[i] - a[i]) * EngineSigmoid(c[i]));
    float y = c[i];
    y += a[i] * b[i];
    y *= a[i];
    EXPECT_EQ(BonusGate(c[i], a[i], b[i], a[i]), y);
  }
  // Decay lies in (exp(-e^-0.5), 1).
  EXPECT_GT(Decay(-100.0f), 0.999f);
  EXPECT_NEAR(Decay(100.0f), std::exp(-std::exp(-0.5)), 1e-6);
}

TEST(Rwkv7MathTest, L2InverseNormMatchesEngine) {
  for (float sq : {0.0f, 1e-30f, 1e-24f, 1.0f, 4.0f, 123.456f}) {
    EXPECT_EQ(L2InverseNorm(sq), 1.0f / std::max(std::sqrt(sq), 1e-12f)) << sq;
  }
  EXPECT_EQ(L2InverseNorm(0.0f), 1e12f);
  EXPECT_EQ(L2InverseNorm(4.0f), 0.5f);
}

// One row normalised the way LayerNormKernel does it: `threads` strided
// double partial sums combined by a butterfly within each warp of 32, then
// across the warps' sums.
double TreeSum(std::vector<double> partial) {
  const int threads = static_cast<int>(partial.size());
  std::vector<double> warp_sums;
  for (int w = 0; w < threads; w += 32) {
    std::vector<double> lanes(partial.begin() + w, partial.begin() + w + 32);
    for (int offset = 16; offset > 0; offset >>= 1) {
      std::vector<double> next(32);
      for (int l = 0; l < 32; ++l) next[l] = lanes[l] + lanes[l ^ offset];
      lanes = next;
    }
    warp_sums.push_back(lanes[0]);
  }
  warp_sums.resize(32, 0.0);
  for (int offset = 16; offset > 0; offset >>= 1) {
    std::vector<double> next(32);
    for (int l = 0; l < 32; ++l) next[l] = warp_sums[l] + warp_sums[l ^ offset];
    warp_sums = next;
  }
  return warp_sums[0];
}

void ParallelLayerNorm(const std::vector<float>& x, int threads, const float* weight,
                       const float* bias, float eps, std::vector<float>* out) {
  const int c = static_cast<int>(x.size());
  std::vector<double> partial(threads, 0.0);
  for (int t = 0; t < threads; ++t) {
    for (int i = t; i < c; i += threads) partial[t] += x[i];
  }
  const double mean = RowMean(TreeSum(partial), c);
  std::fill(partial.begin(), partial.end(), 0.0);
  for (int t = 0; t < threads; ++t) {
    for (int i = t; i < c; i += threads) partial[t] += CenteredSquare(x[i], mean);
  }
  const float inv = InvStd(TreeSum(partial), c, eps);
  out->resize(c);
  for (int i = 0; i < c; ++i) {
    (*out)[i] = NormValue(x[i], static_cast<float>(mean), inv, weight[i], bias[i]);
  }
}

TEST(Rwkv7MathTest, LayerNormPiecesMatchCpuLayerNorm) {
  std::mt19937 rng(3);
  for (int c : {1, 7, 64, 100, 768, 4096}) {
    for (float offset : {0.0f, 50.0f}) {  // a large mean stresses cancellation
      std::vector<float> x = RandomFloats(&rng, c, -3.0f, 3.0f);
      for (float& v : x) v += offset;
      const std::vector<float> w = RandomFloats(&rng, c, 0.5f, 1.5f);
      const std::vector<float> b = RandomFloats(&rng, c, -0.5f, 0.5f);
      std::vector<float> want(c);
      cpu::LayerNorm(x.data(), c, w.data(), b.data(), 1e-5f, want.data());
      for (int threads : {32, 192, 512}) {
        std::vector<float> got;
        ParallelLayerNorm(x, threads, w.data(), b.data(), 1e-5f, &got);
        for (int i = 0; i < c; ++i) {
          ASSERT_NEAR(got[i], want[i], 1e-6f * std::max(1.0f, std::fabs(want[i])))
              << "c=" << c << " threads=" << threads << " i=" << i;
        }
      }
    }
  }
}

TEST(Rwkv7MathTest, GroupNormPiecesMatchCpuGroupNorm) {
  std::mt19937 rng(4);
  const int groups = 4, n = 64;
  const std::vector<float> x = RandomFloats(&rng, groups * n, -2.0f, 2.0f);
  const std::vector<float> w = RandomFloats(&rng, groups * n, 0.5f, 1.5f);
  const std::vector<float> b = RandomFloats(&rng, groups * n, -0.5f, 0.5f);
  std::vector<float> want(groups * n);
  cpu::GroupNorm(x.data(), groups, n, w.data(), b.data(), 64e-5f, want.data());
  for (int g = 0; g < groups; ++g) {
    std::vector<float> slice(x.begin() + g * n, x.begin() + (g + 1) * n), got;
    ParallelLayerNorm(slice, 32, w.data() + g * n, b.data() + g * n, 64e-5f, &got);
    for (int i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], want[g * n + i], 1e-6f * std::max(1.0f, std::fabs(want[g * n + i])))
          << "group " << g << " i=" << i;
    }
  }
}

TEST(Rwkv7MathTest, ConstantRowNormalisesToBias) {
  const std::vector<float> x(10, 3.0f), w(10, 2.0f), b(10, 0.25f);
  std::vector<float> got;
  ParallelLayerNorm(x, 32, w.data(), b.data(), 1e-5f, &got);
  for (float v : got) EXPECT_EQ(v, 0.25f);
}

TEST(Rwkv7MathTest, HalfKnownPatterns) {
  EXPECT_EQ(FloatToHalfBits(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalfBits(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalfBits(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalfBits(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalfBits(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalfBits(65519.99f), 0x7bff);  // below the tie to infinity
  EXPECT_EQ(FloatToHalfBits(65520.0f), 0x7c00);   // tie, rounds to even = inf
  EXPECT_EQ(FloatToHalfBits(1e6f), 0x7c00);       // overflow
  EXPECT_EQ(FloatToHalfBits(-1e6f), 0xfc00);
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(FloatToHalfBits(std::ldexp(1.0f, -25)), 0x0000);     // tie, to even = 0
  EXPECT_EQ(FloatToHalfBits(std::ldexp(3.0f, -26)), 0x0001);     // 0.75 ulp rounds up
  EXPECT_EQ(FloatToHalfBits(std::ldexp(3.0f, -25)), 0x0002);     // 1.5 ulp, tie to even 2
  EXPECT_EQ(FloatToHalfBits(std::ldexp(5.0f, -25)), 0x0002);     // 2.5 ulp, tie to even 2
  EXPECT_EQ(FloatToHalfBits(std::ldexp(2047.0f, -25)), 0x0400);  // carries into normal
  EXPECT_EQ(FloatToHalfBits(1e-8f), 0x0000);                     // 1e-8 < 2^-25
  EXPECT_EQ(FloatToHalfBits(1e-7f), 0x0002);                     // 1e-7 = 1.68 * 2^-24
  // Ties to even among normals: 1 + 2^-11 is half way between 1 and the
  // next half; 1 + 3 * 2^-11 lies between two odd/even neighbours.
  EXPECT_EQ(FloatToHalfBits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(FloatToHalfBits(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  EXPECT_EQ(FloatToHalfBits(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  const uint16_t nan = FloatToHalfBits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(FloatToHalfBits(FromBits(0x7f800001)))));
  EXPECT_TRUE(std::isnan(HalfBitsToFloat(FloatToHalfBits(FromBits(0xffc00000)))));
}

TEST(Rwkv7MathTest, HalfRoundingMatchesEngine) {
  // Every 251st bit pattern (all exponents, signs, NaNs), plus every pattern
  // near the subnormal and overflow boundaries.
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 251) {
    const float f = FromBits(static_cast<uint32_t>(bits));
    ASSERT_EQ(FloatToHalfBits(f), engine::FloatToHalf(f)) << std::hex << bits;
  }
  for (uint32_t bits = 0x33000000u - 4096; bits < 0x38800000u + 4096; bits += 7) {
    ASSERT_EQ(FloatToHalfBits(FromBits(bits)), engine::FloatToHalf(FromBits(bits)))
        << std::hex << bits;
  }
  for (uint32_t bits = 0x477fe000u; bits < 0x47800000u + 4096; ++bits) {
    ASSERT_EQ(FloatToHalfBits(FromBits(bits)), engine::FloatToHalf(FromBits(bits)))
        << std::hex << bits;
  }
}

TEST(Rwkv7MathTest, HalfToFloatMatchesEngineExhaustively) {
  for (uint32_t h = 0; h <= 0xffffu; ++h) {
    const float got = HalfBitsToFloat(static_cast<uint16_t>(h));
    const float want = engine::HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      ASSERT_EQ(ToBits(got), ToBits(want)) << std::hex << h;
    }
    // Every finite half survives a round trip.
    if (!std::isnan(want)) {
      ASSERT_EQ(FloatToHalfBits(got), h) << std::hex << h;
    }
  }
}

TEST(Rwkv7MathTest, Bf16MatchesEngine) {
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 251) {
    const float f = FromBits(static_cast<uint32_t>(bits));
    ASSERT_EQ(FloatToBf16Bits(f), engine::FloatToBf16(f)) << std::hex << bits;
  }
  for (uint32_t b = 0; b <= 0xffffu; ++b) {
    const float got = Bf16BitsToFloat(static_cast<uint16_t>(b));
    const float want = engine::Bf16ToFloat(static_cast<uint16_t>(b));
    ASSERT_EQ(ToBits(got), ToBits(want)) << std::hex << b;
  }
  EXPECT_EQ(FloatToBf16Bits(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBf16Bits(FromBits(0x3f808000)), 0x3f80);  // tie, even below
  EXPECT_EQ(FloatToBf16Bits(FromBits(0x3f818000)), 0x3f82);  // tie, even above
  EXPECT_EQ(FloatToBf16Bits(FromBits(0x7f7fffff)), 0x7f80);  // overflow to infinity
  EXPECT_TRUE(std::isnan(Bf16BitsToFloat(FloatToBf16Bits(FromBits(0x7f800001)))));
}

}  // namespace
}  // namespace gander::kernels::cuda::rwkv7_math
