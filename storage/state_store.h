// StateStore: durable storage of streams and their checkpoints.
//
// A stream is a named sequence of checkpoints (versions 1, 2, ...). A
// checkpoint is an immutable blob of encoded state (storage/state_codec.h)
// stored once under the hash of its bytes and reference-counted, so a fork
// is a metadata write that shares its source's checkpoint: O(1), whatever
// the state's size. A lease names the one worker allowed to advance a
// stream; its epoch fences every commit.
//
// Implementations: NewMemoryStateStore (storage/memory_state_store.h, the
// simple model, for tests) and OpenRocksDbStateStore
// (storage/rocksdb_state_store.h, the embedded default; durable across
// kill -9). Both implement exactly the semantics written here, errors
// included; state_store_differential_test.cc holds them to it.
//
// Ownership: results are returned by value; the store keeps no reference to
// a request after a call returns.
// Thread safety: every method is safe to call concurrently.
// Atomicity: every method either applies completely or not at all (except
// DeleteIdleStreams, which deletes each stream atomically, see there). When
// the underlying storage fails during a write (UNAVAILABLE, INTERNAL,
// RESOURCE_EXHAUSTED), whether the change was applied is unknown, as with
// any storage; a fresh read tells.
// Times are recorded at microsecond resolution (finer parts are truncated).
//
// Errors (absl::StatusCode). Arguments are checked first, in the order of
// the parameters, then the stream's existence, then the rest:
//   INVALID_ARGUMENT     a malformed id, tenant, owner or fingerprint (see
//                        StreamInfo), an empty checkpoint (or one over
//                        1 GiB), a page size outside 1..1000, a page token
//                        not issued for this tenant, a lease TTL outside
//                        (0, 24 h], a negative or infinite idle TTL
//   NOT_FOUND            no such stream, or version not retained (version 0
//                        of a stream without checkpoints included)
//   ALREADY_EXISTS       CreateStream/CreateStreamWithCheckpoint/Fork with an
//                        id in use
//   ABORTED              commit against a stale version or lease epoch; a
//                        lease held by someone else; retry from fresh reads
//   DATA_LOSS            stored bytes fail their checksum: every stored value
//                        (metadata and checkpoint blobs) is verified when
//                        read, so corruption is reported, never returned
//   FAILED_PRECONDITION  (callers' Import) bytes for a model other than the
//                        stream's; the store itself returns it only for
//                        stored data written in a newer format than it reads
//   UNAVAILABLE/INTERNAL the underlying storage failed (RESOURCE_EXHAUSTED
//                        when its disk is full)
//
// Example:
//   auto info = store->CreateStream({.id = "s1", .tenant = "acme",
//                                    .model_fingerprint = model.fingerprint()});
//   auto lease = store->AcquireLease("s1", "worker-a", absl::Seconds(30));
//   auto v = store->Commit({.stream_id = "s1", .expected_version = 0,
//                           .lease_epoch = lease->epoch, .checkpoint = bytes,
//                           .token_count = 42});
//   auto fork = store->Fork("s1", /*version=*/0, {.id = "s1-b", .tenant = "acme"});
#ifndef GANDER_STORAGE_STATE_STORE_H_
#define GANDER_STORAGE_STATE_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gander::storage {

// What the store knows of one stream.
struct StreamInfo {
  std::string id;                 // [A-Za-z0-9._:-]{1,128}
  std::string tenant;             // [A-Za-z0-9._:-]{1,128}
  std::string model_fingerprint;  // [A-Za-z0-9._:-]{1,256}: of the model its states belong to
  uint64_t version = 0;           // head version; 0 = no checkpoint yet
  uint64_t token_count = 0;       // tokens consumed by the head checkpoint
  std::string parent_id;          // the stream it was forked from, or ""
  uint64_t parent_version = 0;    // the version it was forked at (never 0 for a fork)
  absl::Time created;
  // Last create or commit of this stream, or fork from it (a stream that is
  // forked from is in use, so it is not idle).
  absl::Time updated;
};

// One retained version of a stream.
struct VersionInfo {
  uint64_t version = 0;
  std::string checkpoint_id;  // lowercase hex XXH3-128 of the bytes (32 characters)
  uint64_t token_count = 0;
  uint64_t size_bytes = 0;  // of the encoded checkpoint
  absl::Time created;       // when this version was committed (for a fork: forked)
};

struct Checkpoint {
  VersionInfo info;
  std::string bytes;  // the encoded state, exactly as committed
};

struct Lease {
  std::string stream_id;
  std::string owner;  // who holds it (a worker's name, [A-Za-z0-9._:-]{1,128})
  // Never 0. Drawn from one store-wide counter: greater than every epoch
  // issued before, for any stream, and never reused (not even after the
  // stream is deleted and re-created).
  uint64_t epoch = 0;
  absl::Time expires;  // live while now < expires
};

struct CreateStreamRequest {
  std::string id;                 // required
  std::string tenant;             // required (also for Fork)
  std::string model_fingerprint;  // required; for Fork: ignored (the source's is kept)
};

struct CommitRequest {
  std::string stream_id;
  uint64_t expected_version = 0;  // the head the caller built on
  uint64_t lease_epoch = 0;       // must be the current, unexpired lease
  std::string checkpoint;         // encoded state (non-empty)
  uint64_t token_count = 0;
};

struct ListStreamsResult {
  std::vector<StreamInfo> streams;  // ordered by id
  std::string next_page_token;      // "" when there are no more
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // A stream with no checkpoint (version 0).
  virtual absl::StatusOr<StreamInfo> CreateStream(const CreateStreamRequest& request) = 0;
  virtual absl::StatusOr<StreamInfo> GetStream(const std::string& id) = 0;

  // Creates a stream whose version 1 is `checkpoint`, in one atomic step (the
  // basis of Import: the caller has validated the bytes with the codec).
  virtual absl::StatusOr<StreamInfo> CreateStreamWithCheckpoint(const CreateStreamRequest& request,
                                                                const std::string& checkpoint,
                                                                uint64_t token_count) = 0;

  // Appends a checkpoint as version expected_version + 1, if the head is
  // still expected_version and lease_epoch is the stream's live lease (a
  // stream without a live lease takes no commits). Drops the versions that
  // retention no longer keeps (StoreOptions::retained_versions) and the
  // checkpoints no stream references any more. Returns the new version.
  // When it returns OK the commit is durable (as the implementation's
  // options state). ABORTED: no live lease, another epoch, or another head.
  virtual absl::StatusOr<uint64_t> Commit(const CommitRequest& request) = 0;

  // A retained version (0 = the head). NOT_FOUND for version 0 of a stream
  // with no checkpoint yet, and for versions dropped or not yet committed.
  virtual absl::StatusOr<Checkpoint> GetCheckpoint(const std::string& id, uint64_t version) = 0;
  // Retained versions, oldest first (empty for a stream without checkpoints).
  virtual absl::StatusOr<std::vector<VersionInfo>> ListVersions(const std::string& id) = 0;

  // A new stream whose version 1 is `source`'s `version` (0 = head), sharing
  // its checkpoint (same checkpoint_id, token_count and size). The new
  // stream's parent_id is `source`, its parent_version the resolved version
  // number, its fingerprint the source's; the source's `updated` is set to
  // now. Checks, in order: `source`, request.id and request.tenant well
  // formed; source exists (NOT_FOUND); request.id unused (ALREADY_EXISTS);
  // the version retained (NOT_FOUND; also when the source has no
  // checkpoint).
  virtual absl::StatusOr<StreamInfo> Fork(const std::string& source, uint64_t version,
                                          const CreateStreamRequest& request) = 0;

  // Removes the stream, its versions and its lease (whoever holds it);
  // checkpoints no longer referenced by any stream are removed with it.
  // Streams forked from it are unaffected.
  virtual absl::Status DeleteStream(const std::string& id) = 0;

  // Streams of `tenant`, by id, at most page_size (1..1000) per page. Pass
  // "" for the first page, then the previous page's next_page_token (an
  // opaque string, valid only with the same tenant; it names the last id
  // returned, so it stays valid while streams are created and deleted).
  virtual absl::StatusOr<ListStreamsResult> ListStreams(const std::string& tenant, int page_size,
                                                        const std::string& page_token) = 0;

  // Leases. Acquire succeeds when there is no lease, it has expired, or
  // `owner` already holds it (a re-acquire: it fences the owner's earlier
  // incarnation); every success issues a new epoch and expires = now + ttl.
  // ABORTED while another owner's lease is live. ttl in (0, 24 h].
  virtual absl::StatusOr<Lease> AcquireLease(const std::string& id, const std::string& owner,
                                             absl::Duration ttl) = 0;
  // Extends the live lease with this epoch to now + ttl (same epoch).
  // ABORTED when there is no lease, another epoch, or it has expired (then
  // only a new Acquire helps).
  virtual absl::StatusOr<Lease> RenewLease(const std::string& id, uint64_t epoch,
                                           absl::Duration ttl) = 0;
  // Removes the lease with this epoch (also when it has expired but nobody
  // has taken it over). ABORTED when there is no lease or another epoch.
  virtual absl::Status ReleaseLease(const std::string& id, uint64_t epoch) = 0;

  // Deletes every stream whose `updated` is at or before now - idle_ttl and
  // that has no live lease, as DeleteStream does. Returns how many were
  // deleted. idle_ttl >= 0 (0 deletes every unleased stream). Each stream is
  // deleted atomically; if an error stops the sweep, the streams deleted so
  // far stay deleted.
  virtual absl::StatusOr<int> DeleteIdleStreams(absl::Duration idle_ttl) = 0;
};

// A source of the current time (overridable in tests). Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // The system clock (absl::Now()); a process-wide singleton, never null.
  static Clock* Real();
};

// What the stores share in configuration.
struct StoreOptions {
  // Versions kept per stream: committing version n drops versions <= n - K.
  // Minimum 1. Default: 8.
  int retained_versions = 8;
  // Time source, for leases and idle expiry. Default (nullptr): the real
  // clock. Tests pass a fake. Not owned; must outlive the store.
  Clock* clock = nullptr;
};

}  // namespace gander::storage

#endif  // GANDER_STORAGE_STATE_STORE_H_
