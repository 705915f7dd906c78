// Normalisations used by RWKV-7, on the CPU, float32.
//
// Example:
//   LayerNorm(x, c, weight, bias, 1e-5f, out);          // one row [c]
//   GroupNorm(y, groups, n, weight, bias, 64e-5f, out);  // [groups * n]
#ifndef GANDER_KERNELS_CPU_NORM_H_
#define GANDER_KERNELS_CPU_NORM_H_

namespace gander::kernels::cpu {

// out = (x - mean) / sqrt(var + eps) * weight + bias over one row [c], with
// the biased variance. x, weight, bias, out [c]; out may equal x.
void LayerNorm(const float* x, int c, const float* weight, const float* bias, float eps,
               float* out);

// LayerNorm applied to each of `groups` consecutive slices of size n of x,
// then scaled by weight [groups * n] and shifted by bias [groups * n].
// out may equal x.
void GroupNorm(const float* x, int groups, int n, const float* weight, const float* bias, float eps,
               float* out);

}  // namespace gander::kernels::cpu

#endif  // GANDER_KERNELS_CPU_NORM_H_
