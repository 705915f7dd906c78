// Scalar arithmetic of the RWKV-7 element-wise CUDA kernels (rwkv7_ops.cu),
// written once as inline functions that compile for both the host and the
// device. The kernels call these; the default (non-CUDA) build tests them
// against the CPU engine (engine/model.cc, kernels/cpu/norm.cc,
// engine/weights/bf16.h), which is how the per-element maths is checked on
// machines without a GPU.
//
// Example:
//   using namespace gander::kernels::cuda::rwkv7_math;
//   float w = Decay(w0 + w_lora);                 // exp(-e^-0.5 * sigmoid(.))
//   float x = ShiftMix(xa, prev, mix);            // xa + (prev - xa) * mix
//   uint16_t h = FloatToHalfBits(1.0f);           // 0x3c00
//
// Layer norm of one row [c] is split into the pieces a parallel reduction
// needs: accumulate the values in double (any order), RowMean, accumulate
// CenteredSquare in double, InvStd, then NormValue per element. This is the
// CPU engine's formula (double moments, float normalisation).
//
// Pure functions: no state, thread-safe, never fail. NaN stays NaN.
#ifndef GANDER_KERNELS_CUDA_RWKV7_OPS_MATH_H_
#define GANDER_KERNELS_CUDA_RWKV7_OPS_MATH_H_

#include <math.h>

#include <cstdint>
#include <cstring>

#include "kernels/cuda/host_device.h"

namespace gander::kernels::cuda::rwkv7_math {

// exp(-0.5): the scale of the decay exponent.
constexpr float kDecayScale = 0.6065306597126334f;
// Lower bound of a head's L2 norm when kk is normalised.
constexpr float kMinL2Norm = 1e-12f;

// ---- Bit casts ----

GANDER_HD inline uint32_t FloatBits(float value) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(value);
#else
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
#endif
}

GANDER_HD inline float BitsToFloat(uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
#endif
}

// ---- Activations and the time-mix formulas ----

// 1 / (1 + e^-x).
GANDER_HD inline float Sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// tanh(x).
GANDER_HD inline float Tanh(float x) { return tanhf(x); }

// max(x, 0)^2, the channel-mix activation.
GANDER_HD inline float SquaredRelu(float x) {
  const float h = x > 0.0f ? x : 0.0f;
  return h * h;
}

// The decay w = exp(-e^-0.5 * sigmoid(x)), x = w0 + the LoRA output.
GANDER_HD inline float Decay(float x) { return expf(-kDecayScale * Sigmoid(x)); }

// Token shift: the input of one projection, xa + (prev - xa) * mix.
GANDER_HD inline float ShiftMix(float xa, float prev, float mix) {
  const float d = prev - xa;
  return xa + d * mix;
}

// The key after the in-context learning rate: k * (1 + (a - 1) * k_a).
GANDER_HD inline float KeyAdjust(float k, float a, float k_a) {
  return k * (1.0f + (a - 1.0f) * k_a);
}

// The value residual of layers after the first: v + (v_first - v) *
// sigmoid(x), x = v0 + the LoRA output.
GANDER_HD inline float ValueResidual(float v, float v_first, float x) {
  return v + (v_first - v) * Sigmoid(x);
}

// 1 / max(sqrt(sum_sq), 1e-12): the scale that L2-normalises a head of kk.
GANDER_HD inline float L2InverseNorm(float sum_sq) {
  const float norm = sqrtf(sum_sq);
  return 1.0f / (norm > kMinL2Norm ? norm : kMinL2Norm);
}

// The attention output of one element after the group norm: (normed +
// bonus * v) * g, with bonus = sum over the head of r * k * r_k.
GANDER_HD inline float BonusGate(float normed, float bonus, float v, float g) {
  float y = normed;
  y += bonus * v;
  return y * g;
}

// ---- Layer norm pieces ----

// The mean of a row of n values whose sum (accumulated in double) is `sum`.
GANDER_HD inline double RowMean(double sum, int n) { return sum / n; }

// One term of the centred sum of squares, in double.
GANDER_HD inline double CenteredSquare(float x, double mean) {
  const double d = x - mean;
  return d * d;
}

// 1 / sqrt(var + eps) with the biased variance var = centered_sq / n,
// rounded to float first as the CPU engine does.
GANDER_HD inline float InvStd(double centered_sq, int n, float eps) {
  const float var = static_cast<float>(centered_sq / n);
  return 1.0f / sqrtf(var + eps);
}

// One normalised element: (x - mean) * inv_std * weight + bias, mean as
// float.
GANDER_HD inline float NormValue(float x, float mean, float inv_std, float weight, float bias) {
  return (x - mean) * inv_std * weight + bias;
}

// ---- 16-bit floats ----

// bf16 bits -> float (exact).
GANDER_HD inline float Bf16BitsToFloat(uint16_t bits) {
  return BitsToFloat(static_cast<uint32_t>(bits) << 16);
}

// IEEE half bits -> float (exact, subnormals included).
GANDER_HD inline float HalfBitsToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0x1fu) return BitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return BitsToFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24, exact in float.
  const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
  return sign != 0 ? -magnitude : magnitude;
}

// float -> bf16 bits, round to nearest, ties to even; overflow rounds to
// infinity. A NaN keeps its sign and top payload bits and becomes quiet.
GANDER_HD inline uint16_t FloatToBf16Bits(float value) {
  const uint32_t bits = FloatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  uint32_t kept = bits >> 16;
  const uint32_t rest = bits & 0xffffu;
  if (rest > 0x8000u || (rest == 0x8000u && (kept & 1u) != 0)) ++kept;  // may carry up to inf
  return static_cast<uint16_t>(kept);
}

// float -> IEEE half bits, round to nearest, ties to even, into and out of
// the subnormal range; magnitudes from 65520 up become infinity; NaN
// becomes the quiet NaN 0x7e00 with the input's sign.
GANDER_HD inline uint16_t FloatToHalfBits(float value) {
  const uint32_t bits = FloatBits(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (magnitude >= 0x47800000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 2^16, inf
  const int exponent = static_cast<int>(magnitude >> 23) - 127;
  // Below 2^-25 everything rounds to zero (exactly 2^-25 is a tie to 0).
  if (exponent < -25) return static_cast<uint16_t>(sign);
  const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;  // 24 bits
  // A normal half keeps 11 significant bits; a subnormal one fewer for
  // every binade below 2^-14.
  const int dropped = exponent >= -14 ? 13 : 13 + (-14 - exponent);  // 13 .. 24
  const uint32_t kept = significand >> dropped;
  const uint32_t rest = significand & ((1u << dropped) - 1u);
  const uint32_t half_way = 1u << (dropped - 1);
  // For a normal half, kept holds the implicit bit (0x400), so adding
  // (exponent + 14) << 10 gives the biased exponent field exponent + 15.
  uint32_t result = (exponent >= -14 ? static_cast<uint32_t>(exponent + 14) << 10 : 0u) + kept;
  // Rounding may carry into the exponent: subnormal -> smallest normal,
  // 65504 -> infinity; both are the correctly rounded results.
  if (rest > half_way || (rest == half_way && (result & 1u) != 0)) ++result;
  return static_cast<uint16_t>(sign | result);
}

}  // namespace gander::kernels::cuda::rwkv7_math

#endif  // GANDER_KERNELS_CUDA_RWKV7_OPS_MATH_H_
