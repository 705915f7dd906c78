// The Status a failed CUDA or cuBLAS call turns into: code, call text and
// error name. Needs the CUDA runtime library but no device.
#include "engine/cuda/cuda_status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::cuda {
namespace {

using ::testing::HasSubstr;

absl::Status FailingMalloc() {
  GANDER_CUDA_RETURN_IF_ERROR(cudaErrorMemoryAllocation);
  return absl::OkStatus();
}

absl::Status FailingCublas() {
  GANDER_CUBLAS_RETURN_IF_ERROR(CUBLAS_STATUS_EXECUTION_FAILED);
  return absl::OkStatus();
}

absl::Status Fine() {
  GANDER_CUDA_RETURN_IF_ERROR(cudaSuccess);
  GANDER_CUBLAS_RETURN_IF_ERROR(CUBLAS_STATUS_SUCCESS);
  return absl::OkStatus();
}

TEST(CudaStatusTest, NamesTheCallAndTheError) {
  const absl::Status s = FailingMalloc();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("cudaErrorMemoryAllocation"));
  EXPECT_THAT(s.message(), HasSubstr("failed"));

  const absl::Status c = FailingCublas();
  EXPECT_EQ(c.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(c.message(), HasSubstr("CUBLAS_STATUS_EXECUTION_FAILED"));
  EXPECT_THAT(c.message(), HasSubstr("CUBLAS_STATUS_EXECUTION_FAILED failed"));

  EXPECT_TRUE(Fine().ok());
}

TEST(CudaStatusTest, NoDeviceIsAPrecondition) {
  const absl::Status s = CudaStatus(cudaErrorNoDevice, "cudaSetDevice(0)");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("cudaSetDevice(0) failed: cudaErrorNoDevice"));
  EXPECT_EQ(CudaStatus(cudaErrorInsufficientDriver, "x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CudaStatus(cudaErrorIllegalAddress, "cudaStreamSynchronize(s)").code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(CublasStatus(CUBLAS_STATUS_ALLOC_FAILED, "cublasCreate(&h)").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(CudaStatus(cudaSuccess, "x").ok());
}

}  // namespace
}  // namespace gander::engine::cuda
