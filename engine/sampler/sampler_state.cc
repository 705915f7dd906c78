#include "engine/sampler/sampler_state.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/little_endian.h"
#include "engine/sampler/internal/crc32.h"

namespace gander::engine {
namespace {

constexpr char kMagic[4] = {'G', 'S', 'M', 'P'};
constexpr size_t kHeaderBytes = 17;  // magic, version, position, n
constexpr size_t kEntryBytes = 8;    // token id, count
constexpr size_t kCrcBytes = 4;

absl::Status Truncated(size_t size, size_t needed, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("sampler state truncated: ", size, " bytes, ", what, " needs ", needed));
}

}  // namespace

std::string SamplerState::Serialize() const {
  std::vector<std::pair<int, float>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  out.reserve(kHeaderBytes + kEntryBytes * sorted.size() + kCrcBytes);
  out.append(kMagic, sizeof(kMagic));
  out.push_back(static_cast<char>(kVersion));
  AppendLe64(&out, position);
  AppendLe32(&out, static_cast<uint32_t>(sorted.size()));
  for (const auto& [token, count] : sorted) {
    AppendLe32(&out, static_cast<uint32_t>(token));
    AppendLe32(&out, FloatBits(count));
  }
  AppendLe32(&out, sampler_internal::Crc32(out));
  return out;
}

absl::StatusOr<SamplerState> SamplerState::Deserialize(absl::string_view bytes) {
  const size_t size = bytes.size();
  if (size < sizeof(kMagic) + 1) return Truncated(size, sizeof(kMagic) + 1, "magic and version");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError("not a sampler state: bad magic at offset 0 (expected \"GSMP\")");
  }
  const uint8_t version = static_cast<uint8_t>(bytes[4]);
  if (version != kVersion) {
    return absl::InvalidArgumentError(absl::StrCat("sampler state version ", version,
                                                   " at offset 4 is not supported (this "
                                                   "build reads version ",
                                                   kVersion, ")"));
  }
  if (size < kHeaderBytes + kCrcBytes) return Truncated(size, kHeaderBytes + kCrcBytes, "header");
  const uint64_t n = LoadLe32(bytes.data() + 13);
  const uint64_t expected = kHeaderBytes + kEntryBytes * n + kCrcBytes;
  if (size != expected) {
    return absl::DataLossError(absl::StrCat("sampler state size mismatch: ", n,
                                            " counts (offset 13) need ", expected, " bytes, got ",
                                            size));
  }
  const size_t crc_offset = size - kCrcBytes;
  const uint32_t stored_crc = LoadLe32(bytes.data() + crc_offset);
  const uint32_t actual_crc = sampler_internal::Crc32(bytes.substr(0, crc_offset));
  if (stored_crc != actual_crc) {
    return absl::DataLossError(absl::StrCat("sampler state checksum mismatch at offset ",
                                            crc_offset, ": stored ", stored_crc, ", computed ",
                                            actual_crc));
  }
  SamplerState state;
  state.position = LoadLe64(bytes.data() + 5);
  state.counts.reserve(n);
  int64_t previous_id = -1;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t offset = kHeaderBytes + kEntryBytes * i;
    const uint32_t id = LoadLe32(bytes.data() + offset);
    const float count = BitsFloat(LoadLe32(bytes.data() + offset + 4));
    if (id > static_cast<uint32_t>(std::numeric_limits<int>::max()) ||
        static_cast<int64_t>(id) <= previous_id) {
      return absl::DataLossError(absl::StrCat("sampler state count ", i, " at offset ", offset,
                                              ": token id ", id,
                                              " is out of range or not increasing"));
    }
    if (!std::isfinite(count) || !(count > 0.0f)) {
      return absl::DataLossError(absl::StrCat("sampler state count ", i, " at offset ", offset + 4,
                                              ": count ", count, " is not finite and positive"));
    }
    state.counts.emplace(static_cast<int>(id), count);
    previous_id = id;
  }
  return state;
}

bool operator==(const SamplerState& a, const SamplerState& b) {
  if (a.position != b.position || a.counts.size() != b.counts.size()) return false;
  for (const auto& [token, count] : a.counts) {
    auto it = b.counts.find(token);
    if (it == b.counts.end() || FloatBits(it->second) != FloatBits(count)) return false;
  }
  return true;
}

}  // namespace gander::engine
