// LayerNorm and GroupNorm against a double-precision computation.
#include "kernels/cpu/norm.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace gander::kernels::cpu {
namespace {

std::vector<double> Normalised(const std::vector<float>& x, int begin, int n, double eps) {
  double mean = 0, var = 0;
  for (int i = begin; i < begin + n; ++i) mean += x[i];
  mean /= n;
  for (int i = begin; i < begin + n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= n;  // biased
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) out[i] = (x[begin + i] - mean) / std::sqrt(var + eps);
  return out;
}

TEST(LayerNorm, MatchesDoubleAndWorksInPlace) {
  const int c = 768;
  std::vector<float> x(c), w(c), b(c), out(c);
  for (int i = 0; i < c; ++i) {
    x[i] = 100.0f + std::sin(0.37f * i) * 3;  // a large mean stresses cancellation
    w[i] = 1.0f + 0.01f * (i % 7);
    b[i] = 0.001f * i;
  }
  const std::vector<double> want = Normalised(x, 0, c, 1e-5);
  LayerNorm(x.data(), c, w.data(), b.data(), 1e-5f, out.data());
  for (int i = 0; i < c; ++i) ASSERT_NEAR(out[i], want[i] * w[i] + b[i], 1e-4) << i;
  LayerNorm(x.data(), c, w.data(), b.data(), 1e-5f, x.data());
  EXPECT_EQ(x, out);
}

TEST(GroupNorm, NormalisesEachGroupSeparately) {
  const int groups = 3, n = 64;
  std::vector<float> x(groups * n), w(groups * n, 2.0f), b(groups * n, 0.5f), out(groups * n);
  for (int i = 0; i < groups * n; ++i) x[i] = (i / n) * 10.0f + std::cos(0.1f * i);
  GroupNorm(x.data(), groups, n, w.data(), b.data(), 64e-5f, out.data());
  for (int g = 0; g < groups; ++g) {
    const std::vector<double> want = Normalised(x, g * n, n, 64e-5);
    for (int i = 0; i < n; ++i) ASSERT_NEAR(out[g * n + i], want[i] * 2 + 0.5, 1e-4);
  }
}

}  // namespace
}  // namespace gander::kernels::cpu
