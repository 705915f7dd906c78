// AddScaled on the GPU against a plain CPU loop, at sizes that exercise a
// partial block, several blocks and the grid-stride loop.
#include "kernels/cuda/elementwise.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace gander::kernels::cuda {
namespace {

class ElementwiseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    cudaError_t err = DeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
      GTEST_SKIP() << "skipped: no CUDA device (" << cudaGetErrorName(err) << ")";
    }
  }
};

TEST_F(ElementwiseTest, AddScaledMatchesCpu) {
  for (int64_t n : {1, 255, 1000, 70'000'000}) {
    std::vector<float> x(n), y(n), expected(n);
    for (int64_t i = 0; i < n; ++i) {
      x[i] = std::sin(0.001f * i);
      y[i] = std::cos(0.002f * i);
      expected[i] = y[i] + 0.5f * x[i];
    }
    float *dx = nullptr, *dy = nullptr;
    ASSERT_EQ(cudaMalloc(&dx, n * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, n * sizeof(float)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
    ASSERT_EQ(AddScaled(0.5f, dx, dy, n, nullptr), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
    cudaFree(dx);
    cudaFree(dy);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_FLOAT_EQ(y[i], expected[i]) << "n=" << n << " i=" << i;
    }
  }
}

// Argument checks happen before any launch, so they need no device.
TEST(ElementwiseArgs, RejectsNegativeLength) {
  EXPECT_EQ(AddScaled(1.0f, nullptr, nullptr, -1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(AddScaled(1.0f, nullptr, nullptr, 0, nullptr), cudaSuccess);
}

}  // namespace
}  // namespace gander::kernels::cuda
