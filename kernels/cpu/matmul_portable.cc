// Portable matmul kernels: plain C++ that the compiler vectorises for the
// build's baseline instruction set. The fallback where AVX2 + FMA is missing,
// and the second implementation the tests check against the reference.

#include <cstdint>
#include <cstring>

#include "kernels/cpu/matmul_internal.h"

namespace gander::kernels::cpu::matmul_internal {
namespace {

// Independent partial sums per dot product: written so the compiler can map
// them onto vector lanes without reassociating anything itself.
constexpr int kLanes = 8;

inline float LoadWeight(const float* w, int64_t i) { return w[i]; }

inline float LoadWeight(const uint16_t* w, int64_t i) {
  const uint32_t bits = static_cast<uint32_t>(w[i]) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

template <typename W>
float Dot(const W* w, const float* x, int n) {
  float acc[kLanes] = {};
  int k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += LoadWeight(w, k + l) * x[k + l];
  }
  for (int l = 0; k < n; ++k, ++l) acc[l] += LoadWeight(w, k) * x[k];
  // Pairwise combination of the lanes.
  for (int width = kLanes / 2; width > 0; width /= 2) {
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  }
  return acc[0];
}

template <typename W>
void Part(const Problem<W>& p, int r_begin, int r_end, int64_t t_begin, int64_t t_end) {
  for (int r = r_begin; r < r_end; ++r) {
    const W* w_row = p.w + static_cast<int64_t>(r) * p.cols;
    for (int64_t i = t_begin; i < t_end; ++i) {
      const float sum = Dot(w_row, p.x + i * p.cols, p.cols);
      float& out = p.y[i * p.rows + r];
      out = p.accumulate ? out + sum : sum;
    }
  }
}

}  // namespace

void PortablePartF32(const Problem<float>& p, int r_begin, int r_end, int64_t t_begin,
                     int64_t t_end) {
  Part(p, r_begin, r_end, t_begin, t_end);
}

void PortablePartBF16(const Problem<uint16_t>& p, int r_begin, int r_end, int64_t t_begin,
                      int64_t t_end) {
  Part(p, r_begin, r_end, t_begin, t_end);
}

}  // namespace gander::kernels::cpu::matmul_internal
