#include "kernels/cpu/wkv7.h"

namespace gander::kernels::cpu {

void Wkv7Step(int heads, int n, float* state, const float* r, const float* w, const float* k,
              const float* v, const float* kk, const float* a, float* y) {
  constexpr int kMaxN = 256;
  float kka[kMaxN];  // kk[j] * a[j] for the current head
  for (int h = 0; h < heads; ++h) {
    float* s = state + static_cast<long>(h) * n * n;
    const int o = h * n;
    for (int j = 0; j < n; ++j) kka[j] = kk[o + j] * a[o + j];
    for (int i = 0; i < n; ++i) {
      float* row = s + static_cast<long>(i) * n;
      // Four partial sums let the compiler keep several lanes busy; the
      // order is fixed, so results are reproducible run to run.
      float sa0 = 0, sa1 = 0, sa2 = 0, sa3 = 0;
      int j = 0;
      for (; j + 4 <= n; j += 4) {
        sa0 -= row[j] * kk[o + j];
        sa1 -= row[j + 1] * kk[o + j + 1];
        sa2 -= row[j + 2] * kk[o + j + 2];
        sa3 -= row[j + 3] * kk[o + j + 3];
      }
      float sa = (sa0 + sa1) + (sa2 + sa3);
      for (; j < n; ++j) sa -= row[j] * kk[o + j];

      const float vi = v[o + i];
      float y0 = 0, y1 = 0, y2 = 0, y3 = 0;
      j = 0;
      for (; j + 4 <= n; j += 4) {
        row[j] = row[j] * w[o + j] + sa * kka[j] + vi * k[o + j];
        row[j + 1] = row[j + 1] * w[o + j + 1] + sa * kka[j + 1] + vi * k[o + j + 1];
        row[j + 2] = row[j + 2] * w[o + j + 2] + sa * kka[j + 2] + vi * k[o + j + 2];
        row[j + 3] = row[j + 3] * w[o + j + 3] + sa * kka[j + 3] + vi * k[o + j + 3];
        y0 += row[j] * r[o + j];
        y1 += row[j + 1] * r[o + j + 1];
        y2 += row[j + 2] * r[o + j + 2];
        y3 += row[j + 3] * r[o + j + 3];
      }
      float yi = (y0 + y1) + (y2 + y3);
      for (; j < n; ++j) {
        row[j] = row[j] * w[o + j] + sa * kka[j] + vi * k[o + j];
        yi += row[j] * r[o + j];
      }
      y[o + i] = yi;
    }
  }
}

}  // namespace gander::kernels::cpu
