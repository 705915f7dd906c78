#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace gander::kernels::cpu {
namespace {

using matmul_internal::Isa;

// float32 -> bf16 bits, rounding to nearest even (inputs here are finite).
uint16_t ToBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

float FromBF16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// Values in +-[2^-4, 2^4] with random signs: a spread of magnitudes so that
// cancellation happens and reordering would show.
std::vector<float> RandomValues(size_t n, std::mt19937* rng) {
  std::uniform_real_distribution<float> mantissa(0.5f, 1.0f);
  std::uniform_int_distribution<int> exponent(-3, 5);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> v(n);
  for (float& f : v) {
    f = std::ldexp(mantissa(*rng), exponent(*rng));
    if (negative(*rng)) f = -f;
  }
  return v;
}

// One test problem: weights in both types (the float32 copy of the bf16
// weights holds exactly the bf16 values), inputs, and the float64 reference.
struct Case {
  int rows, cols;
  int64_t t;
  bool bf16;
  std::vector<float> w;  // float32 weights, or the bf16 weights' exact values
  std::vector<uint16_t> w_bits;
  std::vector<float> x;
  std::vector<double> ref;      // [t, rows]
  std::vector<double> abs_sum;  // [t, rows]: sum_j |w_rj x_ij|
};

Case MakeCase(int rows, int cols, int64_t t, bool bf16, uint32_t seed) {
  std::mt19937 rng(seed);
  Case c{rows, cols, t, bf16};
  c.w = RandomValues(static_cast<size_t>(rows) * cols, &rng);
  if (bf16) {
    c.w_bits.resize(c.w.size());
    for (size_t i = 0; i < c.w.size(); ++i) {
      c.w_bits[i] = ToBF16(c.w[i]);
      c.w[i] = FromBF16(c.w_bits[i]);
    }
  }
  c.x = RandomValues(static_cast<size_t>(t) * cols, &rng);
  c.ref.assign(static_cast<size_t>(t) * rows, 0.0);
  c.abs_sum.assign(c.ref.size(), 0.0);
  for (int64_t i = 0; i < t; ++i) {
    for (int r = 0; r < rows; ++r) {
      double sum = 0, abs_sum = 0;
      for (int j = 0; j < cols; ++j) {
        const double p = static_cast<double>(c.w[static_cast<size_t>(r) * cols + j]) *
                         static_cast<double>(c.x[i * cols + j]);
        sum += p;
        abs_sum += std::fabs(p);
      }
      c.ref[i * rows + r] = sum;
      c.abs_sum[i * rows + r] = abs_sum;
    }
  }
  return c;
}

void RunMatMul(const Case& c, Isa isa, ThreadPool* pool, MatMulOutput output, float* y) {
  if (c.bf16) {
    matmul_internal::MatMulBF16WithIsa(isa, c.w_bits.data(), c.rows, c.cols, c.x.data(), c.t, y,
                                       pool, output);
  } else {
    matmul_internal::MatMulF32WithIsa(isa, c.w.data(), c.rows, c.cols, c.x.data(), c.t, y, pool,
                                      output);
  }
}

// Relative bound on the error of a float32 dot product against the exact
// sum, scaled by the sum of absolute products (the condition-free measure).
constexpr double kRelTol = 1e-5;
constexpr double kAbsTol = 1e-30;

// Checks y [t, rows] against the reference (plus y0 where accumulating).
// Returns false (after one failure message) on the first mismatch.
bool Matches(const Case& c, const std::vector<float>& y, const std::vector<float>* y0) {
  for (int64_t i = 0; i < c.t; ++i) {
    for (int r = 0; r < c.rows; ++r) {
      const size_t o = i * c.rows + r;
      const double base = y0 ? (*y0)[o] : 0.0;
      const double want = c.ref[o] + base;
      const double tol = kRelTol * (c.abs_sum[o] + std::fabs(base)) + kAbsTol;
      if (!(std::fabs(static_cast<double>(y[o]) - want) <= tol)) {
        ADD_FAILURE() << "y[" << i << "][" << r << "] = " << y[o] << ", want " << want
                      << " (tolerance " << tol << ")";
        return false;
      }
    }
  }
  return true;
}

std::vector<Isa> IsasToTest() {
  std::vector<Isa> isas = {Isa::kPortable};
  if (matmul_internal::Avx2FmaSupported()) isas.push_back(Isa::kAvx2Fma);
  return isas;
}

const char* IsaName(Isa isa) { return isa == Isa::kPortable ? "portable" : "avx2+fma"; }

TEST(MatMulTest, MatchesFloat64ReferenceAcrossShapes) {
  ThreadPool pool1(1);
  ThreadPool pool3(3);
  const std::vector<ThreadPool*> pools = {nullptr, &pool1, &pool3};
  uint32_t seed = 1;
  for (int rows : {1, 3, 65, 768}) {
    for (int cols : {1, 17, 64, 768, 3072}) {
      for (int64_t t : {1, 2, 4, 7, 64, 300}) {
        // Keep the test fast: the largest combinations add nothing new.
        if (static_cast<int64_t>(rows) * cols * t > 40'000'000) continue;
        for (bool bf16 : {false, true}) {
          const Case c = MakeCase(rows, cols, t, bf16, seed++);
          for (Isa isa : IsasToTest()) {
            for (ThreadPool* pool : pools) {
              SCOPED_TRACE(testing::Message()
                           << "rows=" << rows << " cols=" << cols << " t=" << t
                           << (bf16 ? " bf16" : " f32") << " isa=" << IsaName(isa)
                           << " threads=" << (pool ? pool->num_threads() : 0));
              // NaN fill: every output must be written.
              std::vector<float> y(static_cast<size_t>(t) * rows,
                                   std::numeric_limits<float>::quiet_NaN());
              RunMatMul(c, isa, pool, MatMulOutput::kOverwrite, y.data());
              ASSERT_TRUE(Matches(c, y, nullptr));
            }
            SCOPED_TRACE(testing::Message()
                         << "accumulate rows=" << rows << " cols=" << cols << " t=" << t
                         << (bf16 ? " bf16" : " f32") << " isa=" << IsaName(isa));
            std::mt19937 rng(seed);
            const std::vector<float> y0 = RandomValues(static_cast<size_t>(t) * rows, &rng);
            std::vector<float> y = y0;
            RunMatMul(c, isa, &pool3, MatMulOutput::kAccumulate, y.data());
            ASSERT_TRUE(Matches(c, y, &y0));
          }
        }
      }
    }
  }
}

// Every output's bits depend only on its own input row: a row computed in a
// batch of any size, at any position, on any number of threads, equals the
// same row computed alone.
TEST(MatMulTest, BatchInvariant) {
  ThreadPool pool3(3);
  const int rows = 77, cols = 600;  // two and a bit column tiles; ragged rows
  const int64_t t = 300;
  for (bool bf16 : {false, true}) {
    const Case c = MakeCase(rows, cols, t, bf16, 99);
    for (Isa isa : IsasToTest()) {
      SCOPED_TRACE(testing::Message() << (bf16 ? "bf16" : "f32") << " isa=" << IsaName(isa));
      std::vector<float> full(static_cast<size_t>(t) * rows);
      RunMatMul(c, isa, &pool3, MatMulOutput::kOverwrite, full.data());
      ASSERT_TRUE(Matches(c, full, nullptr));
      std::vector<float> full_single(full.size());
      RunMatMul(c, isa, nullptr, MatMulOutput::kOverwrite, full_single.data());
      ASSERT_EQ(0, std::memcmp(full.data(), full_single.data(), full.size() * sizeof(float)));

      // Sub-batches of every size the kernels treat differently, at odd offsets.
      for (int64_t len : {1, 2, 3, 4, 5, 7, 16, 131}) {
        for (int64_t start : {int64_t{0}, int64_t{1}, t - len}) {
          Case sub = c;
          sub.t = len;
          sub.x.assign(c.x.begin() + start * cols, c.x.begin() + (start + len) * cols);
          std::vector<float> y(static_cast<size_t>(len) * rows);
          RunMatMul(sub, isa, &pool3, MatMulOutput::kOverwrite, y.data());
          ASSERT_EQ(0, std::memcmp(y.data(), full.data() + start * rows, y.size() * sizeof(float)))
              << "len=" << len << " start=" << start;
        }
      }
    }
  }
}

TEST(MatMulTest, EmptyShapes) {
  ThreadPool pool(3);
  const std::vector<float> w(16, 1.0f), x(16, 1.0f);
  const std::vector<uint16_t> wb(16, ToBF16(1.0f));
  for (Isa isa : IsasToTest()) {
    // cols = 0: an empty sum writes zeros, or leaves y alone when accumulating.
    std::vector<float> y(6, 5.0f);
    matmul_internal::MatMulF32WithIsa(isa, w.data(), 3, 0, x.data(), 2, y.data(), &pool,
                                      MatMulOutput::kAccumulate);
    EXPECT_EQ(y, std::vector<float>(6, 5.0f));
    matmul_internal::MatMulF32WithIsa(isa, w.data(), 3, 0, x.data(), 2, y.data(), &pool,
                                      MatMulOutput::kOverwrite);
    EXPECT_EQ(y, std::vector<float>(6, 0.0f));
    std::fill(y.begin(), y.end(), 5.0f);
    matmul_internal::MatMulBF16WithIsa(isa, wb.data(), 3, 0, x.data(), 2, y.data(), &pool,
                                       MatMulOutput::kOverwrite);
    EXPECT_EQ(y, std::vector<float>(6, 0.0f));
    // rows = 0, t = 0 or negative sizes: nothing is touched.
    std::fill(y.begin(), y.end(), 5.0f);
    matmul_internal::MatMulF32WithIsa(isa, w.data(), 0, 4, x.data(), 2, y.data(), &pool,
                                      MatMulOutput::kOverwrite);
    matmul_internal::MatMulF32WithIsa(isa, w.data(), 3, 4, x.data(), 0, y.data(), &pool,
                                      MatMulOutput::kOverwrite);
    matmul_internal::MatMulBF16WithIsa(isa, wb.data(), -1, 4, x.data(), 2, y.data(), &pool,
                                       MatMulOutput::kOverwrite);
    matmul_internal::MatMulBF16WithIsa(isa, wb.data(), 3, 4, x.data(), -2, y.data(), &pool,
                                       MatMulOutput::kOverwrite);
    EXPECT_EQ(y, std::vector<float>(6, 5.0f));
  }
}

// NaN and infinity propagate (no flush or special-casing), on every path.
TEST(MatMulTest, PropagatesNanAndInf) {
  const int rows = 5, cols = 37;
  for (Isa isa : IsasToTest()) {
    for (int64_t t : {1, 6}) {
      std::vector<float> w(rows * cols, 0.5f), x(t * cols, 1.0f);
      w[2 * cols + 36] = std::numeric_limits<float>::infinity();  // row 2, in the tail
      x[0 * cols + 3] = std::numeric_limits<float>::quiet_NaN();  // input 0
      std::vector<float> y(t * rows);
      matmul_internal::MatMulF32WithIsa(isa, w.data(), rows, cols, x.data(), t, y.data(), nullptr,
                                        MatMulOutput::kOverwrite);
      SCOPED_TRACE(testing::Message() << "isa=" << IsaName(isa) << " t=" << t);
      for (int r = 0; r < rows; ++r) EXPECT_TRUE(std::isnan(y[r])) << "row " << r;
      for (int64_t i = 1; i < t; ++i) {
        for (int r = 0; r < rows; ++r) {
          if (r == 2) {
            EXPECT_EQ(y[i * rows + r], std::numeric_limits<float>::infinity());
          } else {
            EXPECT_EQ(y[i * rows + r], 0.5f * cols);
          }
        }
      }
    }
  }
}

TEST(MatMulTest, PublicEntryPointsUseBestIsa) {
  const std::string name = MatMulIsaName();
  EXPECT_EQ(name, matmul_internal::Avx2FmaSupported() ? "avx2+fma" : "portable");
  const Case c = MakeCase(40, 100, 9, /*bf16=*/true, 7);
  std::vector<float> y(c.t * c.rows), want(y.size());
  ThreadPool pool(2);
  MatMulBF16(c.w_bits.data(), c.rows, c.cols, c.x.data(), c.t, y.data(), &pool);
  RunMatMul(c, matmul_internal::BestIsa(), nullptr, MatMulOutput::kOverwrite, want.data());
  EXPECT_EQ(0, std::memcmp(y.data(), want.data(), y.size() * sizeof(float)));
  ASSERT_TRUE(Matches(c, y, nullptr));
  const Case f = MakeCase(40, 100, 1, /*bf16=*/false, 8);
  std::vector<float> yf(f.rows);
  MatMulF32(f.w.data(), f.rows, f.cols, f.x.data(), 1, yf.data(), nullptr);
  ASSERT_TRUE(Matches(f, yf, nullptr));
}

}  // namespace
}  // namespace gander::kernels::cpu
