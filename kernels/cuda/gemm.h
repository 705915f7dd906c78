// The projections of the forward pass on cuBLAS: Y = X · W^T with float32
// accumulation and a float32 result.
//
// Shapes (row-major): W [rows, cols] (out x in, as engine/weights holds
// every matrix), X [t, cols], Y [t, rows]. W and X have the same element
// type: fp32 (plain float32 arithmetic, never TF32), fp16 or bf16 (tensor
// cores, float32 accumulation). Callers convert X to W's type first
// (ConvertFloats in rwkv7_ops.h).
//
// Runs on the stream the handle is bound to (cublasSetStream). Safe inside
// CUDA graph capture when the handle has a workspace set
// (cublasSetWorkspace). Not thread-safe per handle.
//
// Failure: bad sizes or null pointers return CUBLAS_STATUS_INVALID_VALUE
// before any cuBLAS call; otherwise cuBLAS's own status.
//
// Example:
//   cublasStatus_t s = Gemm(handle, DataType::kF16, w, C, C, x16, t, y);
#ifndef GANDER_KERNELS_CUDA_GEMM_H_
#define GANDER_KERNELS_CUDA_GEMM_H_

#include <cublas_v2.h>

#include "kernels/cuda/rwkv7_ops.h"

namespace gander::kernels::cuda {

// Y[t, rows] = X[t, cols] · W[rows, cols]^T. t = 0 does nothing.
cublasStatus_t Gemm(cublasHandle_t handle, DataType type, const void* w, int rows, int cols,
                    const void* x, int t, float* y);

}  // namespace gander::kernels::cuda

#endif  // GANDER_KERNELS_CUDA_GEMM_H_
