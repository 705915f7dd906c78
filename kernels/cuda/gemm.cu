#include "kernels/cuda/gemm.h"

namespace gander::kernels::cuda {

cublasStatus_t Gemm(cublasHandle_t handle, DataType type, const void* w, int rows, int cols,
                    const void* x, int t, float* y) {
  if (rows <= 0 || cols <= 0 || t < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (t == 0) return CUBLAS_STATUS_SUCCESS;
  if (handle == nullptr || w == nullptr || x == nullptr || y == nullptr) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  cudaDataType_t element;
  switch (type) {
    case DataType::kF32:
      element = CUDA_R_32F;
      break;
    case DataType::kF16:
      element = CUDA_R_16F;
      break;
    case DataType::kBF16:
      element = CUDA_R_16BF;
      break;
    default:
      return CUBLAS_STATUS_INVALID_VALUE;
  }
  // cuBLAS is column-major: row-major Y [t, rows] is column-major
  // Y' [rows, t] = W' · X' with W' = (column-major [cols, rows] W)^T and
  // X' = column-major [cols, t] X.
  const float alpha = 1.0f, beta = 0.0f;
  return cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, rows, t, cols, &alpha, w, element, cols, x,
                      element, cols, &beta, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                      CUBLAS_GEMM_DEFAULT);
}

}  // namespace gander::kernels::cuda
