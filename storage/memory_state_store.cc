#include "storage/memory_state_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "storage/store_internal.h"

namespace gander::storage {
namespace {

using internal::ValidateName;

absl::Status NoStream(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("stream '", id, "' does not exist"));
}

class MemoryStateStore final : public StateStore {
 public:
  explicit MemoryStateStore(const StoreOptions& options)
      : retained_versions_(std::max(1, options.retained_versions)),
        clock_(internal::ClockOrReal(options.clock)) {}

  absl::StatusOr<StreamInfo> CreateStream(const CreateStreamRequest& request) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(internal::ValidateCreateRequest(request, true));
    absl::MutexLock lock(&mu_);
    if (streams_.count(request.id) != 0) return Exists(request.id);
    const absl::Time now = Now();
    Stream& stream = streams_[request.id];
    stream.info = NewInfo(request, request.model_fingerprint, now);
    return stream.info;
  }

  absl::StatusOr<StreamInfo> GetStream(const std::string& id) override ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", id));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return NoStream(id);
    return it->second.info;
  }

  absl::StatusOr<StreamInfo> CreateStreamWithCheckpoint(const CreateStreamRequest& request,
                                                        const std::string& checkpoint,
                                                        uint64_t token_count) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(internal::ValidateCreateRequest(request, true));
    GANDER_RETURN_IF_ERROR(internal::ValidateCheckpointBytes(checkpoint));
    absl::MutexLock lock(&mu_);
    if (streams_.count(request.id) != 0) return Exists(request.id);
    const std::string checkpoint_id = internal::HashCheckpoint(checkpoint).Hex();
    GANDER_RETURN_IF_ERROR(CheckNoCollision(checkpoint_id, checkpoint));
    const absl::Time now = Now();
    Stream& stream = streams_[request.id];
    stream.info = NewInfo(request, request.model_fingerprint, now);
    stream.info.version = 1;
    stream.info.token_count = token_count;
    stream.versions[1] = VersionInfo{1, checkpoint_id, token_count, checkpoint.size(), now};
    AddRef(checkpoint_id, checkpoint);
    return stream.info;
  }

  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", request.stream_id));
    GANDER_RETURN_IF_ERROR(internal::ValidateCheckpointBytes(request.checkpoint));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(request.stream_id);
    if (it == streams_.end()) return NoStream(request.stream_id);
    Stream& stream = it->second;
    const absl::Time now = Now();
    if (!stream.lease.has_value() || stream.lease->epoch != request.lease_epoch ||
        !(now < stream.lease->expires)) {
      return absl::AbortedError(absl::StrCat("stream '", request.stream_id, "': lease epoch ",
                                             request.lease_epoch, " is not its live lease"));
    }
    if (stream.info.version != request.expected_version) {
      return absl::AbortedError(absl::StrCat("stream '", request.stream_id, "' is at version ",
                                             stream.info.version, ", not ",
                                             request.expected_version));
    }
    const std::string checkpoint_id = internal::HashCheckpoint(request.checkpoint).Hex();
    GANDER_RETURN_IF_ERROR(CheckNoCollision(checkpoint_id, request.checkpoint));

    const uint64_t version = stream.info.version + 1;
    AddRef(checkpoint_id, request.checkpoint);
    stream.versions[version] =
        VersionInfo{version, checkpoint_id, request.token_count, request.checkpoint.size(), now};
    // Retention: drop every version <= version - K.
    const uint64_t keep = static_cast<uint64_t>(retained_versions_);
    while (!stream.versions.empty() && stream.versions.begin()->first + keep <= version) {
      Unref(stream.versions.begin()->second.checkpoint_id);
      stream.versions.erase(stream.versions.begin());
    }
    stream.info.version = version;
    stream.info.token_count = request.token_count;
    stream.info.updated = now;
    return version;
  }

  absl::StatusOr<Checkpoint> GetCheckpoint(const std::string& id, uint64_t version) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", id));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return NoStream(id);
    GANDER_ASSIGN_OR_RETURN(const VersionInfo* info, FindVersion(it->second, version));
    return Checkpoint{*info, blobs_.at(info->checkpoint_id).bytes};
  }

  absl::StatusOr<std::vector<VersionInfo>> ListVersions(const std::string& id) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", id));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return NoStream(id);
    std::vector<VersionInfo> result;
    for (const auto& [number, info] : it->second.versions) result.push_back(info);
    return result;
  }

  absl::StatusOr<StreamInfo> Fork(const std::string& source, uint64_t version,
                                  const CreateStreamRequest& request) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("source stream id", source));
    GANDER_RETURN_IF_ERROR(internal::ValidateCreateRequest(request, false));
    absl::MutexLock lock(&mu_);
    auto source_it = streams_.find(source);
    if (source_it == streams_.end()) return NoStream(source);
    if (streams_.count(request.id) != 0) return Exists(request.id);
    GANDER_ASSIGN_OR_RETURN(const VersionInfo* from, FindVersion(source_it->second, version));
    const VersionInfo shared = *from;
    const absl::Time now = Now();
    source_it->second.info.updated = now;
    const std::string fingerprint = source_it->second.info.model_fingerprint;
    Stream& stream = streams_[request.id];  // std::map: source_it stays valid
    stream.info = NewInfo(request, fingerprint, now);
    stream.info.version = 1;
    stream.info.token_count = shared.token_count;
    stream.info.parent_id = source;
    stream.info.parent_version = shared.version;
    stream.versions[1] =
        VersionInfo{1, shared.checkpoint_id, shared.token_count, shared.size_bytes, now};
    ++blobs_.at(shared.checkpoint_id).refs;
    return stream.info;
  }

  absl::Status DeleteStream(const std::string& id) override ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", id));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return NoStream(id);
    Erase(it);
    return absl::OkStatus();
  }

  absl::StatusOr<ListStreamsResult> ListStreams(const std::string& tenant, int page_size,
                                                const std::string& page_token) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("tenant", tenant));
    GANDER_RETURN_IF_ERROR(internal::ValidatePageSize(page_size));
    GANDER_ASSIGN_OR_RETURN(const std::string after, internal::DecodePageToken(tenant, page_token));
    absl::MutexLock lock(&mu_);
    ListStreamsResult result;
    for (auto it = after.empty() ? streams_.begin() : streams_.upper_bound(after);
         it != streams_.end(); ++it) {
      if (it->second.info.tenant != tenant) continue;
      if (result.streams.size() == static_cast<size_t>(page_size)) {
        result.next_page_token = internal::EncodePageToken(tenant, result.streams.back().id);
        break;
      }
      result.streams.push_back(it->second.info);
    }
    return result;
  }

  absl::StatusOr<Lease> AcquireLease(const std::string& id, const std::string& owner,
                                     absl::Duration ttl) override ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", id));
    GANDER_RETURN_IF_ERROR(ValidateName("lease owner", owner));
    GANDER_RETURN_IF_ERROR(internal::ValidateLeaseTtl(ttl));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return NoStream(id);
    const absl::Time now = Now();
    std::optional<Lease>& lease = it->second.lease;
    if (lease.has_value() && now < lease->expires && lease->owner != owner) {
      return absl::AbortedError(absl::StrCat("stream '", id, "' is leased to '", lease->owner,
                                             "' until ", absl::FormatTime(lease->expires)));
    }
    lease = Lease{id, owner, next_epoch_++, internal::TruncateToMicros(now + ttl)};
    return *lease;
  }

  absl::StatusOr<Lease> RenewLease(const std::string& id, uint64_t epoch,
                                   absl::Duration ttl) override ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", id));
    GANDER_RETURN_IF_ERROR(internal::ValidateLeaseTtl(ttl));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return NoStream(id);
    const absl::Time now = Now();
    std::optional<Lease>& lease = it->second.lease;
    if (!lease.has_value() || lease->epoch != epoch || !(now < lease->expires)) {
      return absl::AbortedError(
          absl::StrCat("stream '", id, "': lease epoch ", epoch, " is not its live lease"));
    }
    lease->expires = internal::TruncateToMicros(now + ttl);
    return *lease;
  }

  absl::Status ReleaseLease(const std::string& id, uint64_t epoch) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(ValidateName("stream id", id));
    absl::MutexLock lock(&mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return NoStream(id);
    std::optional<Lease>& lease = it->second.lease;
    if (!lease.has_value() || lease->epoch != epoch) {
      return absl::AbortedError(absl::StrCat("stream '", id, "' has no lease with epoch ", epoch));
    }
    lease.reset();
    return absl::OkStatus();
  }

  absl::StatusOr<int> DeleteIdleStreams(absl::Duration idle_ttl) override ABSL_LOCKS_EXCLUDED(mu_) {
    GANDER_RETURN_IF_ERROR(internal::ValidateIdleTtl(idle_ttl));
    absl::MutexLock lock(&mu_);
    const absl::Time now = Now();
    int deleted = 0;
    for (auto it = streams_.begin(); it != streams_.end();) {
      const Stream& stream = it->second;
      const bool leased = stream.lease.has_value() && now < stream.lease->expires;
      if (stream.info.updated <= now - idle_ttl && !leased) {
        Erase(it++);
        ++deleted;
      } else {
        ++it;
      }
    }
    return deleted;
  }

 private:
  struct Stream {
    StreamInfo info;
    std::map<uint64_t, VersionInfo> versions;  // retained, by number
    std::optional<Lease> lease;
  };
  struct Blob {
    std::string bytes;
    uint64_t refs = 0;  // versions (of all streams) naming it
  };

  absl::Time Now() { return internal::TruncateToMicros(clock_->Now()); }

  static absl::Status Exists(const std::string& id) {
    return absl::AlreadyExistsError(absl::StrCat("stream '", id, "' already exists"));
  }

  static StreamInfo NewInfo(const CreateStreamRequest& request, const std::string& fingerprint,
                            absl::Time now) {
    StreamInfo info;
    info.id = request.id;
    info.tenant = request.tenant;
    info.model_fingerprint = fingerprint;
    info.created = now;
    info.updated = now;
    return info;
  }

  static absl::StatusOr<const VersionInfo*> FindVersion(const Stream& stream, uint64_t version) {
    const uint64_t number = version == 0 ? stream.info.version : version;
    auto it = stream.versions.find(number);
    if (number == 0 || it == stream.versions.end()) {
      return absl::NotFoundError(absl::StrCat("stream '", stream.info.id, "' has no version ",
                                              number, " (head ", stream.info.version, ")"));
    }
    return &it->second;
  }

  // INTERNAL when different bytes are already stored under the same hash.
  absl::Status CheckNoCollision(const std::string& checkpoint_id, const std::string& bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = blobs_.find(checkpoint_id);
    if (it != blobs_.end() && it->second.bytes != bytes) {
      return absl::InternalError(absl::StrCat("checkpoint hash collision on ", checkpoint_id));
    }
    return absl::OkStatus();
  }

  void AddRef(const std::string& checkpoint_id, const std::string& bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Blob& blob = blobs_[checkpoint_id];
    if (blob.refs == 0) blob.bytes = bytes;
    ++blob.refs;
  }

  void Unref(const std::string& checkpoint_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = blobs_.find(checkpoint_id);
    if (--it->second.refs == 0) blobs_.erase(it);
  }

  void Erase(std::map<std::string, Stream>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [number, info] : it->second.versions) Unref(info.checkpoint_id);
    streams_.erase(it);
  }

  const int retained_versions_;
  Clock* const clock_;
  absl::Mutex mu_;
  std::map<std::string, Stream> streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Blob> blobs_ ABSL_GUARDED_BY(mu_);  // by checkpoint id
  uint64_t next_epoch_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace

std::unique_ptr<StateStore> NewMemoryStateStore(const StoreOptions& options) {
  return std::make_unique<MemoryStateStore>(options);
}

}  // namespace gander::storage
