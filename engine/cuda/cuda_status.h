// CUDA and cuBLAS results as absl::Status: every call the CUDA backend makes
// goes through these, so a failure names the call and the error and never
// aborts.
//
//   RESOURCE_EXHAUSTED  out of device memory (cudaErrorMemoryAllocation,
//                       CUBLAS_STATUS_ALLOC_FAILED)
//   FAILED_PRECONDITION no usable device or driver (cudaErrorNoDevice,
//                       cudaErrorInsufficientDriver, ...)
//   INTERNAL            anything else
//
// Example:
//   GANDER_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, bytes));
//   // -> RESOURCE_EXHAUSTED "cudaMalloc(&p, bytes) failed: cudaErrorMemoryAllocation
//   //    (out of memory)"
#ifndef GANDER_ENGINE_CUDA_CUDA_STATUS_H_
#define GANDER_ENGINE_CUDA_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace gander::engine::cuda {

// OK for cudaSuccess; otherwise the code above with "<call> failed: <name>
// (<description>)".
absl::Status CudaStatus(cudaError_t error, absl::string_view call);
// OK for CUBLAS_STATUS_SUCCESS; otherwise "<call> failed: <name>".
absl::Status CublasStatus(cublasStatus_t status, absl::string_view call);

}  // namespace gander::engine::cuda

// Evaluates a CUDA runtime call (or a kernel wrapper returning cudaError_t)
// and returns its Status from the enclosing function when it failed.
#define GANDER_CUDA_RETURN_IF_ERROR(expr)                                                   \
  do {                                                                                      \
    if (const cudaError_t gander_cuda_error_ = (expr); gander_cuda_error_ != cudaSuccess) { \
      return ::gander::engine::cuda::CudaStatus(gander_cuda_error_, #expr);                 \
    }                                                                                       \
  } while (false)

// The same for a cuBLAS call.
#define GANDER_CUBLAS_RETURN_IF_ERROR(expr)                                      \
  do {                                                                           \
    if (const cublasStatus_t gander_cublas_status_ = (expr);                     \
        gander_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                        \
      return ::gander::engine::cuda::CublasStatus(gander_cublas_status_, #expr); \
    }                                                                            \
  } while (false)

#endif  // GANDER_ENGINE_CUDA_CUDA_STATUS_H_
