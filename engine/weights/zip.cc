#include "engine/weights/zip.h"

#include <array>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace gander::engine::weights_internal {
namespace {

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t Le64(const uint8_t* p) {
  return static_cast<uint64_t>(Le32(p)) | (static_cast<uint64_t>(Le32(p + 4)) << 32);
}

constexpr size_t kEndRecordSize = 22;
constexpr size_t kLocatorSize = 20;
constexpr size_t kZip64EndMinSize = 56;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;

absl::Status Corrupt(uint64_t offset, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("corrupt ZIP archive at byte offset ", offset, ": ", what));
}

// Slicing-by-8 tables for the reflected polynomial 0xedb88320.
const std::array<std::array<uint32_t, 256>, 8>& CrcTables() {
  static const auto* tables = [] {
    auto* t = new std::array<std::array<uint32_t, 256>, 8>();
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      (*t)[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s)
        (*t)[s][i] = ((*t)[s - 1][i] >> 8) ^ (*t)[0][(*t)[s - 1][i] & 0xff];
    }
    return t;
  }();
  return *tables;
}

// The ZIP64 extended information of a central directory header: replaces
// each 32-bit field that holds 0xffffffff, in order.
absl::Status ApplyZip64Extra(const uint8_t* extra, size_t extra_size, uint64_t extra_offset,
                             uint64_t* uncompressed, uint64_t* compressed, uint64_t* local_offset) {
  size_t pos = 0;
  while (extra_size - pos >= 4) {
    const uint16_t id = Le16(extra + pos);
    const uint16_t size = Le16(extra + pos + 2);
    if (size > extra_size - pos - 4) {
      return Corrupt(extra_offset + pos, "extra field runs past its header");
    }
    if (id == 0x0001) {
      const uint8_t* field = extra + pos + 4;
      size_t used = 0;
      for (uint64_t* value : {uncompressed, compressed, local_offset}) {
        if (*value != 0xffffffffu) continue;
        if (size - used < 8) return Corrupt(extra_offset + pos, "ZIP64 extra field too short");
        *value = Le64(field + used);
        used += 8;
      }
      return absl::OkStatus();
    }
    pos += 4 + size;
  }
  if (*uncompressed == 0xffffffffu || *compressed == 0xffffffffu || *local_offset == 0xffffffffu) {
    return Corrupt(extra_offset, "ZIP64 sizes announced but no ZIP64 extra field");
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t Crc32(uint32_t crc, absl::Span<const uint8_t> bytes) {
  const auto& t = CrcTables();
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  crc = ~crc;
  while (n >= 8) {
    const uint32_t lo = Le32(p) ^ crc;
    const uint32_t hi = Le32(p + 4);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

absl::StatusOr<std::vector<ZipEntry>> ReadZipDirectory(absl::Span<const uint8_t> file) {
  const uint8_t* base = file.data();
  const uint64_t size = file.size();
  if (size < kEndRecordSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ZIP archive of ", size, " bytes is too short for an end of central directory record"));
  }
  // The end record is the last 22 bytes plus a comment of at most 65535.
  uint64_t end = 0;
  bool found = false;
  const uint64_t lowest = size - kEndRecordSize > 0xffff ? size - kEndRecordSize - 0xffff : 0;
  for (uint64_t p = size - kEndRecordSize + 1; p-- > lowest;) {
    if (Le32(base + p) == kZipEndSignature && p + kEndRecordSize + Le16(base + p + 20) == size) {
      end = p;
      found = true;
      break;
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(
        absl::StrCat("no ZIP end of central directory record in the last bytes of the file (", size,
                     " bytes): the file is truncated or not a ZIP archive"));
  }
  const uint8_t* e = base + end;
  uint64_t entry_count = Le16(e + 10);
  uint64_t directory_size = Le32(e + 12);
  uint64_t directory_offset = Le32(e + 16);
  uint64_t directory_limit = end;  // the directory must end before this
  if (end >= kLocatorSize && Le32(e - kLocatorSize) == kZip64LocatorSignature) {
    const uint64_t locator = end - kLocatorSize;
    const uint64_t record = Le64(base + locator + 8);
    if (Le32(base + locator + 4) != 0 || Le32(base + locator + 16) > 1) {
      return Corrupt(locator, "multi-disk ZIP64 archives are not supported");
    }
    if (record > locator || locator - record < kZip64EndMinSize) {
      return Corrupt(locator, absl::StrCat("ZIP64 end record offset ", record, " out of range"));
    }
    const uint8_t* z = base + record;
    if (Le32(z) != kZip64EndSignature) return Corrupt(record, "bad ZIP64 end record signature");
    if (Le32(z + 16) != 0 || Le32(z + 20) != 0) {
      return Corrupt(record, "multi-disk ZIP64 archives are not supported");
    }
    entry_count = Le64(z + 32);
    directory_size = Le64(z + 40);
    directory_offset = Le64(z + 48);
    directory_limit = record;
  } else {
    if (Le16(e + 4) != 0 || Le16(e + 6) != 0) {
      return Corrupt(end, "multi-disk ZIP archives are not supported");
    }
    if (entry_count == 0xffff || directory_size == 0xffffffffu || directory_offset == 0xffffffffu) {
      return Corrupt(end, "ZIP64 values announced but the ZIP64 locator is missing");
    }
  }
  if (directory_offset > directory_limit || directory_size > directory_limit - directory_offset) {
    return Corrupt(end, absl::StrCat("central directory [", directory_offset, ", +", directory_size,
                                     ") does not end before offset ", directory_limit));
  }
  if (entry_count > directory_size / kCentralHeaderSize) {
    return Corrupt(end, absl::StrCat(entry_count, " entries cannot fit a central directory of ",
                                     directory_size, " bytes"));
  }

  std::vector<ZipEntry> entries;
  entries.reserve(entry_count);
  absl::flat_hash_set<std::string> names;
  const uint64_t directory_end = directory_offset + directory_size;
  uint64_t q = directory_offset;
  for (uint64_t i = 0; i < entry_count; ++i) {
    if (directory_end - q < kCentralHeaderSize) {
      return Corrupt(q, "central directory header runs past the directory");
    }
    const uint8_t* h = base + q;
    if (Le32(h) != kZipCentralHeaderSignature) {
      return Corrupt(q, "bad central directory header signature");
    }
    const uint16_t flags = Le16(h + 8);
    ZipEntry entry;
    entry.method = Le16(h + 10);
    entry.crc32 = Le32(h + 16);
    uint64_t compressed = Le32(h + 20);
    uint64_t uncompressed = Le32(h + 24);
    const uint16_t name_size = Le16(h + 28);
    const uint16_t extra_size = Le16(h + 30);
    const uint16_t comment_size = Le16(h + 32);
    const uint16_t disk = Le16(h + 34);
    uint64_t local = Le32(h + 42);
    const uint64_t record_size = kCentralHeaderSize + name_size + extra_size + comment_size;
    if (directory_end - q < record_size) {
      return Corrupt(q, "central directory header runs past the directory");
    }
    entry.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_size);
    absl::Status status =
        ApplyZip64Extra(h + kCentralHeaderSize + name_size, extra_size,
                        q + kCentralHeaderSize + name_size, &uncompressed, &compressed, &local);
    if (!status.ok()) return status;
    if (flags & 1) return Corrupt(q, absl::StrCat("entry '", entry.name, "' is encrypted"));
    if (disk != 0 && disk != 0xffff) {
      return Corrupt(q, absl::StrCat("entry '", entry.name, "' is on another disk"));
    }
    if (entry.method == 0 && compressed != uncompressed) {
      return Corrupt(q, absl::StrCat("stored entry '", entry.name, "' has compressed size ",
                                     compressed, " but size ", uncompressed));
    }
    if (local > directory_offset || directory_offset - local < kLocalHeaderSize) {
      return Corrupt(q, absl::StrCat("entry '", entry.name, "': local header offset ", local,
                                     " out of range"));
    }
    const uint8_t* l = base + local;
    if (Le32(l) != kZipLocalHeaderSignature) {
      return Corrupt(local,
                     absl::StrCat("bad local header signature for entry '", entry.name, "'"));
    }
    const uint64_t local_name_size = Le16(l + 26);
    const uint64_t data = local + kLocalHeaderSize + local_name_size + Le16(l + 28);
    if (data > directory_offset || compressed > directory_offset - data) {
      return Corrupt(local, absl::StrCat("data of entry '", entry.name, "' ([", data, ", +",
                                         compressed, ")) runs into the central directory"));
    }
    if (local_name_size != name_size ||
        std::memcmp(l + kLocalHeaderSize, entry.name.data(), name_size) != 0) {
      return Corrupt(local, absl::StrCat("local header name differs from central directory "
                                         "name '",
                                         entry.name, "'"));
    }
    entry.header_offset = local;
    entry.data_offset = data;
    entry.size = compressed;
    entry.uncompressed_size = uncompressed;
    if (!names.insert(entry.name).second) {
      return Corrupt(q, absl::StrCat("duplicate entry '", entry.name, "'"));
    }
    entries.push_back(std::move(entry));
    q += record_size;
  }
  return entries;
}

}  // namespace gander::engine::weights_internal
