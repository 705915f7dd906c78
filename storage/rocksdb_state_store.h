// The RocksDB StateStore: Gander's embedded, crash-safe store of streams and
// checkpoints (semantics in storage/state_store.h).
//
// Every change (create, create-with-checkpoint, commit with its retention
// drops and reference-count changes, fork, delete, each lease change) is one
// RocksDB WriteBatch, so after any crash the store reopens at a consistent
// point with nothing to repair; CheckConsistency() proves it. Every stored
// value is verified when read: metadata records carry an XXH3-64 checksum
// over key and value, checkpoint blobs are stored under the XXH3-128 of
// their bytes; a mismatch is DATA_LOSS, never wrong data. The layout (column
// families, keys, records) is described in storage/rocksdb_layout.h.
//
// Example:
//   absl::StatusOr<std::unique_ptr<RocksDbStateStore>> store =
//       OpenRocksDbStateStore("/var/lib/gander/store", RocksDbStoreOptions());
//   if (!store.ok()) return store.status();
//   auto info = (*store)->CreateStream({.id = "s1", .tenant = "acme", .model_fingerprint = fp});
//
// Ownership: the caller owns the store; destroying it closes the database
// (waiting for background work). options.base.clock is borrowed.
// Thread safety: every method is thread-safe. Writes to different streams
// proceed in parallel (striped per-stream and per-checkpoint locks); reads
// take no lock and see one consistent snapshot.
// Processes: one process at a time may open a path (RocksDB's LOCK file; a
// second open fails with UNAVAILABLE). A process killed with SIGKILL leaves
// a store that the next open recovers from its write-ahead log.
#ifndef GANDER_STORAGE_ROCKSDB_STATE_STORE_H_
#define GANDER_STORAGE_ROCKSDB_STATE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/state_store.h"

namespace gander::storage {

struct RocksDbStoreOptions {
  // Retention and clock, as for every store.
  StoreOptions base;

  // Durability of every write (each method that changes the store).
  // true: an OK return means the change is in the write-ahead log and the
  //   log has been fdatasync'ed: it survives kill -9, an OS crash and power
  //   loss (on a disk that honours cache flushes).
  // false: an OK return means the change has been written (write(2)) to the
  //   write-ahead log, i.e. it is in the OS page cache: it survives the
  //   process's death (kill -9 included) but an OS crash or power loss may
  //   lose the last changes acknowledged before it. What survives is still a
  //   prefix of the acknowledged changes: never a torn or partial change.
  // Default: true.
  bool sync = true;

  // Keep checkpoint bytes (values of at least 64 KiB) in RocksDB's
  // integrated blob files instead of inside the LSM tree's table files: a
  // checkpoint is then written once (WAL aside) instead of once per
  // compaction level; deleted checkpoints' space comes back through blob
  // garbage collection during compactions. Chosen by measurement
  // (storage/blob_choice_benchmark.cc, 2.4 MB states, synced): at 2.4 GB
  // committed, bytes written per byte committed 2.8 vs 4.9 with plain
  // values (and growing with the store), commit p50/p99 9.5/36 ms vs
  // 12.9/66 ms; with retention churn 2.1 vs 4.1 and 1.8x vs 2.2x the live
  // bytes on disk. The price: a restore reads ~2.5 ms slower per 2.4 MB
  // (3.3 vs 0.95 ms; blob records carry a CRC32C, which Debian's RocksDB
  // computes without SSE4.2). Default: true.
  bool use_blob_files = true;

  // Create the store (and its directory) when `path` holds none. false: an
  // absent store is NOT_FOUND. Default: true.
  bool create_if_missing = true;

  // LRU block cache of the metadata column families, in bytes (checkpoint
  // reads bypass every cache). Default: 32 MiB.
  size_t metadata_cache_bytes = size_t{32} << 20;

  // Memtable size of the checkpoints column family, in bytes: how much
  // checkpoint data is buffered before a flush to disk. Default: 64 MiB.
  size_t checkpoint_write_buffer_bytes = size_t{64} << 20;
};

// Counts over the whole store (GetStats).
struct RocksDbStoreStats {
  uint64_t streams = 0;
  uint64_t versions = 0;          // retained versions of all streams
  uint64_t checkpoints = 0;       // distinct stored checkpoint blobs
  uint64_t checkpoint_bytes = 0;  // their total size
  uint64_t references = 0;        // sum of the checkpoints' reference counts
  uint64_t leases = 0;            // lease records (live or expired)
};

// The StateStore interface plus what only the RocksDB store offers.
class RocksDbStateStore : public StateStore {
 public:
  // Verifies the whole store against its invariants, in one snapshot: every
  // record decodes and passes its checksum; every version, tenant index
  // entry and lease belongs to an existing stream; each stream's versions
  // are contiguous and end at its head; the reference counts equal a
  // recount from the versions; the stored checkpoints are exactly the
  // referenced ones (no orphans, none missing) and each one's bytes hash to
  // its key; no lease epoch reaches the epoch counter. Reads every
  // checkpoint: O(store size). OK, or DATA_LOSS listing the first problems.
  virtual absl::Status CheckConsistency() = 0;

  // Counts by scanning the column families (O(number of records)).
  virtual absl::StatusOr<RocksDbStoreStats> GetStats() = 0;

  // Flushes every memtable and compacts every column family completely,
  // relocating live checkpoints out of blob files that hold garbage, so the
  // space of deleted checkpoints is returned to the file system. For
  // maintenance and benchmarks; blocks until done.
  virtual absl::Status Compact() = 0;
};

// Opens (or creates, see create_if_missing) the store at `path`.
// INVALID_ARGUMENT for options out of range (retained_versions < 1),
// NOT_FOUND for an absent store without create_if_missing,
// FAILED_PRECONDITION for a store in a newer layout, DATA_LOSS for a
// corrupt one, UNAVAILABLE when another process holds it or the disk fails.
absl::StatusOr<std::unique_ptr<RocksDbStateStore>> OpenRocksDbStateStore(
    const std::string& path, const RocksDbStoreOptions& options);

}  // namespace gander::storage

#endif  // GANDER_STORAGE_ROCKSDB_STATE_STORE_H_
