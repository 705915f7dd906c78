#include "storage/store_internal.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "xxhash.h"

namespace gander::storage::internal {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

constexpr char kPageTokenVersion = 1;

}  // namespace

absl::Status ValidateName(absl::string_view what, absl::string_view value, size_t max_length) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (value.size() > max_length) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", value.size(), " characters long; the limit is ", max_length));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!IsNameChar(value[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has a character outside [A-Za-z0-9._:-] at offset ", i, " (byte 0x",
                       absl::Hex(static_cast<unsigned char>(value[i]), absl::kZeroPad2), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateCreateRequest(const CreateStreamRequest& request, bool with_fingerprint) {
  GANDER_RETURN_IF_ERROR(ValidateName("stream id", request.id));
  GANDER_RETURN_IF_ERROR(ValidateName("tenant", request.tenant));
  if (with_fingerprint) {
    GANDER_RETURN_IF_ERROR(
        ValidateName("model fingerprint", request.model_fingerprint, kMaxFingerprintLength));
  }
  return absl::OkStatus();
}

absl::Status ValidateCheckpointBytes(absl::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("checkpoint is empty");
  if (bytes.size() > kMaxCheckpointBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint is ", bytes.size(), " bytes; the limit is ", kMaxCheckpointBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateLeaseTtl(absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration() || ttl > kMaxLeaseTtl) {
    return absl::InvalidArgumentError(absl::StrCat("lease ttl ", absl::FormatDuration(ttl),
                                                   " is outside (0, ",
                                                   absl::FormatDuration(kMaxLeaseTtl), "]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateIdleTtl(absl::Duration idle_ttl) {
  if (idle_ttl < absl::ZeroDuration() || idle_ttl == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("idle ttl ", absl::FormatDuration(idle_ttl), " is negative or infinite"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePageSize(int page_size) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page size ", page_size, " is outside 1..", kMaxPageSize));
  }
  return absl::OkStatus();
}

std::string CheckpointHash::Hex() const {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

CheckpointHash HashCheckpoint(absl::string_view bytes) {
  const XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  CheckpointHash result;
  static_assert(sizeof(canonical.digest) == sizeof(result.bytes));
  std::memcpy(result.bytes.data(), canonical.digest, sizeof(canonical.digest));
  return result;
}

bool CheckpointHashFromKey(absl::string_view key, CheckpointHash* hash) {
  if (key.size() != hash->bytes.size()) return false;
  std::memcpy(hash->bytes.data(), key.data(), key.size());
  return true;
}

uint64_t Checksum64(absl::string_view data) { return XXH3_64bits(data.data(), data.size()); }

absl::Time TruncateToMicros(absl::Time t) { return absl::FromUnixMicros(absl::ToUnixMicros(t)); }

Clock* ClockOrReal(Clock* clock) { return clock != nullptr ? clock : Clock::Real(); }

std::string EncodePageToken(absl::string_view tenant, absl::string_view last_id) {
  // [version][tenant length][tenant][last id][4 bytes of XXH3-64 of the
  // rest], web-safe base64 without padding. Tenants are at most
  // kMaxNameLength (< 256) characters. The check bytes catch a mangled or
  // truncated token (they authenticate nothing).
  std::string raw;
  raw.push_back(kPageTokenVersion);
  raw.push_back(static_cast<char>(tenant.size()));
  absl::StrAppend(&raw, tenant, last_id);
  const uint64_t check = Checksum64(raw);
  for (int i = 0; i < 4; ++i) raw.push_back(static_cast<char>(check >> (8 * i)));
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view tenant, absl::string_view token) {
  if (token.empty()) return std::string();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < 2 + 4 ||
      raw[0] != kPageTokenVersion) {
    return absl::InvalidArgumentError("page token is malformed");
  }
  const uint64_t check = Checksum64(absl::string_view(raw).substr(0, raw.size() - 4));
  for (int i = 0; i < 4; ++i) {
    if (raw[raw.size() - 4 + i] != static_cast<char>(check >> (8 * i))) {
      return absl::InvalidArgumentError("page token is malformed (check bytes differ)");
    }
  }
  raw.resize(raw.size() - 4);
  const size_t tenant_size = static_cast<unsigned char>(raw[1]);
  if (raw.size() < 2 + tenant_size || absl::string_view(raw).substr(2, tenant_size) != tenant) {
    return absl::InvalidArgumentError(
        absl::StrCat("page token was not issued for tenant '", tenant, "'"));
  }
  std::string last_id = raw.substr(2 + tenant_size);
  if (!ValidateName("page token's stream id", last_id).ok()) {
    return absl::InvalidArgumentError("page token is malformed");
  }
  return last_id;
}

}  // namespace gander::storage::internal
