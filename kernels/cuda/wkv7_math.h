// The per-row arithmetic of the RWKV-7 (x070) WKV update, shared by the CUDA
// kernel (kernels/cuda/wkv7.cu) and a plain C++ test that checks it against
// the CPU engine (kernels/cpu/wkv7.h) in the default, CUDA-free build.
//
// For one head with state S [N][N] (indexed [i = value][j = key]) and one
// token, row i of S changes as
//   sa      = sum_j S[i][j] * (-kk[j])                  (old row)
//   S[i][j] = S[i][j] * w[j] + sa * kka[j] + v_i * k[j]  (kka[j] = kk[j] * a[j])
//   y_i     = sum_j S[i][j] * r[j]                       (new row)
// Rows are independent given the head's vectors, which is what lets the
// kernel give each row to its own thread.
//
// Example (row i of head h, all vectors already sliced to the head):
//   float kka[64];
//   for (int j = 0; j < 64; ++j) kka[j] = Wkv7Kka(kk[j], a[j]);
//   y[i] = Wkv7UpdateRow<64>(row_i, v[i], r, w, k, kk, kka);
//
// Header only, no CUDA dependency; every function is pure (reentrant, no
// shared state) and cannot fail. Everything is float32.
#ifndef GANDER_KERNELS_CUDA_WKV7_MATH_H_
#define GANDER_KERNELS_CUDA_WKV7_MATH_H_

#include "kernels/cuda/host_device.h"

// Full unrolling lets the device compiler keep a row in registers; host
// compilers do not need (or know) the pragma.
#ifdef __CUDA_ARCH__
#define GANDER_WKV7_UNROLL _Pragma("unroll")
#else
#define GANDER_WKV7_UNROLL
#endif

namespace gander::kernels::cuda {

// The removal weight of key channel j: kk[j] * a[j].
GANDER_HD inline float Wkv7Kka(float kk, float a) { return kk * a; }

// Advances one state row by one token and returns y_i.
// row [N]: S[i][.], updated in place. v_i: v[i]. r, w, k, kk, kka [N]: this
// head's vectors for the token (kk L2-normalised, kka from Wkv7Kka). The
// sums use four partial accumulators in the same order as the CPU engine.
template <int N>
GANDER_HD inline float Wkv7UpdateRow(float (&row)[N], float v_i, const float* r, const float* w,
                                     const float* k, const float* kk, const float* kka) {
  static_assert(N > 0 && N % 4 == 0, "head size must be a positive multiple of 4");
  float sa0 = 0.0f, sa1 = 0.0f, sa2 = 0.0f, sa3 = 0.0f;
  GANDER_WKV7_UNROLL
  for (int j = 0; j < N; j += 4) {
    sa0 -= row[j] * kk[j];
    sa1 -= row[j + 1] * kk[j + 1];
    sa2 -= row[j + 2] * kk[j + 2];
    sa3 -= row[j + 3] * kk[j + 3];
  }
  const float sa = (sa0 + sa1) + (sa2 + sa3);

  float y0 = 0.0f, y1 = 0.0f, y2 = 0.0f, y3 = 0.0f;
  GANDER_WKV7_UNROLL
  for (int j = 0; j < N; j += 4) {
    row[j] = row[j] * w[j] + sa * kka[j] + v_i * k[j];
    row[j + 1] = row[j + 1] * w[j + 1] + sa * kka[j + 1] + v_i * k[j + 1];
    row[j + 2] = row[j + 2] * w[j + 2] + sa * kka[j + 2] + v_i * k[j + 2];
    row[j + 3] = row[j + 3] * w[j + 3] + sa * kka[j + 3] + v_i * k[j + 3];
    y0 += row[j] * r[j];
    y1 += row[j + 1] * r[j + 1];
    y2 += row[j + 2] * r[j + 2];
    y3 += row[j + 3] * r[j + 3];
  }
  return (y0 + y1) + (y2 + y3);
}

}  // namespace gander::kernels::cuda

#undef GANDER_WKV7_UNROLL

#endif  // GANDER_KERNELS_CUDA_WKV7_MATH_H_
