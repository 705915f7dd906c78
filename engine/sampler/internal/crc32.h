// CRC-32 (the IEEE 802.3 polynomial, reflected, as used by zlib and PNG) for
// the sampler state's integrity check. Small inputs only; no table lookups
// beyond one 256-entry table built at compile time.
//
// Example:
//   uint32_t crc = sampler_internal::Crc32(bytes);  // Crc32("123456789") == 0xCBF43926
//
// Pure function; thread-safe.
#ifndef GANDER_ENGINE_SAMPLER_INTERNAL_CRC32_H_
#define GANDER_ENGINE_SAMPLER_INTERNAL_CRC32_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace gander::engine::sampler_internal {

uint32_t Crc32(absl::string_view bytes);

}  // namespace gander::engine::sampler_internal

#endif  // GANDER_ENGINE_SAMPLER_INTERNAL_CRC32_H_
