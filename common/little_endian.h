// Little-endian encoding of fixed-size integers and floats, for the
// project's persisted formats (state snapshots, sampler state, store
// records). Byte by byte, so correct on any host and at any alignment.
//
// Example:
//   std::string out;
//   AppendLe32(&out, 7);
//   uint32_t seven = LoadLe32(out.data());
#ifndef GANDER_COMMON_LITTLE_ENDIAN_H_
#define GANDER_COMMON_LITTLE_ENDIAN_H_

#include <cstdint>
#include <cstring>
#include <string>

namespace gander {

// Writes v at p[0..N) (N = 2, 4, 8 bytes).
inline void StoreLe16(char* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void StoreLe32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void StoreLe64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// Appends v to *out.
inline void AppendLe32(std::string* out, uint32_t v) {
  char bytes[4];
  StoreLe32(bytes, v);
  out->append(bytes, sizeof(bytes));
}
inline void AppendLe64(std::string* out, uint64_t v) {
  char bytes[8];
  StoreLe64(bytes, v);
  out->append(bytes, sizeof(bytes));
}

// Reads the value stored at p[0..N).
inline uint16_t LoadLe16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
inline uint32_t LoadLe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}
inline uint64_t LoadLe64(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}

// The bits of an IEEE-754 float, and back.
inline uint32_t FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}
inline float BitsFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

}  // namespace gander

#endif  // GANDER_COMMON_LITTLE_ENDIAN_H_
