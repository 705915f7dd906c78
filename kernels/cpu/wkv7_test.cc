// Wkv7Step against the matrix form of the update, computed in double:
// S' = S (diag(w) - kk (kk*a)^T) + v k^T, y = S' r.
#include "kernels/cpu/wkv7.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace gander::kernels::cpu {
namespace {

TEST(Wkv7Step, MatchesMatrixFormOverManySteps) {
  for (int n : {64, 13}) {  // the real head size, and an odd one for the tails
    SCOPED_TRACE(n);
    const int heads = 3, c = heads * n;
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> u(-1, 1), pos(0.5f, 0.999f), unit(0, 1);
    std::vector<float> state(heads * n * n, 0.0f);
    std::vector<double> ref(state.begin(), state.end());
    for (int step = 0; step < 50; ++step) {
      std::vector<float> r(c), w(c), k(c), v(c), kk(c), a(c), y(c);
      for (int i = 0; i < c; ++i) {
        r[i] = u(rng), w[i] = pos(rng), k[i] = u(rng), v[i] = u(rng), a[i] = unit(rng);
        kk[i] = u(rng);
      }
      for (int h = 0; h < heads; ++h) {  // kk normalised per head
        double sq = 0;
        for (int j = 0; j < n; ++j) sq += kk[h * n + j] * kk[h * n + j];
        for (int j = 0; j < n; ++j) kk[h * n + j] /= std::sqrt(sq);
      }
      Wkv7Step(heads, n, state.data(), r.data(), w.data(), k.data(), v.data(), kk.data(), a.data(),
               y.data());
      for (int h = 0; h < heads; ++h) {
        double* s = &ref[h * n * n];
        const int o = h * n;
        // M = diag(w) - kk (kk*a)^T ; S' = S M + v k^T
        std::vector<double> next(n * n);
        for (int i = 0; i < n; ++i) {
          for (int j = 0; j < n; ++j) {
            double acc = 0;
            for (int m = 0; m < n; ++m) {
              const double mm =
                  (m == j ? w[o + j] : 0.0) - static_cast<double>(kk[o + m]) * kk[o + j] * a[o + j];
              acc += s[i * n + m] * mm;
            }
            next[i * n + j] = acc + static_cast<double>(v[o + i]) * k[o + j];
          }
        }
        std::copy(next.begin(), next.end(), s);
        for (int i = 0; i < n; ++i) {
          double yi = 0;
          for (int j = 0; j < n; ++j) yi += s[i * n + j] * r[o + j];
          ASSERT_NEAR(y[o + i], yi, 1e-4 * (1 + std::abs(yi))) << "step " << step;
        }
      }
    }
    for (size_t i = 0; i < state.size(); ++i) {
      ASSERT_NEAR(state[i], ref[i], 1e-4 * (1 + std::abs(ref[i]))) << i;
    }
  }
}

}  // namespace
}  // namespace gander::kernels::cpu
