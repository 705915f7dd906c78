// Gemm on the GPU against a double-precision CPU product, for each element
// type, at shapes that are not multiples of the tensor-core tiles.
#include "kernels/cuda/gemm.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/weights/bf16.h"
#include "gtest/gtest.h"
#include "kernels/cuda/elementwise.h"

namespace gander::kernels::cuda {
namespace {

TEST(GemmArgs, RejectsBadShapesWithoutADevice) {
  float y = 0;
  EXPECT_EQ(Gemm(nullptr, DataType::kF32, nullptr, 0, 4, nullptr, 1, &y),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(Gemm(nullptr, DataType::kF32, nullptr, 4, 4, nullptr, -1, &y),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(Gemm(nullptr, DataType::kF32, nullptr, 4, 4, nullptr, 0, &y), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(Gemm(nullptr, DataType::kF32, nullptr, 4, 4, nullptr, 2, &y),
            CUBLAS_STATUS_INVALID_VALUE);
}

class GemmTest : public ::testing::TestWithParam<DataType> {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t err = DeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
      GTEST_SKIP() << "skipped: no CUDA device (" << cudaGetErrorName(err) << ")";
    }
    ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS);
  }
  void TearDown() override {
    if (handle_ != nullptr) cublasDestroy(handle_);
  }
  cublasHandle_t handle_ = nullptr;
};

// Rounds to the element type and back, so the CPU product uses exactly the
// values the GPU sees.
float Round(DataType type, float v) {
  if (type == DataType::kF16) return engine::HalfToFloat(engine::FloatToHalf(v));
  if (type == DataType::kBF16) return engine::Bf16ToFloat(engine::FloatToBf16(v));
  return v;
}

std::vector<uint16_t> Bits(DataType type, const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    out[i] = type == DataType::kF16 ? engine::FloatToHalf(v[i]) : engine::FloatToBf16(v[i]);
  }
  return out;
}

TEST_P(GemmTest, MatchesCpuProduct) {
  const DataType type = GetParam();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto [rows, cols, t] : {std::tuple{7, 5, 1}, {130, 96, 3}, {768, 768, 17}, {64, 3072, 1}}) {
    std::vector<float> w(static_cast<size_t>(rows) * cols), x(static_cast<size_t>(t) * cols);
    for (float& v : w) v = Round(type, dist(rng));
    for (float& v : x) v = Round(type, dist(rng));
    const size_t elem = type == DataType::kF32 ? 4 : 2;
    void *dw = nullptr, *dx = nullptr;
    float* dy = nullptr;
    ASSERT_EQ(cudaMalloc(&dw, w.size() * elem), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dx, x.size() * elem), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, static_cast<size_t>(t) * rows * 4), cudaSuccess);
    if (type == DataType::kF32) {
      cudaMemcpy(dw, w.data(), w.size() * 4, cudaMemcpyHostToDevice);
      cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
    } else {
      std::vector<uint16_t> wb = Bits(type, w), xb = Bits(type, x);
      cudaMemcpy(dw, wb.data(), wb.size() * 2, cudaMemcpyHostToDevice);
      cudaMemcpy(dx, xb.data(), xb.size() * 2, cudaMemcpyHostToDevice);
    }
    ASSERT_EQ(Gemm(handle_, type, dw, rows, cols, dx, t, dy), CUBLAS_STATUS_SUCCESS);
    std::vector<float> y(static_cast<size_t>(t) * rows);
    ASSERT_EQ(cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    cudaFree(dw);
    cudaFree(dx);
    cudaFree(dy);
    for (int i = 0; i < t; ++i) {
      for (int r = 0; r < rows; ++r) {
        double want = 0, scale = 0;
        for (int c = 0; c < cols; ++c) {
          want += static_cast<double>(w[static_cast<size_t>(r) * cols + c]) * x[i * cols + c];
          scale +=
              std::abs(static_cast<double>(w[static_cast<size_t>(r) * cols + c]) * x[i * cols + c]);
        }
        ASSERT_NEAR(y[static_cast<size_t>(i) * rows + r], want, 1e-5 * scale + 1e-6)
            << rows << "x" << cols << " t=" << t << " at " << i << "," << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, GemmTest,
                         ::testing::Values(DataType::kF32, DataType::kF16, DataType::kBF16));

}  // namespace
}  // namespace gander::kernels::cuda
