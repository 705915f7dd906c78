// GANDER_HD marks a function compiled for both the host and the device:
// `__host__ __device__` under nvcc, nothing for a plain C++ compiler. The
// *_math.h headers use it so that the per-element maths of the kernels is
// the very code the CPU tests check.
#ifndef GANDER_KERNELS_CUDA_HOST_DEVICE_H_
#define GANDER_KERNELS_CUDA_HOST_DEVICE_H_

#ifdef __CUDACC__
#define GANDER_HD __host__ __device__
#else
#define GANDER_HD
#endif

#endif  // GANDER_KERNELS_CUDA_HOST_DEVICE_H_
