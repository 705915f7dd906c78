// The RWKV-7 (x070) state update for one token, on the CPU.
//
// For each head h, with S = state[h] (N x N, indexed [i = value][j = key]):
//   sa[i]   = sum_j S[i][j] * (-kk[j])                 (the old S)
//   S[i][j] = S[i][j] * w[j] + sa[i] * kk[j] * a[j] + v[i] * k[j]
//   y[i]    = sum_j S[i][j] * r[j]                     (the new S)
// i.e. S <- S (diag(w) - kk (kk*a)^T) + v k^T, y = S r. Everything float32.
//
// Example (one token, all heads):
//   Wkv7Step(heads, 64, state, r, w, k, v, kk, a, y);
#ifndef GANDER_KERNELS_CPU_WKV7_H_
#define GANDER_KERNELS_CPU_WKV7_H_

namespace gander::kernels::cpu {

// state [heads][n][n] float32, updated in place. r, w, k, v, kk, a and y are
// [heads * n], head-major; kk is already L2-normalised per head; y is
// written. No aliasing between y and the inputs. Reentrant: no shared state.
void Wkv7Step(int heads, int n, float* state, const float* r, const float* w, const float* k,
              const float* v, const float* kk, const float* a, float* y);

}  // namespace gander::kernels::cpu

#endif  // GANDER_KERNELS_CPU_WKV7_H_
