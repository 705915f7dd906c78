// Internals shared by the StateStore implementations (storage/): argument
// validation, checkpoint hashing, page tokens and time truncation. One
// definition of each rule, so the in-memory model and the RocksDB store
// cannot disagree on what is valid.
// Not part of the public API: include only from storage/ sources and tests.
//
// Example:
//   GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
//   internal::CheckpointHash hash = internal::HashCheckpoint(bytes);
//   std::string id = hash.Hex();  // 32 lowercase hex characters
//
// Thread safety: every function is pure (thread-safe).
#ifndef GANDER_STORAGE_STORE_INTERNAL_H_
#define GANDER_STORAGE_STORE_INTERNAL_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/state_store.h"

namespace gander::storage::internal {

inline constexpr size_t kMaxNameLength = 128;         // ids, tenants, owners
inline constexpr size_t kMaxFingerprintLength = 256;  // model fingerprints
inline constexpr size_t kMaxCheckpointBytes = size_t{1} << 30;
inline constexpr int kMaxPageSize = 1000;
inline constexpr absl::Duration kMaxLeaseTtl = absl::Hours(24);

// OK when `value` is 1..max_length characters of [A-Za-z0-9._:-];
// INVALID_ARGUMENT naming `what` and the offending character otherwise.
absl::Status ValidateName(absl::string_view what, absl::string_view value,
                          size_t max_length = kMaxNameLength);
// id and tenant (and, when `with_fingerprint`, model_fingerprint).
absl::Status ValidateCreateRequest(const CreateStreamRequest& request, bool with_fingerprint);
// Non-empty and at most kMaxCheckpointBytes.
absl::Status ValidateCheckpointBytes(absl::string_view bytes);
// In (0, kMaxLeaseTtl].
absl::Status ValidateLeaseTtl(absl::Duration ttl);
// Finite and >= 0.
absl::Status ValidateIdleTtl(absl::Duration idle_ttl);
// In 1..kMaxPageSize.
absl::Status ValidatePageSize(int page_size);

// The content hash of a checkpoint: XXH3-128 in its canonical (big-endian)
// byte order.
struct CheckpointHash {
  std::array<uint8_t, 16> bytes{};

  // The 16 raw bytes (the RocksDB key of the checkpoint).
  std::string Key() const { return std::string(bytes.begin(), bytes.end()); }
  // 32 lowercase hex characters (VersionInfo::checkpoint_id).
  std::string Hex() const;
  friend bool operator==(const CheckpointHash& a, const CheckpointHash& b) {
    return a.bytes == b.bytes;
  }
  friend bool operator!=(const CheckpointHash& a, const CheckpointHash& b) { return !(a == b); }
  friend bool operator<(const CheckpointHash& a, const CheckpointHash& b) {
    return a.bytes < b.bytes;
  }
};
CheckpointHash HashCheckpoint(absl::string_view bytes);
// The inverse of CheckpointHash::Key; false when `key` is not 16 bytes long.
bool CheckpointHashFromKey(absl::string_view key, CheckpointHash* hash);

// A 64-bit checksum (XXH3-64) of `data`.
uint64_t Checksum64(absl::string_view data);

// `t` truncated to whole microseconds (toward the past): the resolution at
// which the stores record times.
absl::Time TruncateToMicros(absl::Time t);
// Clock::Real() when `clock` is null.
Clock* ClockOrReal(Clock* clock);

// An opaque token naming the last id of a page of `tenant`'s streams.
std::string EncodePageToken(absl::string_view tenant, absl::string_view last_id);
// The last id named by `token` ("" for an empty token, the first page).
// INVALID_ARGUMENT when it is malformed or was issued for another tenant.
absl::StatusOr<std::string> DecodePageToken(absl::string_view tenant, absl::string_view token);

}  // namespace gander::storage::internal

#endif  // GANDER_STORAGE_STORE_INTERNAL_H_
