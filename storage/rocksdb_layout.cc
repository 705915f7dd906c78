#include "storage/rocksdb_layout.h"

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/little_endian.h"
#include "common/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace gander::storage::internal {
namespace {

constexpr uint8_t kRecordFormat = 1;
constexpr size_t kRecordOverhead = 2 + 8;  // kind, format ... checksum

enum RecordKind : uint8_t {
  kStreamRecord = 1,
  kVersionRecord = 2,
  kRefRecord = 3,
  kTenantRecord = 4,
  kLeaseRecord = 5,
  kFormatRecordKind = 6,
  kEpochRecordKind = 7,
};

// XXH3-64 of (u32 key length, key, body).
uint64_t RecordChecksum(absl::string_view key, absl::string_view body) {
  std::string data;
  data.reserve(4 + key.size() + body.size());
  AppendLe32(&data, static_cast<uint32_t>(key.size()));
  absl::StrAppend(&data, key, body);
  return Checksum64(data);
}

class RecordWriter {
 public:
  explicit RecordWriter(RecordKind kind) {
    out_.push_back(static_cast<char>(kind));
    out_.push_back(static_cast<char>(kRecordFormat));
  }
  RecordWriter& U32(uint32_t v) {
    AppendLe32(&out_, v);
    return *this;
  }
  RecordWriter& U64(uint64_t v) {
    AppendLe64(&out_, v);
    return *this;
  }
  RecordWriter& I64(int64_t v) { return U64(static_cast<uint64_t>(v)); }
  RecordWriter& Str(absl::string_view s) {
    AppendLe32(&out_, static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
    return *this;
  }
  RecordWriter& Raw(const void* data, size_t size) {
    out_.append(static_cast<const char*>(data), size);
    return *this;
  }
  std::string Finish(absl::string_view key) {
    AppendLe64(&out_, RecordChecksum(key, out_));
    return std::move(out_);
  }

 private:
  std::string out_;
};

// Reads the fields of a record whose frame (size, checksum, kind, format)
// Open() has verified. Every getter fails (DATA_LOSS) past the end.
class RecordReader {
 public:
  static absl::StatusOr<RecordReader> Open(RecordKind kind, absl::string_view key,
                                           absl::string_view value, absl::string_view what) {
    if (value.size() < kRecordOverhead) {
      return absl::DataLossError(
          absl::StrCat(what, ": ", value.size(), " bytes, too short for a record"));
    }
    const absl::string_view body = value.substr(0, value.size() - 8);
    const uint64_t stored = LoadLe64(value.data() + body.size());
    const uint64_t computed = RecordChecksum(key, body);
    if (stored != computed) {
      return absl::DataLossError(absl::StrCat(what, ": checksum mismatch (stored ",
                                              absl::Hex(stored, absl::kZeroPad16), ", computed ",
                                              absl::Hex(computed, absl::kZeroPad16), ")"));
    }
    if (static_cast<uint8_t>(body[0]) != kind) {
      return absl::DataLossError(absl::StrCat(what, ": record kind ",
                                              static_cast<int>(static_cast<uint8_t>(body[0])),
                                              ", expected ", static_cast<int>(kind)));
    }
    if (static_cast<uint8_t>(body[1]) != kRecordFormat) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": record format ", static_cast<int>(static_cast<uint8_t>(body[1])),
                       " is newer than this build reads (", static_cast<int>(kRecordFormat), ")"));
    }
    return RecordReader(body.substr(2), what);
  }

  absl::Status U32(absl::string_view field, uint32_t* v) {
    GANDER_RETURN_IF_ERROR(Need(field, 4));
    *v = LoadLe32(rest_.data());
    rest_.remove_prefix(4);
    return absl::OkStatus();
  }
  absl::Status U64(absl::string_view field, uint64_t* v) {
    GANDER_RETURN_IF_ERROR(Need(field, 8));
    *v = LoadLe64(rest_.data());
    rest_.remove_prefix(8);
    return absl::OkStatus();
  }
  absl::Status I64(absl::string_view field, int64_t* v) {
    uint64_t u = 0;
    GANDER_RETURN_IF_ERROR(U64(field, &u));
    *v = static_cast<int64_t>(u);
    return absl::OkStatus();
  }
  absl::Status Str(absl::string_view field, std::string* s) {
    uint32_t size = 0;
    GANDER_RETURN_IF_ERROR(U32(field, &size));
    GANDER_RETURN_IF_ERROR(Need(field, size));
    s->assign(rest_.data(), size);
    rest_.remove_prefix(size);
    return absl::OkStatus();
  }
  absl::Status Raw(absl::string_view field, void* data, size_t size) {
    GANDER_RETURN_IF_ERROR(Need(field, size));
    std::memcpy(data, rest_.data(), size);
    rest_.remove_prefix(size);
    return absl::OkStatus();
  }
  absl::Status Done() const {
    if (!rest_.empty()) {
      return absl::DataLossError(
          absl::StrCat(what_, ": ", rest_.size(), " bytes after the last field"));
    }
    return absl::OkStatus();
  }

 private:
  RecordReader(absl::string_view fields, absl::string_view what) : rest_(fields), what_(what) {}

  absl::Status Need(absl::string_view field, size_t size) const {
    if (rest_.size() < size) {
      return absl::DataLossError(absl::StrCat(what_, ": truncated in field '", field, "' (needs ",
                                              size, " bytes, ", rest_.size(), " left)"));
    }
    return absl::OkStatus();
  }

  absl::string_view rest_;
  std::string what_;
};

rocksdb::ColumnFamilyOptions MetadataOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.compression = rocksdb::kZSTD;
  cf.bottommost_compression = rocksdb::kZSTD;
  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

rocksdb::ColumnFamilyOptions CheckpointOptions(const RocksDbStoreOptions& options) {
  rocksdb::ColumnFamilyOptions cf;
  // The codec already compresses (when asked to): compressing again costs
  // CPU for nothing.
  cf.compression = rocksdb::kNoCompression;
  cf.bottommost_compression = rocksdb::kNoCompression;
  cf.write_buffer_size = options.checkpoint_write_buffer_bytes;
  cf.target_file_size_base = 256 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  table.no_block_cache = true;  // multi-megabyte values: never worth caching here
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (options.use_blob_files) {
    cf.enable_blob_files = true;
    cf.min_blob_size = kBlobMinBytes;
    cf.blob_file_size = 256 << 20;
    cf.blob_compression_type = rocksdb::kNoCompression;
    cf.enable_blob_garbage_collection = true;
    cf.blob_garbage_collection_age_cutoff = 0.25;
  }
  return cf;
}

}  // namespace

const char* ColumnFamilyName(int cf) {
  switch (cf) {
    case kDefaultCf:
      return rocksdb::kDefaultColumnFamilyName.c_str();
    case kStreamsCf:
      return "streams";
    case kVersionsCf:
      return "versions";
    case kCheckpointsCf:
      return "checkpoints";
    case kRefcountsCf:
      return "refcounts";
    case kTenantsCf:
      return "tenants";
    case kLeasesCf:
      return "leases";
    default:
      return "?";
  }
}

DbConfig MakeDbConfig(const RocksDbStoreOptions& options) {
  DbConfig config;
  config.db.create_if_missing = options.create_if_missing;
  config.db.create_missing_column_families = true;
  config.db.paranoid_checks = true;
  config.db.max_background_jobs = 2;
  // Every batch also touches the small metadata families, which keep old
  // logs alive; past this size RocksDB flushes them so logs can go.
  config.db.max_total_wal_size = 4 * options.checkpoint_write_buffer_bytes;
  config.db.bytes_per_sync = 1 << 20;
  config.db.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  config.db.keep_log_file_num = 4;
  const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options.metadata_cache_bytes);
  for (int cf = 0; cf < kNumColumnFamilies; ++cf) {
    config.column_families.emplace_back(ColumnFamilyName(cf), cf == kCheckpointsCf
                                                                  ? CheckpointOptions(options)
                                                                  : MetadataOptions(cache));
  }
  return config;
}

std::string VersionKey(absl::string_view id, uint64_t version) {
  std::string key(id);
  key.push_back('\0');
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((version >> (8 * i)) & 0xff));
  return key;
}

std::string VersionKeyEnd(absl::string_view id) {
  return absl::StrCat(id, absl::string_view("\x01", 1));
}

bool ParseVersionKey(absl::string_view key, std::string* id, uint64_t* version) {
  if (key.size() < 10 || key[key.size() - 9] != '\0') return false;
  id->assign(key.data(), key.size() - 9);
  uint64_t v = 0;
  for (size_t i = key.size() - 8; i < key.size(); ++i) {
    v = (v << 8) | static_cast<unsigned char>(key[i]);
  }
  *version = v;
  return id->find('\0') == std::string::npos;
}

std::string TenantKey(absl::string_view tenant, absl::string_view id) {
  return absl::StrCat(tenant, absl::string_view("\0", 1), id);
}

std::string TenantKeyEnd(absl::string_view tenant) {
  return absl::StrCat(tenant, absl::string_view("\x01", 1));
}

bool ParseTenantKey(absl::string_view key, std::string* tenant, std::string* id) {
  const size_t zero = key.find('\0');
  if (zero == absl::string_view::npos || zero == 0 || zero + 1 == key.size()) return false;
  tenant->assign(key.data(), zero);
  id->assign(key.data() + zero + 1, key.size() - zero - 1);
  return id->find('\0') == std::string::npos;
}

std::string EncodeStreamRecord(absl::string_view key, const StreamRecord& r) {
  return RecordWriter(kStreamRecord)
      .Str(r.tenant)
      .Str(r.model_fingerprint)
      .U64(r.version)
      .U64(r.oldest_version)
      .U64(r.token_count)
      .Str(r.parent_id)
      .U64(r.parent_version)
      .I64(r.created_us)
      .I64(r.updated_us)
      .Finish(key);
}

std::string EncodeVersionRecord(absl::string_view key, const VersionRecord& r) {
  return RecordWriter(kVersionRecord)
      .Raw(r.hash.bytes.data(), r.hash.bytes.size())
      .U64(r.token_count)
      .U64(r.size)
      .I64(r.created_us)
      .Finish(key);
}

std::string EncodeRefRecord(absl::string_view key, const RefRecord& r) {
  return RecordWriter(kRefRecord).U64(r.count).U64(r.size).Finish(key);
}

std::string EncodeTenantRecord(absl::string_view key) {
  return RecordWriter(kTenantRecord).Finish(key);
}

std::string EncodeLeaseRecord(absl::string_view key, const LeaseRecord& r) {
  return RecordWriter(kLeaseRecord).Str(r.owner).U64(r.epoch).I64(r.expires_us).Finish(key);
}

std::string EncodeFormatRecord(absl::string_view key, const FormatRecord& r) {
  return RecordWriter(kFormatRecordKind).U32(r.layout_version).Finish(key);
}

std::string EncodeEpochRecord(absl::string_view key, const EpochRecord& r) {
  return RecordWriter(kEpochRecordKind).U64(r.next_epoch).Finish(key);
}

absl::StatusOr<StreamRecord> DecodeStreamRecord(absl::string_view key, absl::string_view value,
                                                absl::string_view what) {
  GANDER_ASSIGN_OR_RETURN(RecordReader in, RecordReader::Open(kStreamRecord, key, value, what));
  StreamRecord r;
  GANDER_RETURN_IF_ERROR(in.Str("tenant", &r.tenant));
  GANDER_RETURN_IF_ERROR(in.Str("model_fingerprint", &r.model_fingerprint));
  GANDER_RETURN_IF_ERROR(in.U64("version", &r.version));
  GANDER_RETURN_IF_ERROR(in.U64("oldest_version", &r.oldest_version));
  GANDER_RETURN_IF_ERROR(in.U64("token_count", &r.token_count));
  GANDER_RETURN_IF_ERROR(in.Str("parent_id", &r.parent_id));
  GANDER_RETURN_IF_ERROR(in.U64("parent_version", &r.parent_version));
  GANDER_RETURN_IF_ERROR(in.I64("created", &r.created_us));
  GANDER_RETURN_IF_ERROR(in.I64("updated", &r.updated_us));
  GANDER_RETURN_IF_ERROR(in.Done());
  return r;
}

absl::StatusOr<VersionRecord> DecodeVersionRecord(absl::string_view key, absl::string_view value,
                                                  absl::string_view what) {
  GANDER_ASSIGN_OR_RETURN(RecordReader in, RecordReader::Open(kVersionRecord, key, value, what));
  VersionRecord r;
  GANDER_RETURN_IF_ERROR(in.Raw("checkpoint", r.hash.bytes.data(), r.hash.bytes.size()));
  GANDER_RETURN_IF_ERROR(in.U64("token_count", &r.token_count));
  GANDER_RETURN_IF_ERROR(in.U64("size", &r.size));
  GANDER_RETURN_IF_ERROR(in.I64("created", &r.created_us));
  GANDER_RETURN_IF_ERROR(in.Done());
  return r;
}

absl::StatusOr<RefRecord> DecodeRefRecord(absl::string_view key, absl::string_view value,
                                          absl::string_view what) {
  GANDER_ASSIGN_OR_RETURN(RecordReader in, RecordReader::Open(kRefRecord, key, value, what));
  RefRecord r;
  GANDER_RETURN_IF_ERROR(in.U64("count", &r.count));
  GANDER_RETURN_IF_ERROR(in.U64("size", &r.size));
  GANDER_RETURN_IF_ERROR(in.Done());
  return r;
}

absl::Status DecodeTenantRecord(absl::string_view key, absl::string_view value,
                                absl::string_view what) {
  GANDER_ASSIGN_OR_RETURN(RecordReader in, RecordReader::Open(kTenantRecord, key, value, what));
  return in.Done();
}

absl::StatusOr<LeaseRecord> DecodeLeaseRecord(absl::string_view key, absl::string_view value,
                                              absl::string_view what) {
  GANDER_ASSIGN_OR_RETURN(RecordReader in, RecordReader::Open(kLeaseRecord, key, value, what));
  LeaseRecord r;
  GANDER_RETURN_IF_ERROR(in.Str("owner", &r.owner));
  GANDER_RETURN_IF_ERROR(in.U64("epoch", &r.epoch));
  GANDER_RETURN_IF_ERROR(in.I64("expires", &r.expires_us));
  GANDER_RETURN_IF_ERROR(in.Done());
  return r;
}

absl::StatusOr<FormatRecord> DecodeFormatRecord(absl::string_view key, absl::string_view value,
                                                absl::string_view what) {
  GANDER_ASSIGN_OR_RETURN(RecordReader in, RecordReader::Open(kFormatRecordKind, key, value, what));
  FormatRecord r;
  GANDER_RETURN_IF_ERROR(in.U32("layout_version", &r.layout_version));
  GANDER_RETURN_IF_ERROR(in.Done());
  return r;
}

absl::StatusOr<EpochRecord> DecodeEpochRecord(absl::string_view key, absl::string_view value,
                                              absl::string_view what) {
  GANDER_ASSIGN_OR_RETURN(RecordReader in, RecordReader::Open(kEpochRecordKind, key, value, what));
  EpochRecord r;
  GANDER_RETURN_IF_ERROR(in.U64("next_epoch", &r.next_epoch));
  GANDER_RETURN_IF_ERROR(in.Done());
  return r;
}

absl::Status FromRocksDb(const rocksdb::Status& status, absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", status.ToString());
  switch (status.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kIOError:
      if (status.IsNoSpace()) return absl::ResourceExhaustedError(message);
      return absl::UnavailableError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kShutdownInProgress:
      return absl::UnavailableError(message);
    case rocksdb::Status::kInvalidArgument:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace gander::storage::internal
