// The on-disk layout of the RocksDB state store: column families, key
// encodings, the records stored as values, and the RocksDB options of each
// column family. Internal to storage/ (the store, its tests and the blob
// benchmark, which open the database directly).
//
// Column families (layout version 1):
//   default      "format" -> FormatRecord; "next_epoch" -> EpochRecord
//   streams      id -> StreamRecord (its retained versions are exactly
//                oldest_version..version: reads and retention look them up
//                directly, never scanning past deleted versions)
//   versions     id \0 version (8 bytes, big-endian) -> VersionRecord
//   checkpoints  hash (16 bytes, XXH3-128 canonical) -> the checkpoint bytes
//   refcounts    hash (16 bytes) -> RefRecord (count, size)
//   tenants      tenant \0 id -> TenantRecord (no fields)
//   leases       id -> LeaseRecord
// Ids and tenants never contain \0 (storage/store_internal.h), so an id's
// versions and a tenant's streams are exactly the keys under "id \0" and
// "tenant \0", in version and id order.
//
// Records (every value except checkpoint bytes), little-endian:
//   u8 kind, u8 record format (1), fields..., u64 checksum
// where strings are u32 length + bytes and the checksum is XXH3-64 of
// (u32 key length, key, every value byte before the checksum): a value
// moved under another key fails its checksum too. Decoding checks size,
// checksum, kind, format and that no byte is left over: DATA_LOSS on any
// mismatch, except a record with a valid checksum in a newer format
// (FAILED_PRECONDITION).
//
// Example:
//   std::string value = EncodeStreamRecord(id, record);
//   absl::StatusOr<StreamRecord> back = DecodeStreamRecord(id, value);
//
// Thread safety: every function is pure (thread-safe).
#ifndef GANDER_STORAGE_ROCKSDB_LAYOUT_H_
#define GANDER_STORAGE_ROCKSDB_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/status.h"
#include "storage/rocksdb_state_store.h"
#include "storage/store_internal.h"

namespace gander::storage::internal {

inline constexpr uint32_t kLayoutVersion = 1;

// Column families, in the order of their handles.
enum ColumnFamily : int {
  kDefaultCf = 0,
  kStreamsCf,
  kVersionsCf,
  kCheckpointsCf,
  kRefcountsCf,
  kTenantsCf,
  kLeasesCf,
  kNumColumnFamilies,
};
const char* ColumnFamilyName(int cf);

// Checkpoints of at least this size go to blob files when
// RocksDbStoreOptions::use_blob_files is set.
inline constexpr uint64_t kBlobMinBytes = 64 << 10;

// The database options and the descriptors of every column family, in
// ColumnFamily order, for `options` (shared by the store, tests that open
// the database directly, and the blob benchmark).
struct DbConfig {
  rocksdb::DBOptions db;
  std::vector<rocksdb::ColumnFamilyDescriptor> column_families;
};
DbConfig MakeDbConfig(const RocksDbStoreOptions& options);

// Keys.
inline constexpr char kFormatKey[] = "format";
inline constexpr char kNextEpochKey[] = "next_epoch";
std::string VersionKey(absl::string_view id, uint64_t version);
// The first key after every version key of `id`.
std::string VersionKeyEnd(absl::string_view id);
bool ParseVersionKey(absl::string_view key, std::string* id, uint64_t* version);
std::string TenantKey(absl::string_view tenant, absl::string_view id);
std::string TenantKeyEnd(absl::string_view tenant);
bool ParseTenantKey(absl::string_view key, std::string* tenant, std::string* id);

// Records.
struct StreamRecord {
  std::string tenant;
  std::string model_fingerprint;
  uint64_t version = 0;         // head
  uint64_t oldest_version = 0;  // oldest retained; 0 when there are no versions
  uint64_t token_count = 0;
  std::string parent_id;
  uint64_t parent_version = 0;
  int64_t created_us = 0;  // Unix microseconds
  int64_t updated_us = 0;
};
struct VersionRecord {
  CheckpointHash hash;
  uint64_t token_count = 0;
  uint64_t size = 0;
  int64_t created_us = 0;
};
struct RefRecord {
  uint64_t count = 0;  // versions naming the checkpoint; never 0 when stored
  uint64_t size = 0;   // of the checkpoint
};
struct LeaseRecord {
  std::string owner;
  uint64_t epoch = 0;
  int64_t expires_us = 0;
};
struct FormatRecord {
  uint32_t layout_version = 0;
};
struct EpochRecord {
  uint64_t next_epoch = 1;  // the epoch the next Acquire issues
};

std::string EncodeStreamRecord(absl::string_view key, const StreamRecord& record);
std::string EncodeVersionRecord(absl::string_view key, const VersionRecord& record);
std::string EncodeRefRecord(absl::string_view key, const RefRecord& record);
std::string EncodeTenantRecord(absl::string_view key);
std::string EncodeLeaseRecord(absl::string_view key, const LeaseRecord& record);
std::string EncodeFormatRecord(absl::string_view key, const FormatRecord& record);
std::string EncodeEpochRecord(absl::string_view key, const EpochRecord& record);

// `what` names the record in error messages ("version 3 of stream 's1'").
absl::StatusOr<StreamRecord> DecodeStreamRecord(absl::string_view key, absl::string_view value,
                                                absl::string_view what);
absl::StatusOr<VersionRecord> DecodeVersionRecord(absl::string_view key, absl::string_view value,
                                                  absl::string_view what);
absl::StatusOr<RefRecord> DecodeRefRecord(absl::string_view key, absl::string_view value,
                                          absl::string_view what);
absl::Status DecodeTenantRecord(absl::string_view key, absl::string_view value,
                                absl::string_view what);
absl::StatusOr<LeaseRecord> DecodeLeaseRecord(absl::string_view key, absl::string_view value,
                                              absl::string_view what);
absl::StatusOr<FormatRecord> DecodeFormatRecord(absl::string_view key, absl::string_view value,
                                                absl::string_view what);
absl::StatusOr<EpochRecord> DecodeEpochRecord(absl::string_view key, absl::string_view value,
                                              absl::string_view what);

// A RocksDB status as an absl::Status whose message starts with `context`:
// Corruption -> DATA_LOSS; NoSpace -> RESOURCE_EXHAUSTED; other I/O errors,
// Busy, TimedOut, TryAgain, Incomplete -> UNAVAILABLE; NotFound ->
// NOT_FOUND; InvalidArgument (only at open: not a store of this layout) ->
// FAILED_PRECONDITION; the rest -> INTERNAL.
absl::Status FromRocksDb(const rocksdb::Status& status, absl::string_view context);

}  // namespace gander::storage::internal

#endif  // GANDER_STORAGE_ROCKSDB_LAYOUT_H_
