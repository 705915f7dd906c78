#include "kernels/cpu/norm.h"

#include <cmath>

namespace gander::kernels::cpu {
namespace {

// Mean and biased variance of x [n], accumulated in double so that long rows
// (C = 4096) lose nothing to cancellation.
void Moments(const float* x, int n, float* mean, float* var) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += x[i];
  const double m = sum / n;
  double sq = 0;
  for (int i = 0; i < n; ++i) {
    const double d = x[i] - m;
    sq += d * d;
  }
  *mean = static_cast<float>(m);
  *var = static_cast<float>(sq / n);
}

}  // namespace

void LayerNorm(const float* x, int c, const float* weight, const float* bias, float eps,
               float* out) {
  float mean, var;
  Moments(x, c, &mean, &var);
  const float inv = 1.0f / std::sqrt(var + eps);
  for (int i = 0; i < c; ++i) out[i] = (x[i] - mean) * inv * weight[i] + bias[i];
}

void GroupNorm(const float* x, int groups, int n, const float* weight, const float* bias, float eps,
               float* out) {
  for (int g = 0; g < groups; ++g) {
    LayerNorm(x + g * n, n, weight + g * n, bias + g * n, eps, out + g * n);
  }
}

}  // namespace gander::kernels::cpu
