// Element-wise CUDA kernels over float32 vectors.
//
// Framework-free: device pointers, element counts and a stream in, a
// cudaError_t out. Launches are asynchronous on `stream`; an error from the
// launch itself is returned, errors of the kernel's execution surface at the
// next synchronising call on the stream. Nothing here allocates.
//
// Example:
//   cudaError_t err = gander::kernels::cuda::AddScaled(1.0f, d_x, d_y, n, stream);
#ifndef GANDER_KERNELS_CUDA_ELEMENTWISE_H_
#define GANDER_KERNELS_CUDA_ELEMENTWISE_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace gander::kernels::cuda {

// y[i] += alpha * x[i] for i in [0, n): the residual add when alpha = 1.
// x [n] float32 (device), y [n] float32 (device, updated in place); x and y
// may not overlap unless equal. n = 0 launches nothing and succeeds.
cudaError_t AddScaled(float alpha, const float* x, float* y, int64_t n, cudaStream_t stream);

// Number of CUDA devices visible to this process. Returns the runtime's
// error (for example cudaErrorInsufficientDriver or cudaErrorNoDevice) on a
// machine without a usable GPU; *count is then 0.
cudaError_t DeviceCount(int* count);

}  // namespace gander::kernels::cuda

#endif  // GANDER_KERNELS_CUDA_ELEMENTWISE_H_
