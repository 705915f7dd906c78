#include "kernels/cuda/elementwise.h"

namespace gander::kernels::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void AddScaledKernel(float alpha, const float* __restrict__ x, float* y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    y[i] += alpha * x[i];
  }
}

}  // namespace

cudaError_t AddScaled(float alpha, const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  // Grid-stride loop: enough blocks to fill a large GPU, capped so that the
  // grid size always fits.
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(wanted < 65535 ? wanted : 65535);
  AddScaledKernel<<<blocks, kThreads, 0, stream>>>(alpha, x, y, n);
  return cudaGetLastError();
}

cudaError_t DeviceCount(int* count) {
  *count = 0;
  return cudaGetDeviceCount(count);
}

}  // namespace gander::kernels::cuda
