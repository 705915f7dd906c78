#include "storage/rocksdb_state_store.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/snapshot.h"
#include "rocksdb/write_batch.h"
#include "storage/rocksdb_layout.h"
#include "storage/store_internal.h"

namespace gander::storage {
namespace {

using internal::CheckpointHash;
using internal::FromRocksDb;
using internal::LeaseRecord;
using internal::RefRecord;
using internal::StreamRecord;
using internal::VersionRecord;

constexpr size_t kStripes = 64;

absl::string_view View(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

std::string StreamWhat(absl::string_view id) { return absl::StrCat("record of stream '", id, "'"); }
std::string VersionWhat(absl::string_view id, uint64_t version) {
  return absl::StrCat("version ", version, " of stream '", id, "'");
}
std::string RefWhat(const CheckpointHash& hash) {
  return absl::StrCat("reference count of checkpoint ", hash.Hex());
}
std::string BlobWhat(const CheckpointHash& hash) { return absl::StrCat("checkpoint ", hash.Hex()); }
std::string LeaseWhat(absl::string_view id) { return absl::StrCat("lease of stream '", id, "'"); }
std::string TenantWhat(absl::string_view tenant, absl::string_view id) {
  return absl::StrCat("tenant index entry '", tenant, "'/'", id, "'");
}

absl::Status NoStream(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("stream '", id, "' does not exist"));
}
absl::Status Exists(absl::string_view id) {
  return absl::AlreadyExistsError(absl::StrCat("stream '", id, "' already exists"));
}

size_t StreamStripe(absl::string_view id) { return internal::Checksum64(id) % kStripes; }
size_t CheckpointStripe(const CheckpointHash& hash) {
  size_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | hash.bytes[i];
  return v % kStripes;
}

// Holds a set of stripes of one lock array, taken in index order (so two
// holders of overlapping sets never deadlock); releases them on destruction.
class StripeLock {
 public:
  StripeLock(absl::Mutex* stripes, std::vector<size_t> indices) : stripes_(stripes) {
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    indices_ = std::move(indices);
    for (size_t i : indices_) stripes_[i].Lock();
  }
  ~StripeLock() {
    for (auto it = indices_.rbegin(); it != indices_.rend(); ++it) stripes_[*it].Unlock();
  }
  StripeLock(const StripeLock&) = delete;
  StripeLock& operator=(const StripeLock&) = delete;

 private:
  absl::Mutex* stripes_;
  std::vector<size_t> indices_;
};

// How one commit, fork or delete changes checkpoints' reference counts;
// planned before the checkpoint locks are taken.
struct RefChange {
  int64_t delta = 0;
  const std::string* bytes = nullptr;  // the new checkpoint's bytes, if it brings them
};
using RefPlan = std::map<CheckpointHash, RefChange>;

class RocksDbStore final : public RocksDbStateStore {
 public:
  RocksDbStore(const RocksDbStoreOptions& options, rocksdb::DB* db,
               std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : options_(options),
        clock_(internal::ClockOrReal(options.base.clock)),
        db_(db),
        handles_(std::move(handles)) {}

  ~RocksDbStore() override {
    for (rocksdb::ColumnFamilyHandle* handle : handles_) {
      db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    // Nothing useful can be done with a failure here: every write was
    // already made durable (or reported) when it was acknowledged.
    db_->Close().PermitUncheckedError();
  }

  // Checks (or, in a new store, writes) the format record; loads the epoch
  // counter.
  absl::Status Init() ABSL_LOCKS_EXCLUDED(epoch_mu_) {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), Cf(internal::kDefaultCf), internal::kFormatKey, &value);
    if (s.IsNotFound()) {
      std::unique_ptr<rocksdb::Iterator> it(
          db_->NewIterator(rocksdb::ReadOptions(), Cf(internal::kStreamsCf)));
      it->SeekToFirst();
      if (it->Valid()) return absl::DataLossError("the store has streams but no format record");
      GANDER_RETURN_IF_ERROR(FromRocksDb(it->status(), "scanning streams"));
      rocksdb::WriteBatch batch;
      batch.Put(Cf(internal::kDefaultCf), internal::kFormatKey,
                internal::EncodeFormatRecord(internal::kFormatKey, {internal::kLayoutVersion}));
      GANDER_RETURN_IF_ERROR(Write(&batch, "writing the format record"));
    } else {
      GANDER_RETURN_IF_ERROR(FromRocksDb(s, "reading the format record"));
      GANDER_ASSIGN_OR_RETURN(
          internal::FormatRecord format,
          internal::DecodeFormatRecord(internal::kFormatKey, value, "store format record"));
      if (format.layout_version != internal::kLayoutVersion) {
        return absl::FailedPreconditionError(
            absl::StrCat("the store has layout version ", format.layout_version,
                         "; this build reads version ", internal::kLayoutVersion));
      }
    }
    GANDER_ASSIGN_OR_RETURN(uint64_t next_epoch, ReadNextEpoch(rocksdb::ReadOptions()));
    absl::MutexLock lock(&epoch_mu_);
    next_epoch_ = next_epoch;
    return absl::OkStatus();
  }

  absl::StatusOr<StreamInfo> CreateStream(const CreateStreamRequest& request) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateCreateRequest(request, true));
    StripeLock lock(stream_mu_, {StreamStripe(request.id)});
    GANDER_ASSIGN_OR_RETURN(std::optional<StreamRecord> existing,
                            ReadStream(rocksdb::ReadOptions(), request.id));
    if (existing.has_value()) return Exists(request.id);
    const int64_t now = NowMicros();
    StreamRecord record;
    record.tenant = request.tenant;
    record.model_fingerprint = request.model_fingerprint;
    record.created_us = now;
    record.updated_us = now;
    rocksdb::WriteBatch batch;
    PutStream(&batch, request.id, record);
    PutTenantEntry(&batch, request.tenant, request.id);
    GANDER_RETURN_IF_ERROR(Write(&batch, "creating a stream"));
    return ToInfo(request.id, record);
  }

  absl::StatusOr<StreamInfo> GetStream(const std::string& id) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    GANDER_ASSIGN_OR_RETURN(StreamRecord record, RequireStream(rocksdb::ReadOptions(), id));
    return ToInfo(id, record);
  }

  absl::StatusOr<StreamInfo> CreateStreamWithCheckpoint(const CreateStreamRequest& request,
                                                        const std::string& checkpoint,
                                                        uint64_t token_count) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateCreateRequest(request, true));
    GANDER_RETURN_IF_ERROR(internal::ValidateCheckpointBytes(checkpoint));
    const CheckpointHash hash = internal::HashCheckpoint(checkpoint);
    StripeLock lock(stream_mu_, {StreamStripe(request.id)});
    GANDER_ASSIGN_OR_RETURN(std::optional<StreamRecord> existing,
                            ReadStream(rocksdb::ReadOptions(), request.id));
    if (existing.has_value()) return Exists(request.id);
    const int64_t now = NowMicros();
    RefPlan plan;
    plan[hash] = RefChange{1, &checkpoint};
    StripeLock checkpoint_lock(checkpoint_mu_, CheckpointStripes(plan));
    rocksdb::WriteBatch batch;
    GANDER_RETURN_IF_ERROR(ApplyRefPlan(plan, &batch));
    StreamRecord record;
    record.tenant = request.tenant;
    record.model_fingerprint = request.model_fingerprint;
    record.version = 1;
    record.oldest_version = 1;
    record.token_count = token_count;
    record.created_us = now;
    record.updated_us = now;
    PutStream(&batch, request.id, record);
    PutVersion(&batch, request.id, 1, VersionRecord{hash, token_count, checkpoint.size(), now});
    PutTenantEntry(&batch, request.tenant, request.id);
    GANDER_RETURN_IF_ERROR(Write(&batch, "creating a stream with a checkpoint"));
    return ToInfo(request.id, record);
  }

  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override {
    const std::string& id = request.stream_id;
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    GANDER_RETURN_IF_ERROR(internal::ValidateCheckpointBytes(request.checkpoint));
    const CheckpointHash hash = internal::HashCheckpoint(request.checkpoint);  // outside the locks
    StripeLock lock(stream_mu_, {StreamStripe(id)});
    const rocksdb::ReadOptions read;
    GANDER_ASSIGN_OR_RETURN(StreamRecord stream, RequireStream(read, id));
    const int64_t now = NowMicros();
    GANDER_ASSIGN_OR_RETURN(std::optional<LeaseRecord> lease, ReadLease(read, id));
    if (!lease.has_value() || lease->epoch != request.lease_epoch || !(now < lease->expires_us)) {
      return absl::AbortedError(absl::StrCat("stream '", id, "': lease epoch ", request.lease_epoch,
                                             " is not its live lease"));
    }
    if (stream.version != request.expected_version) {
      return absl::AbortedError(absl::StrCat("stream '", id, "' is at version ", stream.version,
                                             ", not ", request.expected_version));
    }
    const uint64_t version = stream.version + 1;
    const uint64_t keep = static_cast<uint64_t>(options_.base.retained_versions);
    // Retention: every version <= version - keep goes (usually exactly one;
    // more after the store is reopened with a smaller retained_versions).
    const uint64_t oldest = stream.oldest_version == 0 ? version : stream.oldest_version;
    const uint64_t new_oldest = version > keep ? std::max(oldest, version - keep + 1) : oldest;
    std::vector<std::pair<uint64_t, VersionRecord>> dropped;
    if (new_oldest > oldest) {
      GANDER_RETURN_IF_ERROR(ScanVersions(read, id, oldest, new_oldest, &dropped));
      if (dropped.size() != new_oldest - oldest) {
        return absl::DataLossError(absl::StrCat("stream '", id, "': retained versions ", oldest,
                                                "..", new_oldest - 1, " are not all stored"));
      }
    }
    RefPlan plan;
    plan[hash].delta += 1;
    plan[hash].bytes = &request.checkpoint;
    for (const auto& [number, record] : dropped) plan[record.hash].delta -= 1;
    StripeLock checkpoint_lock(checkpoint_mu_, CheckpointStripes(plan));
    rocksdb::WriteBatch batch;
    GANDER_RETURN_IF_ERROR(ApplyRefPlan(plan, &batch));
    for (const auto& [number, record] : dropped) {
      batch.Delete(Cf(internal::kVersionsCf), internal::VersionKey(id, number));
    }
    PutVersion(&batch, id, version,
               VersionRecord{hash, request.token_count, request.checkpoint.size(), now});
    stream.version = version;
    stream.oldest_version = new_oldest;
    stream.token_count = request.token_count;
    stream.updated_us = now;
    PutStream(&batch, id, stream);
    GANDER_RETURN_IF_ERROR(Write(&batch, "committing a checkpoint"));
    return version;
  }

  absl::StatusOr<Checkpoint> GetCheckpoint(const std::string& id, uint64_t version) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    rocksdb::ManagedSnapshot snapshot(db_.get());
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    GANDER_ASSIGN_OR_RETURN(StreamRecord stream, RequireStream(read, id));
    GANDER_ASSIGN_OR_RETURN(auto found, FindVersion(read, id, stream, version));
    const auto& [number, record] = found;
    Checkpoint checkpoint;
    GANDER_ASSIGN_OR_RETURN(checkpoint.bytes, ReadBlob(read, record.hash, record.size));
    checkpoint.info = ToVersionInfo(number, record);
    return checkpoint;
  }

  absl::StatusOr<std::vector<VersionInfo>> ListVersions(const std::string& id) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    rocksdb::ManagedSnapshot snapshot(db_.get());
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    GANDER_ASSIGN_OR_RETURN(StreamRecord stream, RequireStream(read, id));
    std::vector<std::pair<uint64_t, VersionRecord>> versions;
    GANDER_RETURN_IF_ERROR(RetainedVersions(read, id, stream, &versions));
    std::vector<VersionInfo> result;
    result.reserve(versions.size());
    for (const auto& [number, record] : versions) result.push_back(ToVersionInfo(number, record));
    return result;
  }

  absl::StatusOr<StreamInfo> Fork(const std::string& source, uint64_t version,
                                  const CreateStreamRequest& request) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("source stream id", source));
    GANDER_RETURN_IF_ERROR(internal::ValidateCreateRequest(request, false));
    StripeLock lock(stream_mu_, {StreamStripe(source), StreamStripe(request.id)});
    const rocksdb::ReadOptions read;
    GANDER_ASSIGN_OR_RETURN(StreamRecord from, RequireStream(read, source));
    GANDER_ASSIGN_OR_RETURN(std::optional<StreamRecord> existing, ReadStream(read, request.id));
    if (existing.has_value()) return Exists(request.id);
    GANDER_ASSIGN_OR_RETURN(auto found, FindVersion(read, source, from, version));
    const auto& [number, shared] = found;
    const int64_t now = NowMicros();
    RefPlan plan;
    plan[shared.hash] = RefChange{1, nullptr};
    StripeLock checkpoint_lock(checkpoint_mu_, CheckpointStripes(plan));
    rocksdb::WriteBatch batch;
    GANDER_RETURN_IF_ERROR(ApplyRefPlan(plan, &batch));
    StreamRecord record;
    record.tenant = request.tenant;
    record.model_fingerprint = from.model_fingerprint;
    record.version = 1;
    record.oldest_version = 1;
    record.token_count = shared.token_count;
    record.parent_id = source;
    record.parent_version = number;
    record.created_us = now;
    record.updated_us = now;
    PutStream(&batch, request.id, record);
    PutVersion(&batch, request.id, 1,
               VersionRecord{shared.hash, shared.token_count, shared.size, now});
    PutTenantEntry(&batch, request.tenant, request.id);
    from.updated_us = now;
    PutStream(&batch, source, from);
    GANDER_RETURN_IF_ERROR(Write(&batch, "forking a stream"));
    return ToInfo(request.id, record);
  }

  absl::Status DeleteStream(const std::string& id) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    StripeLock lock(stream_mu_, {StreamStripe(id)});
    GANDER_ASSIGN_OR_RETURN(StreamRecord stream, RequireStream(rocksdb::ReadOptions(), id));
    return DeleteLocked(id, stream);
  }

  absl::StatusOr<ListStreamsResult> ListStreams(const std::string& tenant, int page_size,
                                                const std::string& page_token) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("tenant", tenant));
    GANDER_RETURN_IF_ERROR(internal::ValidatePageSize(page_size));
    GANDER_ASSIGN_OR_RETURN(const std::string after, internal::DecodePageToken(tenant, page_token));
    rocksdb::ManagedSnapshot snapshot(db_.get());
    rocksdb::ReadOptions read;
    read.snapshot = snapshot.snapshot();
    const std::string upper = internal::TenantKeyEnd(tenant);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions scan = read;
    scan.iterate_upper_bound = &upper_slice;
    // The first key after (tenant, after): ids hold no \0.
    std::string start = internal::TenantKey(tenant, after);
    if (!after.empty()) start.push_back('\0');
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan, Cf(internal::kTenantsCf)));
    ListStreamsResult result;
    for (it->Seek(start); it->Valid(); it->Next()) {
      std::string entry_tenant, id;
      if (!internal::ParseTenantKey(View(it->key()), &entry_tenant, &id) ||
          entry_tenant != tenant) {
        return absl::DataLossError(
            absl::StrCat("malformed tenant index key under tenant '", tenant, "'"));
      }
      GANDER_RETURN_IF_ERROR(
          internal::DecodeTenantRecord(View(it->key()), View(it->value()), TenantWhat(tenant, id)));
      if (result.streams.size() == static_cast<size_t>(page_size)) {
        result.next_page_token = internal::EncodePageToken(tenant, result.streams.back().id);
        break;
      }
      GANDER_ASSIGN_OR_RETURN(std::optional<StreamRecord> stream, ReadStream(read, id));
      if (!stream.has_value() || stream->tenant != tenant) {
        return absl::DataLossError(absl::StrCat(
            TenantWhat(tenant, id), " names a stream that is missing or has another tenant"));
      }
      result.streams.push_back(ToInfo(id, *stream));
    }
    GANDER_RETURN_IF_ERROR(FromRocksDb(it->status(), "listing streams"));
    return result;
  }

  absl::StatusOr<Lease> AcquireLease(const std::string& id, const std::string& owner,
                                     absl::Duration ttl) override ABSL_LOCKS_EXCLUDED(epoch_mu_) {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    GANDER_RETURN_IF_ERROR(internal::ValidateName("lease owner", owner));
    GANDER_RETURN_IF_ERROR(internal::ValidateLeaseTtl(ttl));
    StripeLock lock(stream_mu_, {StreamStripe(id)});
    const rocksdb::ReadOptions read;
    GANDER_RETURN_IF_ERROR(RequireStream(read, id).status());
    const absl::Time now = Now();
    GANDER_ASSIGN_OR_RETURN(std::optional<LeaseRecord> lease, ReadLease(read, id));
    if (lease.has_value() && now < absl::FromUnixMicros(lease->expires_us) &&
        lease->owner != owner) {
      return absl::AbortedError(
          absl::StrCat("stream '", id, "' is leased to '", lease->owner, "' until ",
                       absl::FormatTime(absl::FromUnixMicros(lease->expires_us))));
    }
    LeaseRecord granted{owner, 0, absl::ToUnixMicros(now + ttl)};
    {
      // Held through the write, so the stored counter only ever grows.
      absl::MutexLock epoch_lock(&epoch_mu_);
      granted.epoch = next_epoch_++;  // burnt even if the write fails
      rocksdb::WriteBatch batch;
      PutLease(&batch, id, granted);
      batch.Put(Cf(internal::kDefaultCf), internal::kNextEpochKey,
                internal::EncodeEpochRecord(internal::kNextEpochKey, {next_epoch_}));
      GANDER_RETURN_IF_ERROR(Write(&batch, "acquiring a lease"));
    }
    return ToLease(id, granted);
  }

  absl::StatusOr<Lease> RenewLease(const std::string& id, uint64_t epoch,
                                   absl::Duration ttl) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    GANDER_RETURN_IF_ERROR(internal::ValidateLeaseTtl(ttl));
    StripeLock lock(stream_mu_, {StreamStripe(id)});
    const rocksdb::ReadOptions read;
    GANDER_RETURN_IF_ERROR(RequireStream(read, id).status());
    const absl::Time now = Now();
    GANDER_ASSIGN_OR_RETURN(std::optional<LeaseRecord> lease, ReadLease(read, id));
    if (!lease.has_value() || lease->epoch != epoch ||
        !(now < absl::FromUnixMicros(lease->expires_us))) {
      return absl::AbortedError(
          absl::StrCat("stream '", id, "': lease epoch ", epoch, " is not its live lease"));
    }
    lease->expires_us = absl::ToUnixMicros(now + ttl);
    rocksdb::WriteBatch batch;
    PutLease(&batch, id, *lease);
    GANDER_RETURN_IF_ERROR(Write(&batch, "renewing a lease"));
    return ToLease(id, *lease);
  }

  absl::Status ReleaseLease(const std::string& id, uint64_t epoch) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateName("stream id", id));
    StripeLock lock(stream_mu_, {StreamStripe(id)});
    const rocksdb::ReadOptions read;
    GANDER_RETURN_IF_ERROR(RequireStream(read, id).status());
    GANDER_ASSIGN_OR_RETURN(std::optional<LeaseRecord> lease, ReadLease(read, id));
    if (!lease.has_value() || lease->epoch != epoch) {
      return absl::AbortedError(absl::StrCat("stream '", id, "' has no lease with epoch ", epoch));
    }
    rocksdb::WriteBatch batch;
    batch.Delete(Cf(internal::kLeasesCf), id);
    return Write(&batch, "releasing a lease");
  }

  absl::StatusOr<int> DeleteIdleStreams(absl::Duration idle_ttl) override {
    GANDER_RETURN_IF_ERROR(internal::ValidateIdleTtl(idle_ttl));
    const absl::Time now = Now();
    const absl::Time cutoff = now - idle_ttl;
    // Candidates from a snapshot; each is re-checked under its lock.
    std::vector<std::string> candidates;
    {
      rocksdb::ManagedSnapshot snapshot(db_.get());
      rocksdb::ReadOptions read;
      read.snapshot = snapshot.snapshot();
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, Cf(internal::kStreamsCf)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const std::string id(View(it->key()));
        GANDER_ASSIGN_OR_RETURN(StreamRecord record, internal::DecodeStreamRecord(
                                                         id, View(it->value()), StreamWhat(id)));
        if (absl::FromUnixMicros(record.updated_us) <= cutoff) candidates.push_back(id);
      }
      GANDER_RETURN_IF_ERROR(FromRocksDb(it->status(), "scanning streams"));
    }
    int deleted = 0;
    for (const std::string& id : candidates) {
      StripeLock lock(stream_mu_, {StreamStripe(id)});
      const rocksdb::ReadOptions read;
      GANDER_ASSIGN_OR_RETURN(std::optional<StreamRecord> stream, ReadStream(read, id));
      if (!stream.has_value() || absl::FromUnixMicros(stream->updated_us) > cutoff) continue;
      GANDER_ASSIGN_OR_RETURN(std::optional<LeaseRecord> lease, ReadLease(read, id));
      if (lease.has_value() && now < absl::FromUnixMicros(lease->expires_us)) continue;
      GANDER_RETURN_IF_ERROR(DeleteLocked(id, *stream));
      ++deleted;
    }
    return deleted;
  }

  absl::Status CheckConsistency() override;
  absl::StatusOr<RocksDbStoreStats> GetStats() override;

  absl::Status Compact() override {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    GANDER_RETURN_IF_ERROR(FromRocksDb(db_->Flush(flush, handles_), "flushing"));
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    compact.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
    compact.blob_garbage_collection_age_cutoff = 1.0;
    for (int i = 0; i < internal::kNumColumnFamilies; ++i) {
      GANDER_RETURN_IF_ERROR(
          FromRocksDb(db_->CompactRange(compact, Cf(i), nullptr, nullptr),
                      absl::StrCat("compacting ", internal::ColumnFamilyName(i))));
    }
    return absl::OkStatus();
  }

 private:
  rocksdb::ColumnFamilyHandle* Cf(int i) const { return handles_[i]; }

  absl::Time Now() { return internal::TruncateToMicros(clock_->Now()); }
  int64_t NowMicros() { return absl::ToUnixMicros(clock_->Now()); }

  static StreamInfo ToInfo(const std::string& id, const StreamRecord& r) {
    StreamInfo info;
    info.id = id;
    info.tenant = r.tenant;
    info.model_fingerprint = r.model_fingerprint;
    info.version = r.version;
    info.token_count = r.token_count;
    info.parent_id = r.parent_id;
    info.parent_version = r.parent_version;
    info.created = absl::FromUnixMicros(r.created_us);
    info.updated = absl::FromUnixMicros(r.updated_us);
    return info;
  }
  static VersionInfo ToVersionInfo(uint64_t number, const VersionRecord& r) {
    return VersionInfo{number, r.hash.Hex(), r.token_count, r.size,
                       absl::FromUnixMicros(r.created_us)};
  }
  static Lease ToLease(const std::string& id, const LeaseRecord& r) {
    return Lease{id, r.owner, r.epoch, absl::FromUnixMicros(r.expires_us)};
  }

  void PutStream(rocksdb::WriteBatch* batch, const std::string& id, const StreamRecord& r) {
    batch->Put(Cf(internal::kStreamsCf), id, internal::EncodeStreamRecord(id, r));
  }
  void PutVersion(rocksdb::WriteBatch* batch, const std::string& id, uint64_t version,
                  const VersionRecord& r) {
    const std::string key = internal::VersionKey(id, version);
    batch->Put(Cf(internal::kVersionsCf), key, internal::EncodeVersionRecord(key, r));
  }
  void PutTenantEntry(rocksdb::WriteBatch* batch, const std::string& tenant,
                      const std::string& id) {
    const std::string key = internal::TenantKey(tenant, id);
    batch->Put(Cf(internal::kTenantsCf), key, internal::EncodeTenantRecord(key));
  }
  void PutLease(rocksdb::WriteBatch* batch, const std::string& id, const LeaseRecord& r) {
    batch->Put(Cf(internal::kLeasesCf), id, internal::EncodeLeaseRecord(id, r));
  }

  absl::Status Write(rocksdb::WriteBatch* batch, absl::string_view context) {
    rocksdb::WriteOptions write;
    write.sync = options_.sync;
    return FromRocksDb(db_->Write(write, batch), context);
  }

  // The raw value of `key`, or nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Get(const rocksdb::ReadOptions& read, int family,
                                                 absl::string_view key) {
    std::string value;
    const rocksdb::Status s =
        db_->Get(read, Cf(family), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    GANDER_RETURN_IF_ERROR(
        FromRocksDb(s, absl::StrCat("reading ", internal::ColumnFamilyName(family))));
    return std::optional<std::string>(std::move(value));
  }

  absl::StatusOr<std::optional<StreamRecord>> ReadStream(const rocksdb::ReadOptions& read,
                                                         const std::string& id) {
    GANDER_ASSIGN_OR_RETURN(std::optional<std::string> value, Get(read, internal::kStreamsCf, id));
    if (!value.has_value()) return std::optional<StreamRecord>();
    GANDER_ASSIGN_OR_RETURN(StreamRecord record,
                            internal::DecodeStreamRecord(id, *value, StreamWhat(id)));
    return std::optional<StreamRecord>(std::move(record));
  }

  absl::StatusOr<StreamRecord> RequireStream(const rocksdb::ReadOptions& read,
                                             const std::string& id) {
    GANDER_ASSIGN_OR_RETURN(std::optional<StreamRecord> record, ReadStream(read, id));
    if (!record.has_value()) return NoStream(id);
    return *std::move(record);
  }

  absl::StatusOr<std::optional<LeaseRecord>> ReadLease(const rocksdb::ReadOptions& read,
                                                       const std::string& id) {
    GANDER_ASSIGN_OR_RETURN(std::optional<std::string> value, Get(read, internal::kLeasesCf, id));
    if (!value.has_value()) return std::optional<LeaseRecord>();
    GANDER_ASSIGN_OR_RETURN(LeaseRecord record,
                            internal::DecodeLeaseRecord(id, *value, LeaseWhat(id)));
    return std::optional<LeaseRecord>(std::move(record));
  }

  absl::StatusOr<std::optional<RefRecord>> ReadRef(const rocksdb::ReadOptions& read,
                                                   const CheckpointHash& hash) {
    const std::string key = hash.Key();
    GANDER_ASSIGN_OR_RETURN(std::optional<std::string> value,
                            Get(read, internal::kRefcountsCf, key));
    if (!value.has_value()) return std::optional<RefRecord>();
    GANDER_ASSIGN_OR_RETURN(RefRecord record,
                            internal::DecodeRefRecord(key, *value, RefWhat(hash)));
    return std::optional<RefRecord>(record);
  }

  absl::StatusOr<uint64_t> ReadNextEpoch(const rocksdb::ReadOptions& read) {
    GANDER_ASSIGN_OR_RETURN(std::optional<std::string> value,
                            Get(read, internal::kDefaultCf, internal::kNextEpochKey));
    if (!value.has_value()) return uint64_t{1};
    GANDER_ASSIGN_OR_RETURN(
        internal::EpochRecord record,
        internal::DecodeEpochRecord(internal::kNextEpochKey, *value, "epoch counter record"));
    return record.next_epoch;
  }

  // The checkpoint's bytes, verified against its key (the hash) and the
  // size its version names: DATA_LOSS when missing or different.
  absl::StatusOr<std::string> ReadBlob(const rocksdb::ReadOptions& base, const CheckpointHash& hash,
                                       uint64_t size) {
    rocksdb::ReadOptions read = base;
    read.fill_cache = false;
    GANDER_ASSIGN_OR_RETURN(std::optional<std::string> value,
                            Get(read, internal::kCheckpointsCf, hash.Key()));
    if (!value.has_value()) {
      return absl::DataLossError(absl::StrCat(BlobWhat(hash), " is referenced but missing"));
    }
    if (value->size() != size || internal::HashCheckpoint(*value) != hash) {
      return absl::DataLossError(absl::StrCat(BlobWhat(hash), ": the stored ", value->size(),
                                              " bytes (", size,
                                              " expected) do not hash to the checkpoint's id"));
    }
    return *std::move(value);
  }

  // The stored versions in [first, end) of `id`, oldest first. The scan
  // starts at `first`: the tombstones of versions dropped before it are
  // never visited.
  absl::Status ScanVersions(const rocksdb::ReadOptions& base, const std::string& id, uint64_t first,
                            uint64_t end, std::vector<std::pair<uint64_t, VersionRecord>>* out) {
    const std::string lower = internal::VersionKey(id, first);
    const std::string upper = internal::VersionKey(id, end);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions read = base;
    read.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, Cf(internal::kVersionsCf)));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      std::string key_id;
      uint64_t number = 0;
      if (!internal::ParseVersionKey(View(it->key()), &key_id, &number) || key_id != id) {
        return absl::DataLossError(absl::StrCat("malformed version key under stream '", id, "'"));
      }
      GANDER_ASSIGN_OR_RETURN(VersionRecord record,
                              internal::DecodeVersionRecord(View(it->key()), View(it->value()),
                                                            VersionWhat(id, number)));
      out->emplace_back(number, record);
    }
    return FromRocksDb(it->status(), absl::StrCat("scanning the versions of stream '", id, "'"));
  }

  // The versions oldest_version..version of `stream`; DATA_LOSS when one of
  // them is not stored.
  absl::Status RetainedVersions(const rocksdb::ReadOptions& read, const std::string& id,
                                const StreamRecord& stream,
                                std::vector<std::pair<uint64_t, VersionRecord>>* out) {
    if (stream.version == 0) return absl::OkStatus();
    GANDER_RETURN_IF_ERROR(ScanVersions(read, id, stream.oldest_version, stream.version + 1, out));
    if (stream.oldest_version == 0 || stream.oldest_version > stream.version ||
        out->size() != stream.version - stream.oldest_version + 1) {
      return absl::DataLossError(absl::StrCat("stream '", id, "': retained versions ",
                                              stream.oldest_version, "..", stream.version,
                                              " are not all stored (", out->size(), " found)"));
    }
    return absl::OkStatus();
  }

  // Resolves `version` (0 = head) of `stream` to its record; NOT_FOUND when
  // it is not retained.
  absl::StatusOr<std::pair<uint64_t, VersionRecord>> FindVersion(const rocksdb::ReadOptions& read,
                                                                 const std::string& id,
                                                                 const StreamRecord& stream,
                                                                 uint64_t version) {
    const uint64_t number = version == 0 ? stream.version : version;
    const auto not_found = [&] {
      return absl::NotFoundError(absl::StrCat("stream '", id, "' has no version ", number,
                                              " (head ", stream.version, ")"));
    };
    if (number == 0 || number > stream.version || number < stream.oldest_version) {
      return not_found();
    }
    const std::string key = internal::VersionKey(id, number);
    GANDER_ASSIGN_OR_RETURN(std::optional<std::string> value,
                            Get(read, internal::kVersionsCf, key));
    if (!value.has_value()) {
      return absl::DataLossError(
          absl::StrCat("stream '", id, "': retained version ", number, " is missing"));
    }
    GANDER_ASSIGN_OR_RETURN(VersionRecord record,
                            internal::DecodeVersionRecord(key, *value, VersionWhat(id, number)));
    return std::make_pair(number, record);
  }

  std::vector<size_t> CheckpointStripes(const RefPlan& plan) {
    std::vector<size_t> stripes;
    for (const auto& [hash, change] : plan) stripes.push_back(CheckpointStripe(hash));
    return stripes;
  }

  // Adds to `batch` the reference-count changes of `plan`: a count reaching
  // zero removes the checkpoint and its count; a checkpoint referenced for
  // the first time is stored. The caller holds the plan's checkpoint
  // stripes.
  absl::Status ApplyRefPlan(const RefPlan& plan, rocksdb::WriteBatch* batch) {
    const rocksdb::ReadOptions read;
    for (const auto& [hash, change] : plan) {
      const std::string key = hash.Key();
      GANDER_ASSIGN_OR_RETURN(std::optional<RefRecord> ref, ReadRef(read, hash));
      const uint64_t old_count = ref.has_value() ? ref->count : 0;
      if (change.delta < 0 && old_count < static_cast<uint64_t>(-change.delta)) {
        return absl::DataLossError(absl::StrCat(RefWhat(hash), " is ", old_count, ", below the ",
                                                -change.delta, " references being dropped"));
      }
      if (change.bytes != nullptr && old_count > 0) {
        // Already stored: make sure it is the same content (a hash collision
        // must never make two states share a blob).
        GANDER_ASSIGN_OR_RETURN(std::string stored, ReadBlob(read, hash, ref->size));
        if (stored != *change.bytes) {
          return absl::InternalError(absl::StrCat("checkpoint hash collision on ", hash.Hex()));
        }
      }
      if (change.delta == 0) continue;
      const uint64_t new_count = old_count + change.delta;
      if (old_count == 0) {
        if (change.bytes == nullptr) {
          return absl::DataLossError(absl::StrCat(
              BlobWhat(hash), " is referenced by a version but has no reference count"));
        }
        batch->Put(Cf(internal::kCheckpointsCf), key, *change.bytes);
        batch->Put(Cf(internal::kRefcountsCf), key,
                   internal::EncodeRefRecord(key, {new_count, change.bytes->size()}));
      } else if (new_count == 0) {
        batch->Delete(Cf(internal::kCheckpointsCf), key);
        batch->Delete(Cf(internal::kRefcountsCf), key);
      } else {
        batch->Put(Cf(internal::kRefcountsCf), key,
                   internal::EncodeRefRecord(key, {new_count, ref->size}));
      }
    }
    return absl::OkStatus();
  }

  // Deletes a stream whose stripe the caller holds, with its versions,
  // tenant index entry and lease, and the checkpoints left unreferenced.
  absl::Status DeleteLocked(const std::string& id, const StreamRecord& stream) {
    const rocksdb::ReadOptions read;
    std::vector<std::pair<uint64_t, VersionRecord>> versions;
    GANDER_RETURN_IF_ERROR(RetainedVersions(read, id, stream, &versions));
    RefPlan plan;
    for (const auto& [number, record] : versions) plan[record.hash].delta -= 1;
    StripeLock checkpoint_lock(checkpoint_mu_, CheckpointStripes(plan));
    rocksdb::WriteBatch batch;
    GANDER_RETURN_IF_ERROR(ApplyRefPlan(plan, &batch));
    for (const auto& [number, record] : versions) {
      batch.Delete(Cf(internal::kVersionsCf), internal::VersionKey(id, number));
    }
    batch.Delete(Cf(internal::kStreamsCf), id);
    batch.Delete(Cf(internal::kTenantsCf), internal::TenantKey(stream.tenant, id));
    batch.Delete(Cf(internal::kLeasesCf), id);
    return Write(&batch, "deleting a stream");
  }

  const RocksDbStoreOptions options_;
  Clock* const clock_;
  const std::unique_ptr<rocksdb::DB> db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // by internal::ColumnFamily
  // Writers hold the stripe of every stream they change, then the stripes
  // of every checkpoint whose count they change, then (AcquireLease only)
  // epoch_mu_; always in that order and each array in index order.
  absl::Mutex stream_mu_[kStripes];
  absl::Mutex checkpoint_mu_[kStripes];
  absl::Mutex epoch_mu_;
  uint64_t next_epoch_ ABSL_GUARDED_BY(epoch_mu_) = 1;
};

// Collects up to kMaxProblems descriptions.
class Problems {
 public:
  void Add(absl::string_view problem) {
    ++count_;
    if (list_.size() < kMaxProblems) list_.emplace_back(problem);
  }
  absl::Status ToStatus() const {
    if (count_ == 0) return absl::OkStatus();
    return absl::DataLossError(absl::StrCat("state store is inconsistent (", count_,
                                            " problems): ", absl::StrJoin(list_, "; ")));
  }

 private:
  static constexpr size_t kMaxProblems = 10;
  size_t count_ = 0;
  std::vector<std::string> list_;
};

absl::Status RocksDbStore::CheckConsistency() {
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.snapshot();
  Problems problems;
  const auto scan = [&](int family, const auto& visit) -> absl::Status {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, Cf(family)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) visit(View(it->key()), View(it->value()));
    return FromRocksDb(it->status(), absl::StrCat("scanning ", internal::ColumnFamilyName(family)));
  };

  // Store-level records.
  {
    GANDER_ASSIGN_OR_RETURN(std::optional<std::string> format,
                            Get(read, internal::kDefaultCf, internal::kFormatKey));
    if (!format.has_value()) {
      problems.Add("no format record");
    } else {
      absl::StatusOr<internal::FormatRecord> record =
          internal::DecodeFormatRecord(internal::kFormatKey, *format, "store format record");
      if (!record.ok()) problems.Add(record.status().message());
    }
  }
  uint64_t next_epoch = 1;
  {
    absl::StatusOr<uint64_t> epoch = ReadNextEpoch(read);
    if (!epoch.ok()) {
      problems.Add(epoch.status().message());
    } else {
      next_epoch = *epoch;
    }
  }

  std::map<std::string, StreamRecord> streams;
  GANDER_RETURN_IF_ERROR(scan(internal::kStreamsCf, [&](absl::string_view key,
                                                        absl::string_view value) {
    const std::string id(key);
    absl::StatusOr<StreamRecord> record = internal::DecodeStreamRecord(key, value, StreamWhat(id));
    if (!record.ok()) return problems.Add(record.status().message());
    if (!internal::ValidateName("stream id", id).ok())
      problems.Add(absl::StrCat("bad stream id '", id, "'"));
    streams.emplace(id, *std::move(record));
  }));

  std::set<std::string> indexed;
  GANDER_RETURN_IF_ERROR(
      scan(internal::kTenantsCf, [&](absl::string_view key, absl::string_view value) {
        std::string tenant, id;
        if (!internal::ParseTenantKey(key, &tenant, &id))
          return problems.Add("malformed tenant key");
        absl::Status decoded = internal::DecodeTenantRecord(key, value, TenantWhat(tenant, id));
        if (!decoded.ok()) return problems.Add(decoded.message());
        auto it = streams.find(id);
        if (it == streams.end() || it->second.tenant != tenant) {
          return problems.Add(absl::StrCat(TenantWhat(tenant, id), " names no such stream"));
        }
        indexed.insert(id);
      }));
  for (const auto& [id, record] : streams) {
    if (indexed.count(id) == 0) {
      problems.Add(absl::StrCat("stream '", id, "' is not in the tenant index"));
    }
  }

  // Versions: per stream contiguous, ending at the head; recount references.
  struct Count {
    uint64_t refs = 0;
    uint64_t size = 0;
  };
  std::map<CheckpointHash, Count> recount;
  std::map<std::string, std::vector<std::pair<uint64_t, VersionRecord>>> versions;
  GANDER_RETURN_IF_ERROR(
      scan(internal::kVersionsCf, [&](absl::string_view key, absl::string_view value) {
        std::string id;
        uint64_t number = 0;
        if (!internal::ParseVersionKey(key, &id, &number))
          return problems.Add("malformed version key");
        absl::StatusOr<VersionRecord> record =
            internal::DecodeVersionRecord(key, value, VersionWhat(id, number));
        if (!record.ok()) return problems.Add(record.status().message());
        if (streams.count(id) == 0) {
          return problems.Add(absl::StrCat(VersionWhat(id, number), " belongs to no stream"));
        }
        Count& count = recount[record->hash];
        if (count.refs > 0 && count.size != record->size) {
          problems.Add(absl::StrCat(VersionWhat(id, number), " gives checkpoint ",
                                    record->hash.Hex(), " another size"));
        }
        ++count.refs;
        count.size = record->size;
        versions[id].emplace_back(number, *std::move(record));
      }));
  for (const auto& [id, stream] : streams) {
    const auto it = versions.find(id);
    if (it == versions.end()) {
      if (stream.version != 0 || stream.oldest_version != 0) {
        problems.Add(absl::StrCat("stream '", id, "' is at version ", stream.version,
                                  " but has no versions"));
      }
      continue;
    }
    const auto& list = it->second;
    const uint64_t first = list.front().first;
    if (first != stream.oldest_version) {
      problems.Add(absl::StrCat("stream '", id, "': its oldest version is ", first, ", not ",
                                stream.oldest_version));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].first != first + i) {
        problems.Add(absl::StrCat("stream '", id, "' has a gap before version ", list[i].first));
        break;
      }
    }
    if (first == 0 || list.back().first != stream.version) {
      problems.Add(absl::StrCat("stream '", id, "': versions ", first, "..", list.back().first,
                                " do not end at its head ", stream.version));
    } else if (list.back().second.token_count != stream.token_count) {
      problems.Add(absl::StrCat("stream '", id, "': token count differs from its head version's"));
    }
  }

  std::set<CheckpointHash> counted;
  GANDER_RETURN_IF_ERROR(
      scan(internal::kRefcountsCf, [&](absl::string_view key, absl::string_view value) {
        CheckpointHash hash;
        if (!internal::CheckpointHashFromKey(key, &hash))
          return problems.Add("malformed refcount key");
        absl::StatusOr<RefRecord> record = internal::DecodeRefRecord(key, value, RefWhat(hash));
        if (!record.ok()) return problems.Add(record.status().message());
        counted.insert(hash);
        const auto it = recount.find(hash);
        const uint64_t actual = it == recount.end() ? 0 : it->second.refs;
        if (record->count != actual) {
          problems.Add(absl::StrCat(RefWhat(hash), " is ", record->count, "; ", actual,
                                    " versions reference it"));
        } else if (it != recount.end() && record->size != it->second.size) {
          problems.Add(absl::StrCat(RefWhat(hash), " records size ", record->size,
                                    ", its versions ", it->second.size));
        }
      }));
  for (const auto& [hash, count] : recount) {
    if (counted.count(hash) == 0) problems.Add(absl::StrCat(RefWhat(hash), " is missing"));
  }

  std::set<CheckpointHash> stored;
  GANDER_RETURN_IF_ERROR(
      scan(internal::kCheckpointsCf, [&](absl::string_view key, absl::string_view value) {
        CheckpointHash hash;
        if (!internal::CheckpointHashFromKey(key, &hash))
          return problems.Add("malformed checkpoint key");
        stored.insert(hash);
        if (internal::HashCheckpoint(value) != hash) {
          problems.Add(absl::StrCat(BlobWhat(hash), ": its bytes do not hash to its key"));
        }
        if (recount.count(hash) == 0) problems.Add(absl::StrCat(BlobWhat(hash), " is an orphan"));
      }));
  for (const auto& [hash, count] : recount) {
    if (stored.count(hash) == 0) {
      problems.Add(absl::StrCat(BlobWhat(hash), " is referenced but missing"));
    }
  }

  GANDER_RETURN_IF_ERROR(
      scan(internal::kLeasesCf, [&](absl::string_view key, absl::string_view value) {
        const std::string id(key);
        absl::StatusOr<LeaseRecord> record = internal::DecodeLeaseRecord(key, value, LeaseWhat(id));
        if (!record.ok()) return problems.Add(record.status().message());
        if (streams.count(id) == 0)
          problems.Add(absl::StrCat(LeaseWhat(id), " belongs to no stream"));
        if (record->epoch == 0 || record->epoch >= next_epoch) {
          problems.Add(absl::StrCat(LeaseWhat(id), " has epoch ", record->epoch,
                                    ", not below the counter ", next_epoch));
        }
      }));
  return problems.ToStatus();
}

absl::StatusOr<RocksDbStoreStats> RocksDbStore::GetStats() {
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.snapshot();
  RocksDbStoreStats stats;
  const auto count =
      [&](int family, uint64_t* n,
          const std::function<absl::Status(absl::string_view, absl::string_view)>& visit)
      -> absl::Status {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, Cf(family)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++*n;
      if (visit) GANDER_RETURN_IF_ERROR(visit(View(it->key()), View(it->value())));
    }
    return FromRocksDb(it->status(), absl::StrCat("scanning ", internal::ColumnFamilyName(family)));
  };
  GANDER_RETURN_IF_ERROR(count(internal::kStreamsCf, &stats.streams, nullptr));
  GANDER_RETURN_IF_ERROR(count(internal::kVersionsCf, &stats.versions, nullptr));
  GANDER_RETURN_IF_ERROR(count(internal::kLeasesCf, &stats.leases, nullptr));
  GANDER_RETURN_IF_ERROR(count(internal::kRefcountsCf, &stats.checkpoints,
                               [&](absl::string_view key, absl::string_view value) -> absl::Status {
                                 CheckpointHash hash;
                                 internal::CheckpointHashFromKey(key, &hash);
                                 GANDER_ASSIGN_OR_RETURN(
                                     RefRecord record,
                                     internal::DecodeRefRecord(key, value, RefWhat(hash)));
                                 stats.references += record.count;
                                 stats.checkpoint_bytes += record.size;
                                 return absl::OkStatus();
                               }));
  return stats;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbStateStore>> OpenRocksDbStateStore(
    const std::string& path, const RocksDbStoreOptions& options) {
  if (options.base.retained_versions < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retained_versions is ", options.base.retained_versions, "; the minimum is 1"));
  }
  if (!options.create_if_missing) {
    std::error_code error;
    if (!std::filesystem::exists(std::filesystem::path(path) / "CURRENT", error)) {
      return absl::NotFoundError(absl::StrCat("no state store at ", path));
    }
  }
  internal::DbConfig config = internal::MakeDbConfig(options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  GANDER_RETURN_IF_ERROR(
      FromRocksDb(rocksdb::DB::Open(config.db, path, config.column_families, &handles, &db),
                  absl::StrCat("opening the state store at ", path)));
  auto store = std::make_unique<RocksDbStore>(options, db, std::move(handles));
  GANDER_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<RocksDbStateStore>(std::move(store));
}

}  // namespace gander::storage
