// The ZIP container of PyTorch checkpoints: reading the central directory of
// a mapped file (ZIP64 included) and CRC-32. Only what `.pth` files need:
// one disk, no encryption; entries are reported with their compression
// method so the caller can refuse compressed ones. Internal to
// engine/weights.
//
// Example:
//   absl::StatusOr<std::vector<ZipEntry>> entries = ReadZipDirectory(file->bytes());
//   for (const ZipEntry& e : *entries) { ... file->bytes().subspan(e.data_offset, e.size) ... }
//
// Thread-safe (pure functions). Errors: INVALID_ARGUMENT naming the byte
// offset (and the entry) of the record that is missing, truncated or
// inconsistent. Every offset and size is checked against the file, so a
// returned entry's data always lies inside it.
#ifndef GANDER_ENGINE_WEIGHTS_ZIP_H_
#define GANDER_ENGINE_WEIGHTS_ZIP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace gander::engine::weights_internal {

inline constexpr uint32_t kZipLocalHeaderSignature = 0x04034b50;
inline constexpr uint32_t kZipCentralHeaderSignature = 0x02014b50;
inline constexpr uint32_t kZipEndSignature = 0x06054b50;
inline constexpr uint32_t kZip64EndSignature = 0x06064b50;
inline constexpr uint32_t kZip64LocatorSignature = 0x07064b50;

struct ZipEntry {
  std::string name;
  uint16_t method = 0;         // 0 = stored; anything else is compressed
  uint32_t crc32 = 0;          // of the uncompressed data, from the directory
  uint64_t header_offset = 0;  // of the local file header
  uint64_t data_offset = 0;    // of the (stored) data
  uint64_t size = 0;           // compressed size == stored size for method 0
  uint64_t uncompressed_size = 0;
};

// The entries of the ZIP archive `file`, in central directory order. Names
// must be unique.
absl::StatusOr<std::vector<ZipEntry>> ReadZipDirectory(absl::Span<const uint8_t> file);

// Continues a CRC-32 (ISO-HDLC, as in ZIP) over `bytes`; start with crc = 0.
uint32_t Crc32(uint32_t crc, absl::Span<const uint8_t> bytes);

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_ZIP_H_
