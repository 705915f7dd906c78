// A bit-reproducible exp() for the sampler, in scalar and two-lane vector
// forms that return identical bits.
//
// libm's exp() may round differently from one C library (or version) to
// another, which would let the same logits sample different tokens on
// different machines. This one uses only +, -, *, / (each correctly rounded
// by IEEE 754) and integer operations on the bits, so with floating-point
// contraction off (this package is compiled with -ffp-contract=off) it gives
// the same bits everywhere, and the vector form gives the same bits as the
// scalar one lane by lane. Accuracy is about 1e-14 relative.
//
// Method: x = k ln2 + r with k = round(x / ln2) (rounded by adding and
// subtracting 1.5 * 2^52, which also leaves k in the low bits) and
// |r| <= ln2 / 2 (Cody-Waite reduction with ln2 split in two); e^r by its
// degree-11 Taylor polynomial (truncation error < 1e-14 relative); 2^k built
// from its exponent bits.
//
// Example:
//   double w = sampler_internal::DeterministicExp(-1.5);  // ~0.22313
//   Double2 w2 = sampler_internal::DeterministicExp2(Double2{-1.5, 0.0});
//
// Pure functions; thread-safe. Being inline, they are only reproducible in
// code compiled with -ffp-contract=off (this package's targets). Double2 is
// a GCC/Clang vector extension (SSE2 on x86-64, NEON on Arm, plain scalar
// code elsewhere).
#ifndef GANDER_ENGINE_SAMPLER_INTERNAL_DET_EXP_H_
#define GANDER_ENGINE_SAMPLER_INTERNAL_DET_EXP_H_

#include <cstdint>
#include <cstring>
#include <limits>

namespace gander::engine::sampler_internal {

typedef double Double2 __attribute__((vector_size(16)));
typedef int64_t Int2 __attribute__((vector_size(16)));

// e^x for x in [-700, 700] (scalar or Double2), no range checks.
template <typename D, typename I>
inline D ExpInRange(D x) {
  // ln 2 split into a high part with 21 trailing zero bits (so k * kLn2Hi is
  // exact for |k| < 2^21) and the remainder.
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kInvLn2 = 1.44269504088896338700e+00;
  // Adding 1.5 * 2^52 rounds a double of magnitude < 2^51 to an integer
  // (to nearest, ties to even) held in the low mantissa bits.
  constexpr double kShifter = 6755399441055744.0;
  constexpr int64_t kShifterBits = 0x4338000000000000;
  // 1 / n! for n = 2..11, correctly rounded step by step at compile time.
  constexpr double kC2 = 1.0 / 2, kC3 = kC2 / 3, kC4 = kC3 / 4, kC5 = kC4 / 5, kC6 = kC5 / 6,
                   kC7 = kC6 / 7, kC8 = kC7 / 8, kC9 = kC8 / 9, kC10 = kC9 / 10, kC11 = kC10 / 11;

  const D shifted = x * kInvLn2 + kShifter;
  const D k = shifted - kShifter;
  const D r = (x - k * kLn2Hi) - k * kLn2Lo;
  D p = r * kC11 + kC10;
  p = p * r + kC9;
  p = p * r + kC8;
  p = p * r + kC7;
  p = p * r + kC6;
  p = p * r + kC5;
  p = p * r + kC4;
  p = p * r + kC3;
  p = p * r + kC2;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k, k in [-1010, 1010]: biased exponent k + 1023, a normal double.
  I bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  bits = (bits - kShifterBits + 1023) << 52;
  D scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// e^x. Exactly 1 for x == 0; exactly 0 for x < -700, -inf and NaN (the
// sampler's weight of an impossible token); +inf for x > 700.
inline double DeterministicExp(double x) {
  if (!(x >= -700.0)) return 0.0;
  if (x > 700.0) return std::numeric_limits<double>::infinity();
  return ExpInRange<double, int64_t>(x);
}

// DeterministicExp on two lanes, for x <= 700 (or NaN); the same bits as the
// scalar form in each lane.
inline Double2 DeterministicExp2(Double2 x) {
  const Int2 low = (x >= -700.0) == 0;  // also true for NaN
  const Double2 clamped = low ? Double2{} - 700.0 : x;
  const Double2 e = ExpInRange<Double2, Int2>(clamped);
  return low ? Double2{} : e;
}

}  // namespace gander::engine::sampler_internal

#endif  // GANDER_ENGINE_SAMPLER_INTERNAL_DET_EXP_H_
