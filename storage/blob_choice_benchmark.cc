// Measures RocksDB's integrated blob files against plain values for the
// checkpoints column family, through the real store (RocksDbStateStore with
// sync = true): the numbers behind RocksDbStoreOptions::use_blob_files.
//
// For each state size (2,433,024 bytes: RWKV-7 0.1B; 12,976,128 bytes:
// 1.5B) and each setting it commits one incompressible checkpoint to each of
// N streams (synced; latency p50/p99), deletes every other stream, compacts
// (Compact(): full compaction with blob garbage collection) and reports the
// bytes the process wrote to disk (/proc/self/io, write_bytes minus
// cancelled_write_bytes) per byte committed, and the store's size on disk
// against the live checkpoint bytes. Then it reads back every remaining
// checkpoint (restore latency p50/p99, twice). Second, the steady state of
// retention (Churn): streams committing repeatedly, each commit dropping the
// previous checkpoint, with only RocksDB's own compactions.
//
// Usage:
//   bazel run //storage:blob_choice_benchmark -- --dir=/tmp/blob_bench
//       --small_count=200 --large_count=40   (one command line)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/rocksdb_state_store.h"

ABSL_FLAG(std::string, dir, "/tmp/gander_blob_choice", "scratch directory (emptied first)");
ABSL_FLAG(int, small_count, 200, "checkpoints of the 0.1B state size to commit");
ABSL_FLAG(int, large_count, 40, "checkpoints of the 1.5B state size to commit");

namespace gander::storage {
namespace {

constexpr uint64_t kSmallState = 2'433'024;   // 12 * (2 * 768 + 12 * 64 * 64) * 4
constexpr uint64_t kLargeState = 12'976'128;  // 24 * (2 * 2048 + 32 * 64 * 64) * 4

// Bytes this process has caused to be written to storage so far.
int64_t DiskWrites() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = 0, written = 0, cancelled = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") written = value;
    if (key == "cancelled_write_bytes:") cancelled = value;
  }
  return written - cancelled;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

std::string Incompressible(std::mt19937_64& rng, uint64_t size) {
  std::string bytes(size, '\0');
  for (uint64_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&bytes[i], &v, 8);
  }
  return bytes;
}

struct Percentiles {
  double p50_ms = 0, p99_ms = 0;
};
Percentiles Of(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return {ms[n / 2], ms[std::min(n - 1, static_cast<size_t>(std::ceil(0.99 * n)) - 1)]};
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

bool Run(const std::string& dir, bool blob_files, uint64_t state_bytes, int count) {
  std::filesystem::remove_all(dir);
  RocksDbStoreOptions options;
  options.sync = true;
  options.use_blob_files = blob_files;
  auto opened = OpenRocksDbStateStore(dir, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return false;
  }
  RocksDbStateStore& store = **opened;
  std::vector<uint64_t> epochs;
  for (int i = 0; i < count; ++i) {
    const std::string id = absl::StrCat("s", i);
    if (!store.CreateStream({id, "bench", "model"}).ok()) return false;
    auto lease = store.AcquireLease(id, "bench", absl::Hours(1));
    if (!lease.ok()) return false;
    epochs.push_back(lease->epoch);
  }
  std::mt19937_64 rng(42);
  std::vector<double> commit_ms;
  const int64_t writes_before = DiskWrites();
  const auto commit_start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration generating{};
  for (int i = 0; i < count; ++i) {
    const auto g = std::chrono::steady_clock::now();
    const std::string state = Incompressible(rng, state_bytes);
    const auto t0 = std::chrono::steady_clock::now();
    generating += t0 - g;
    auto v = store.Commit({absl::StrCat("s", i), 0, epochs[i], state, 1000});
    const auto t1 = std::chrono::steady_clock::now();
    if (!v.ok()) {
      std::fprintf(stderr, "commit: %s\n", v.status().ToString().c_str());
      return false;
    }
    commit_ms.push_back(1e3 * Seconds(t1 - t0));
  }
  const double commit_s = Seconds(std::chrono::steady_clock::now() - commit_start - generating);
  const int64_t commit_writes = DiskWrites() - writes_before;
  const uint64_t size_after_commits = DirectoryBytes(dir);

  for (int i = 0; i < count; i += 2) {
    if (!store.DeleteStream(absl::StrCat("s", i)).ok()) return false;
  }
  const auto compact_start = std::chrono::steady_clock::now();
  if (absl::Status s = store.Compact(); !s.ok()) {
    std::fprintf(stderr, "compact: %s\n", s.ToString().c_str());
    return false;
  }
  const double compact_s = Seconds(std::chrono::steady_clock::now() - compact_start);
  const int64_t total_writes = DiskWrites() - writes_before;
  const uint64_t size_after_compaction = DirectoryBytes(dir);
  const uint64_t live = static_cast<uint64_t>(count / 2) * state_bytes;
  const double committed = static_cast<double>(count) * state_bytes;

  // Restores, twice: the second pass reads from a warm page cache.
  std::vector<double> restore_ms, warm_ms;
  for (std::vector<double>* pass : {&restore_ms, &warm_ms}) {
    for (int i = 1; i < count; i += 2) {
      const auto t0 = std::chrono::steady_clock::now();
      auto checkpoint = store.GetCheckpoint(absl::StrCat("s", i), 0);
      const auto t1 = std::chrono::steady_clock::now();
      if (!checkpoint.ok() || checkpoint->bytes.size() != state_bytes) return false;
      pass->push_back(1e3 * Seconds(t1 - t0));
    }
  }
  if (absl::Status s = store.CheckConsistency(); !s.ok()) {
    std::fprintf(stderr, "consistency: %s\n", s.ToString().c_str());
    return false;
  }

  const Percentiles commit = Of(commit_ms), restore = Of(restore_ms), warm = Of(warm_ms);
  std::printf(
      "%-6s %5.1f MB x %3d | commit p50 %7.2f ms p99 %7.2f ms (%6.1f MB/s) | written/committed: "
      "commits %.2f, +delete&compact %.2f | disk after commits %.2fx committed, after "
      "compaction %.2fx live (compact %.1f s) | restore p50 %6.2f ms p99 %6.2f ms, again p50 "
      "%6.2f ms p99 %6.2f ms\n",
      blob_files ? "blob" : "plain", state_bytes / 1e6, count, commit.p50_ms, commit.p99_ms,
      committed / 1e6 / commit_s, commit_writes / committed, total_writes / committed,
      size_after_commits / committed, static_cast<double>(size_after_compaction) / live, compact_s,
      restore.p50_ms, restore.p99_ms, warm.p50_ms, warm.p99_ms);
  std::fflush(stdout);
  opened->reset();
  std::filesystem::remove_all(dir);
  return true;
}

// The steady state of retention: count / 4 streams each commit 4 times with
// retained_versions = 1, so every commit after a stream's first drops the
// previous checkpoint. No manual compaction: what RocksDB's own compactions
// (and blob garbage collection) leave on disk.
bool Churn(const std::string& dir, bool blob_files, uint64_t state_bytes, int count) {
  std::filesystem::remove_all(dir);
  RocksDbStoreOptions options;
  options.sync = true;
  options.use_blob_files = blob_files;
  options.base.retained_versions = 1;
  auto opened = OpenRocksDbStateStore(dir, options);
  if (!opened.ok()) return false;
  RocksDbStateStore& store = **opened;
  const int streams = std::max(1, count / 4);
  std::vector<uint64_t> epochs;
  for (int i = 0; i < streams; ++i) {
    const std::string id = absl::StrCat("s", i);
    if (!store.CreateStream({id, "bench", "model"}).ok()) return false;
    auto lease = store.AcquireLease(id, "bench", absl::Hours(1));
    if (!lease.ok()) return false;
    epochs.push_back(lease->epoch);
  }
  std::mt19937_64 rng(43);
  std::vector<double> commit_ms;
  const int64_t writes_before = DiskWrites();
  for (uint64_t round = 0; round < 4; ++round) {
    for (int i = 0; i < streams; ++i) {
      const std::string state = Incompressible(rng, state_bytes);
      const auto t0 = std::chrono::steady_clock::now();
      auto v = store.Commit({absl::StrCat("s", i), round, epochs[i], state, 1000});
      const auto t1 = std::chrono::steady_clock::now();
      if (!v.ok()) {
        std::fprintf(stderr, "commit: %s\n", v.status().ToString().c_str());
        return false;
      }
      commit_ms.push_back(1e3 * Seconds(t1 - t0));
    }
  }
  const int64_t writes = DiskWrites() - writes_before;
  const double committed = 4.0 * streams * state_bytes;
  const double live = static_cast<double>(streams) * state_bytes;
  const uint64_t size = DirectoryBytes(dir);
  if (absl::Status s = store.CheckConsistency(); !s.ok()) return false;
  const Percentiles commit = Of(commit_ms);
  std::printf(
      "churn %-6s %5.1f MB x %3d streams x 4 commits | commit p50 %7.2f ms p99 %7.2f ms | "
      "written/committed %.2f | disk %.2fx live\n",
      blob_files ? "blob" : "plain", state_bytes / 1e6, streams, commit.p50_ms, commit.p99_ms,
      writes / committed, size / live);
  std::fflush(stdout);
  opened->reset();
  std::filesystem::remove_all(dir);
  return true;
}

}  // namespace
}  // namespace gander::storage

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string dir = absl::GetFlag(FLAGS_dir);
  for (const auto& [bytes, count] :
       {std::pair<uint64_t, int>{gander::storage::kSmallState, absl::GetFlag(FLAGS_small_count)},
        std::pair<uint64_t, int>{gander::storage::kLargeState, absl::GetFlag(FLAGS_large_count)}}) {
    if (count < 2) continue;
    for (bool blob_files : {false, true}) {
      if (!gander::storage::Run(dir, blob_files, bytes, count)) return 1;
    }
    for (bool blob_files : {false, true}) {
      if (!gander::storage::Churn(dir, blob_files, bytes, count)) return 1;
    }
  }
  return 0;
}
