// Conversions between float32 and the two 16-bit float formats that model
// files use: bfloat16 (bf16: float32's sign and 8-bit exponent, 7 mantissa
// bits) and IEEE half (fp16: 5-bit exponent, 10 mantissa bits). Values are
// passed as their raw uint16_t bit patterns, little-endian hosts assumed.
//
// Example:
//   uint16_t b = FloatToBf16(0.1f);   // 0x3dcd (round to nearest, ties to even)
//   float f = Bf16ToFloat(b);         // 0.10009765625f
//   float h = HalfToFloat(0x3c00);    // 1.0f
//   uint16_t x = FloatToHalf(1.0f);   // 0x3c00 (round to nearest, ties to even)
//
// Pure functions: no state, thread-safe, never fail. NaN stays NaN (quiet),
// infinities stay infinite; values beyond the target's range round to
// infinity as IEEE rounding says.
#ifndef GANDER_ENGINE_WEIGHTS_BF16_H_
#define GANDER_ENGINE_WEIGHTS_BF16_H_

#include <cstdint>
#include <cstring>

namespace gander::engine {

// float32 -> bf16 bits, rounding to nearest with ties to even.
inline uint16_t FloatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    // NaN: keep the sign and the top mantissa bits, force a quiet NaN so
    // that truncation can never turn it into infinity.
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  }
  // Adding 0x7fff plus the lowest kept bit rounds to nearest, ties to even;
  // a carry into the exponent is exactly the right result (up to infinity).
  const uint32_t lsb = (bits >> 16) & 1u;
  bits += 0x7fffu + lsb;
  return static_cast<uint16_t>(bits >> 16);
}

// bf16 bits -> float32 (exact).
inline float Bf16ToFloat(uint16_t bf16) {
  const uint32_t bits = static_cast<uint32_t>(bf16) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// IEEE half bits -> float32 (exact, subnormals included).
inline float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal: value = mantissa * 2^-24; normalise it for float32.
    uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | ((113u - shift) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// float32 -> IEEE half bits, rounding to nearest with ties to even
// (including into and out of the subnormal range); beyond 65504 rounds to
// infinity as IEEE says.
inline uint16_t FloatToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return sign | 0x7e00u;   // NaN -> quiet NaN
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520: infinity
  if (magnitude < 0x38800000u) {
    // Below 2^-14: a subnormal half, mantissa = value * 2^24 rounded to
    // nearest even (1024 is the smallest normal, encoded the same way).
    if (magnitude < 0x33000000u) return sign;   // <= 2^-25: rounds to zero
    const uint32_t exponent = magnitude >> 23;  // 102 .. 112
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exponent;  // 14 .. 24
    uint32_t result = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half_way = 1u << (shift - 1);
    if (rest > half_way || (rest == half_way && (result & 1))) ++result;
    return sign | static_cast<uint16_t>(result);
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits;
  // a carry into the exponent is the correctly rounded result.
  uint32_t result = ((magnitude >> 23) - 112) << 10 | ((magnitude >> 13) & 0x3ffu);
  const uint32_t rest = magnitude & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (result & 1))) ++result;
  return sign | static_cast<uint16_t>(result);
}

}  // namespace gander::engine

#endif  // GANDER_ENGINE_WEIGHTS_BF16_H_
