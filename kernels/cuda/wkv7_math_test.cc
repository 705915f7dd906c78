// The row update the CUDA WKV kernel runs (wkv7_math.h), driven head by head
// and row by row on the host, against the CPU engine's Wkv7Step over many
// tokens. Needs no GPU and no CUDA toolkit.
#include "kernels/cuda/wkv7_math.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/wkv7.h"

namespace gander::kernels::cuda {
namespace {

// |got - want| <= rel * max(|want|, 1): relative, with a floor of 1 so values
// near zero are not held to an impossible bound.
bool Near(float got, float want, float rel) {
  return std::abs(got - want) <= rel * std::max(std::abs(want), 1.0f);
}

struct Token {
  std::vector<float> r, w, k, v, kk, a;
};

// Random inputs shaped like the model's: w in (0, 1), a in (0, 1), kk
// L2-normalised per head, r, k, v in (-1, 1).
Token RandomToken(int heads, int n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1, 1), decay(0.5f, 0.999f), unit(0, 1);
  const int c = heads * n;
  Token t{std::vector<float>(c), std::vector<float>(c), std::vector<float>(c),
          std::vector<float>(c), std::vector<float>(c), std::vector<float>(c)};
  for (int i = 0; i < c; ++i) {
    t.r[i] = u(rng), t.w[i] = decay(rng), t.k[i] = u(rng), t.v[i] = u(rng);
    t.kk[i] = u(rng), t.a[i] = unit(rng);
  }
  for (int h = 0; h < heads; ++h) {
    float sq = 0;
    for (int j = 0; j < n; ++j) sq += t.kk[h * n + j] * t.kk[h * n + j];
    for (int j = 0; j < n; ++j) t.kk[h * n + j] /= std::sqrt(sq);
  }
  return t;
}

// One token for all heads through Wkv7UpdateRow, the way the kernel splits it.
template <int N>
void StepWithRows(int heads, float* state, const Token& t, float* y) {
  for (int h = 0; h < heads; ++h) {
    const int o = h * N;
    float kka[N];
    for (int j = 0; j < N; ++j) kka[j] = Wkv7Kka(t.kk[o + j], t.a[o + j]);
    for (int i = 0; i < N; ++i) {
      float* src = state + (static_cast<long>(h) * N + i) * N;
      float row[N];
      std::copy(src, src + N, row);
      y[o + i] = Wkv7UpdateRow<N>(row, t.v[o + i], &t.r[o], &t.w[o], &t.k[o], &t.kk[o], kka);
      std::copy(row, row + N, src);
    }
  }
}

template <int N>
void CheckAgainstCpu(int heads, int tokens, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> cpu_state(static_cast<size_t>(heads) * N * N);
  for (float& x : cpu_state) x = u(rng);  // a stream that has already run
  std::vector<float> row_state = cpu_state;
  std::vector<float> cpu_y(heads * N), row_y(heads * N);
  for (int step = 0; step < tokens; ++step) {
    const Token t = RandomToken(heads, N, rng);
    cpu::Wkv7Step(heads, N, cpu_state.data(), t.r.data(), t.w.data(), t.k.data(), t.v.data(),
                  t.kk.data(), t.a.data(), cpu_y.data());
    StepWithRows<N>(heads, row_state.data(), t, row_y.data());
    for (int i = 0; i < heads * N; ++i) {
      ASSERT_TRUE(Near(row_y[i], cpu_y[i], 1e-5f))
          << "N=" << N << " token " << step << " y[" << i << "] " << row_y[i] << " vs " << cpu_y[i];
    }
  }
  for (size_t i = 0; i < cpu_state.size(); ++i) {
    ASSERT_TRUE(Near(row_state[i], cpu_state[i], 1e-5f))
        << "N=" << N << " state[" << i << "] " << row_state[i] << " vs " << cpu_state[i];
  }
}

TEST(Wkv7Math, RowUpdateMatchesCpuStepAtHeadSize64) { CheckAgainstCpu<64>(3, 24, 7); }

TEST(Wkv7Math, RowUpdateMatchesCpuStepAtSmallHeadSize) { CheckAgainstCpu<8>(2, 40, 11); }

// A hand-computable case: N = 4, state row (1, 2, 3, 4), kk = e0.
TEST(Wkv7Math, RowUpdateByHand) {
  float row[4] = {1, 2, 3, 4};
  const float r[4] = {1, 0, 0, 1}, w[4] = {0.5f, 0.5f, 0.5f, 0.5f}, k[4] = {0, 1, 0, 0};
  const float kk[4] = {1, 0, 0, 0}, a[4] = {0.5f, 1, 1, 1};
  float kka[4];
  for (int j = 0; j < 4; ++j) kka[j] = Wkv7Kka(kk[j], a[j]);
  // sa = -1; row = row*0.5 + (-1)*(0.5, 0, 0, 0) + 2*(0, 1, 0, 0) = (0, 3, 1.5, 2).
  const float y = Wkv7UpdateRow<4>(row, 2.0f, r, w, k, kk, kka);
  EXPECT_FLOAT_EQ(row[0], 0.0f);
  EXPECT_FLOAT_EQ(row[1], 3.0f);
  EXPECT_FLOAT_EQ(row[2], 1.5f);
  EXPECT_FLOAT_EQ(row[3], 2.0f);
  EXPECT_FLOAT_EQ(y, 2.0f);
}

}  // namespace
}  // namespace gander::kernels::cuda
