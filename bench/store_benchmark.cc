// Latency and size of the embedded RocksDB state store
// (storage/rocksdb_state_store.h), with its default options (sync = true:
// every change is fdatasync'ed to the write-ahead log; checkpoints in blob
// files), in a fresh scratch directory. Prints markdown tables:
//
//   1. Fork: latency p50/p99 of --forks forks of one committed state per
//      shape, and what the forks added to the store (stored checkpoints and
//      their bytes, references, bytes on disk per fork): a fork shares its
//      source's checkpoint, so its cost must not depend on the state's size.
//   2. Commit (EncodeSnapshot + Commit, synced) and restore (GetCheckpoint +
//      DecodeSnapshot) latency p50/p99 per shape and codec: --commits
//      commits of distinct snapshots to one stream (the default retention of
//      8 versions drops the older ones), a Compact() (so that restores read
//      blob files, not the memtable), then as many restores cycling over the
//      retained versions. The blob files are then in the OS page cache: the
//      restore figures exclude a cold disk read.
//   3. Size per codec: encoded bytes against the float32 state, and the
//      blob-file bytes per stored checkpoint after that compaction.
//   4. Restore vs re-prefill: the time to restore a stream from the store
//      (lossless codec) against the time the CPU engine takes to prefill the
//      same history again, for each --histories length.
// plus, first, the speed of the checksums every commit and read pays
// (RocksDB's CRC32C over WAL and blob records; the store's XXH3-128).
//
// The states come from real generation: a random model shaped by --layers,
// --embd, --vocab (default: like the released RWKV-7 0.1B, bf16 weights)
// prefills --prompt random tokens; a shape equal to the model's uses that
// state, larger shapes tile it row by row (bench/state_synthesis.h). Each
// committed snapshot carries another token count, so no two commits share a
// checkpoint (the store would only add a reference).
//
// Every result is checked (forks store no new checkpoint; exact codecs and
// the restored history come back bit-exact); a failed check exits 1.
//
// Run (the defaults are the recorded sizes; a few minutes on 2 cores):
//   bazel run -c opt //bench:store_benchmark
//   bazel run -c opt //bench:store_benchmark -- --layers=2 --embd=128 --vocab=512
//       --shapes=2:128,4:256 --forks=20 --commits=5 --histories=64 (a quick check)
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "bench/state_synthesis.h"
#include "common/status_macros.h"
#include "engine/model.h"
#include "engine/weights/random_model.h"
#include "rocksdb/file_checksum.h"
#include "rocksdb/version.h"
#include "storage/rocksdb_state_store.h"
#include "storage/state_codec.h"
#include "xxhash.h"

ABSL_FLAG(int, layers, 12, "L of the random model that generates the real state");
ABSL_FLAG(int, embd, 768, "C of that model");
ABSL_FLAG(int, vocab, 65536, "V of that model");
ABSL_FLAG(int, prompt, 64, "tokens prefilled to make the real state");
ABSL_FLAG(uint64_t, seed, 7, "seed of the model's weights and of the tokens");
ABSL_FLAG(int, threads, 0, "engine threads (0 = every core)");
ABSL_FLAG(std::vector<std::string>, shapes,
          std::vector<std::string>({"12:768", "24:2048", "32:4096"}),
          "state shapes L:C (head size 64) for forks, commits and restores");
ABSL_FLAG(std::vector<std::string>, codecs,
          std::vector<std::string>({"raw", "lossless", "bf16", "int8"}), "codecs to commit with");
ABSL_FLAG(int, forks, 200, "forks per shape");
ABSL_FLAG(int, commits, 40, "commits (and restores) per shape and codec");
ABSL_FLAG(std::vector<std::string>, histories, std::vector<std::string>({"1000", "4000"}),
          "history lengths (tokens) to re-prefill against a restore");
ABSL_FLAG(int, prefill_runs, 3, "prefills timed per history length");
ABSL_FLAG(int, restore_runs, 50, "restores timed per history length");
ABSL_FLAG(std::string, tmp, "",
          "where to make the scratch directory (default: $TEST_TMPDIR, $TMPDIR or /tmp); it is "
          "removed at the end");

namespace gander::bench {
namespace {

using engine::ModelConfig;
using storage::DecodeSnapshot;
using storage::EncodeSnapshot;
using storage::OpenRocksDbStateStore;
using storage::RocksDbStateStore;
using storage::RocksDbStoreOptions;
using storage::RocksDbStoreStats;
using storage::StateCodec;
using storage::StateCodecName;
using storage::StreamSnapshot;
using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Nearest-rank percentiles of a sample (p99 of fewer than 100 samples is
// its maximum).
struct Summary {
  double p50 = 0, p99 = 0, min = 0;
};
Summary Summarize(std::vector<double> ms) {
  if (ms.empty()) return {};
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  const size_t p99 = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(n)));
  return {ms[(n - 1) / 2], ms[std::min(n, std::max<size_t>(p99, 1)) - 1], ms.front()};
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  if (!(in >> a >> b >> c)) return "unknown";
  return absl::StrFormat("%.2f %.2f %.2f", a, b, c);
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

// Bytes of the regular files under `dir` whose name ends in `suffix` ("" =
// every file).
uint64_t DirectoryBytes(const std::string& dir, const std::string& suffix = "") {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      total += entry.file_size();
    }
  }
  return total;
}

std::string Mb(uint64_t bytes) { return absl::StrFormat("%.2f MB", bytes / 1e6); }
std::string Ms(double ms) {
  return ms >= 100  ? absl::StrFormat("%.0f", ms)
         : ms >= 10 ? absl::StrFormat("%.1f", ms)
                    : absl::StrFormat("%.2f", ms);
}
std::string ShapeName(const ModelConfig& c) {
  return absl::StrCat("L=", c.layers, " C=", c.embd, " (", Mb(c.StateFloats() * sizeof(float)),
                      ")");
}

absl::StatusOr<std::unique_ptr<RocksDbStateStore>> OpenFresh(const std::string& dir) {
  std::filesystem::remove_all(dir);
  return OpenRocksDbStateStore(dir, RocksDbStoreOptions());
}

// Creates stream `id` and takes its lease; returns the epoch.
absl::StatusOr<uint64_t> NewLeasedStream(RocksDbStateStore& store, const std::string& id,
                                         const std::string& fingerprint) {
  GANDER_RETURN_IF_ERROR(
      store.CreateStream({.id = id, .tenant = "bench", .model_fingerprint = fingerprint}).status());
  GANDER_ASSIGN_OR_RETURN(storage::Lease lease, store.AcquireLease(id, "bench", absl::Hours(1)));
  return lease.epoch;
}

absl::Status Check(bool ok, const std::string& what) {
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("check failed: ", what));
}

bool SameFloats(const engine::RecurrentState& a, const engine::RecurrentState& b) {
  return a.floats().size() == b.floats().size() &&
         std::memcmp(a.floats().data(), b.floats().data(), a.floats().size() * sizeof(float)) == 0;
}

// ---------------------------------------------------------------------------
// Checksum speed.

absl::Status ChecksumTable(const StreamSnapshot& snapshot) {
  const absl::Span<const uint8_t> bytes = snapshot.state.bytes();
  const char* data = reinterpret_cast<const char*>(bytes.data());
  const size_t size = bytes.size();
  constexpr int kRuns = 20;
  std::vector<char> copy(size);
  // Every result goes here, so that no call can be optimised away.
  volatile uint64_t sink = 0;
  auto time = [&](auto&& fn) {
    std::vector<double> ms;
    for (int i = 0; i < kRuns; ++i) {
      const auto t0 = Clock::now();
      fn();
      ms.push_back(MsBetween(t0, Clock::now()));
    }
    return Summarize(ms).p50;
  };
  std::shared_ptr<rocksdb::FileChecksumGenFactory> crc_factory =
      rocksdb::GetFileChecksumGenCrc32cFactory();
  const double crc = time([&] {
    auto gen = crc_factory->CreateFileChecksumGenerator(rocksdb::FileChecksumGenContext());
    gen->Update(data, size);
    gen->Finalize();
    sink += gen->GetChecksum().size();
  });
  const double xxh128 = time([&] { sink += XXH3_128bits(data, size).low64; });
  const double xxh64 = time([&] { sink += XXH3_64bits(data, size); });
  const double mem = time([&] {
    std::memcpy(copy.data(), data, size);
    sink += static_cast<unsigned char>(copy[size / 2]);
  });
  std::printf("\n### Checksum speed (over one %s state, medians of %d)\n\n", Mb(size).c_str(),
              kRuns);
  std::printf("| function | ms | GB/s |\n|---|---:|---:|\n");
  const std::vector<std::pair<std::string, double>> rows = {
      {"RocksDB CRC32C (WAL and blob records; librocksdb)", crc},
      {"XXH3-128 (the store's checkpoint hash)", xxh128},
      {"XXH3-64 (the codec's checksum)", xxh64},
      {"memcpy (baseline)", mem}};
  for (const auto& [name, ms] : rows) {
    std::printf("| %s | %.3f | %.2f |\n", name.c_str(), ms, size / ms / 1e6);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// 1. Fork.

absl::Status ForkTable(const std::string& scratch, const std::vector<StreamSnapshot>& states,
                       int forks) {
  std::printf(
      "\n### Fork (%d forks of one stored checkpoint per state size, after %d unmeasured)\n\n",
      forks, std::min(forks, 20));
  std::printf(
      "| state | checkpoint bytes | fork p50 ms | fork p99 ms | stored checkpoints before → "
      "after | checkpoint bytes before → after | references after | disk growth per fork |\n"
      "|---|---:|---:|---:|---|---|---:|---:|\n");
  for (const StreamSnapshot& snapshot : states) {
    const std::string dir = absl::StrCat(scratch, "/fork");
    GANDER_ASSIGN_OR_RETURN(std::unique_ptr<RocksDbStateStore> store, OpenFresh(dir));
    GANDER_ASSIGN_OR_RETURN(std::string bytes, EncodeSnapshot(snapshot, StateCodec::kRaw));
    GANDER_ASSIGN_OR_RETURN(uint64_t epoch,
                            NewLeasedStream(*store, "source", snapshot.model_fingerprint));
    GANDER_RETURN_IF_ERROR(store
                               ->Commit({.stream_id = "source",
                                         .expected_version = 0,
                                         .lease_epoch = epoch,
                                         .checkpoint = bytes,
                                         .token_count = snapshot.token_count})
                               .status());
    // Settle the checkpoint into a blob file, as it is once the memtable
    // has been flushed.
    GANDER_RETURN_IF_ERROR(store->Compact());
    // Unmeasured forks first: the first writes of a fresh store are slower.
    const int warmup = std::min(forks, 20);
    for (int i = 0; i < warmup; ++i) {
      GANDER_RETURN_IF_ERROR(
          store->Fork("source", 0, {.id = absl::StrCat("warmup-", i), .tenant = "bench"}).status());
    }
    GANDER_ASSIGN_OR_RETURN(RocksDbStoreStats before, store->GetStats());
    const uint64_t disk_before = DirectoryBytes(dir);
    std::vector<double> ms;
    for (int i = 0; i < forks; ++i) {
      const auto t0 = Clock::now();
      absl::StatusOr<storage::StreamInfo> fork =
          store->Fork("source", 0, {.id = absl::StrCat("fork-", i), .tenant = "bench"});
      ms.push_back(MsBetween(t0, Clock::now()));
      GANDER_RETURN_IF_ERROR(fork.status());
    }
    const uint64_t disk_after = DirectoryBytes(dir);
    GANDER_ASSIGN_OR_RETURN(RocksDbStoreStats after, store->GetStats());
    GANDER_RETURN_IF_ERROR(Check(after.checkpoints == before.checkpoints &&
                                     after.checkpoint_bytes == before.checkpoint_bytes &&
                                     after.references == before.references + forks,
                                 "forks must only add references to the one checkpoint"));
    if (forks > 0) {
      GANDER_ASSIGN_OR_RETURN(storage::Checkpoint last,
                              store->GetCheckpoint(absl::StrCat("fork-", forks - 1), 0));
      GANDER_RETURN_IF_ERROR(Check(last.bytes == bytes, "a fork reads its source's bytes"));
    }
    const Summary s = Summarize(ms);
    std::printf("| %s | %zu | %s | %s | %llu → %llu | %llu → %llu | %llu | %.0f B |\n",
                ShapeName(snapshot.config).c_str(), bytes.size(), Ms(s.p50).c_str(),
                Ms(s.p99).c_str(), static_cast<unsigned long long>(before.checkpoints),
                static_cast<unsigned long long>(after.checkpoints),
                static_cast<unsigned long long>(before.checkpoint_bytes),
                static_cast<unsigned long long>(after.checkpoint_bytes),
                static_cast<unsigned long long>(after.references),
                forks > 0 ? (static_cast<double>(disk_after) - disk_before) / forks : 0.0);
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// 2 and 3. Commit, restore and size per codec.

struct CellResult {
  std::string shape;
  StateCodec codec;
  uint64_t raw_bytes = 0;
  uint64_t encoded_bytes = 0;  // of the last commit (fixed-size codecs: all)
  double blob_bytes_per_checkpoint = 0;
  Summary encode, commit, commit_total, get, decode, restore_total;
};

absl::StatusOr<CellResult> RunCell(const std::string& dir, const StreamSnapshot& source,
                                   StateCodec codec, int commits) {
  GANDER_ASSIGN_OR_RETURN(std::unique_ptr<RocksDbStateStore> store, OpenFresh(dir));
  GANDER_ASSIGN_OR_RETURN(uint64_t epoch, NewLeasedStream(*store, "s", source.model_fingerprint));
  CellResult r;
  r.shape = ShapeName(source.config);
  r.codec = codec;
  r.raw_bytes = source.state.floats().size() * sizeof(float);
  StreamSnapshot snapshot = source;
  std::vector<double> encode_ms, commit_ms, total_ms;
  for (int i = 0; i < commits; ++i) {
    // Another token count: other bytes, so another checkpoint.
    snapshot.token_count = source.token_count + i + 1;
    const auto t0 = Clock::now();
    GANDER_ASSIGN_OR_RETURN(std::string bytes, EncodeSnapshot(snapshot, codec));
    const auto t1 = Clock::now();
    GANDER_ASSIGN_OR_RETURN(uint64_t version,
                            store->Commit({.stream_id = "s",
                                           .expected_version = static_cast<uint64_t>(i),
                                           .lease_epoch = epoch,
                                           .checkpoint = bytes,
                                           .token_count = snapshot.token_count}));
    const auto t2 = Clock::now();
    GANDER_RETURN_IF_ERROR(Check(version == static_cast<uint64_t>(i) + 1, "commit version"));
    encode_ms.push_back(MsBetween(t0, t1));
    commit_ms.push_back(MsBetween(t1, t2));
    total_ms.push_back(MsBetween(t0, t2));
    r.encoded_bytes = bytes.size();
  }
  GANDER_RETURN_IF_ERROR(store->Compact());
  GANDER_ASSIGN_OR_RETURN(RocksDbStoreStats stats, store->GetStats());
  GANDER_RETURN_IF_ERROR(Check(stats.checkpoints > 0, "checkpoints stored"));
  r.blob_bytes_per_checkpoint =
      static_cast<double>(DirectoryBytes(dir, ".blob")) / static_cast<double>(stats.checkpoints);

  GANDER_ASSIGN_OR_RETURN(std::vector<storage::VersionInfo> versions, store->ListVersions("s"));
  GANDER_RETURN_IF_ERROR(Check(!versions.empty(), "retained versions"));
  const bool exact = codec == StateCodec::kRaw || codec == StateCodec::kLossless;
  std::vector<double> get_ms, decode_ms, restore_ms;
  for (int i = 0; i < commits; ++i) {
    const storage::VersionInfo& v = versions[i % versions.size()];
    const auto t0 = Clock::now();
    GANDER_ASSIGN_OR_RETURN(storage::Checkpoint checkpoint, store->GetCheckpoint("s", v.version));
    const auto t1 = Clock::now();
    GANDER_ASSIGN_OR_RETURN(
        StreamSnapshot back,
        DecodeSnapshot(checkpoint.bytes, source.model_fingerprint, source.config));
    const auto t2 = Clock::now();
    get_ms.push_back(MsBetween(t0, t1));
    decode_ms.push_back(MsBetween(t1, t2));
    restore_ms.push_back(MsBetween(t0, t2));
    GANDER_RETURN_IF_ERROR(Check(back.token_count == v.token_count, "restored token count"));
    if (i == 0 && exact) {
      GANDER_RETURN_IF_ERROR(Check(SameFloats(back.state, source.state),
                                   absl::StrCat(StateCodecName(codec), " restores bit-exactly")));
    }
  }
  r.encode = Summarize(encode_ms);
  r.commit = Summarize(commit_ms);
  r.commit_total = Summarize(total_ms);
  r.get = Summarize(get_ms);
  r.decode = Summarize(decode_ms);
  r.restore_total = Summarize(restore_ms);
  store.reset();
  std::filesystem::remove_all(dir);
  return r;
}

absl::Status CommitRestoreTables(const std::string& scratch,
                                 const std::vector<StreamSnapshot>& states,
                                 const std::vector<StateCodec>& codecs, int commits) {
  std::vector<CellResult> cells;
  for (const StreamSnapshot& snapshot : states) {
    for (StateCodec codec : codecs) {
      std::fprintf(stderr, "commit/restore %s %s (load %s)\n", ShapeName(snapshot.config).c_str(),
                   StateCodecName(codec).data(), LoadAverage().c_str());
      GANDER_ASSIGN_OR_RETURN(CellResult cell,
                              RunCell(absl::StrCat(scratch, "/cell"), snapshot, codec, commits));
      cells.push_back(std::move(cell));
    }
  }
  std::printf("\n### Commit, synced (%d commits per row; ms; commit = EncodeSnapshot + Commit)\n\n",
              commits);
  std::printf(
      "| state | codec | encode p50 | Commit p50 | Commit p99 | commit p50 | commit p99 | state "
      "MB/s at p50 |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const CellResult& c : cells) {
    std::printf("| %s | %s | %s | %s | %s | **%s** | %s | %.0f |\n", c.shape.c_str(),
                StateCodecName(c.codec).data(), Ms(c.encode.p50).c_str(), Ms(c.commit.p50).c_str(),
                Ms(c.commit.p99).c_str(), Ms(c.commit_total.p50).c_str(),
                Ms(c.commit_total.p99).c_str(), c.raw_bytes / 1e3 / c.commit_total.p50);
  }
  std::printf(
      "\n### Restore (%d restores per row, cycling over the retained versions; ms; restore = "
      "GetCheckpoint + DecodeSnapshot)\n\n",
      commits);
  std::printf(
      "| state | codec | GetCheckpoint p50 | GetCheckpoint p99 | decode p50 | restore p50 | "
      "restore p99 | state MB/s at p50 |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const CellResult& c : cells) {
    std::printf("| %s | %s | %s | %s | %s | **%s** | %s | %.0f |\n", c.shape.c_str(),
                StateCodecName(c.codec).data(), Ms(c.get.p50).c_str(), Ms(c.get.p99).c_str(),
                Ms(c.decode.p50).c_str(), Ms(c.restore_total.p50).c_str(),
                Ms(c.restore_total.p99).c_str(), c.raw_bytes / 1e3 / c.restore_total.p50);
  }
  std::printf(
      "\n### Size per codec (stored = encoded snapshot; on disk = blob-file bytes per stored "
      "checkpoint after a full compaction)\n\n");
  std::printf(
      "| state | codec | raw bytes | stored bytes | stored / raw | raw / stored | on disk per "
      "checkpoint | on disk / stored |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const CellResult& c : cells) {
    // Values under the blob threshold (64 KiB) stay in the table files.
    const std::string on_disk = c.blob_bytes_per_checkpoint > 0
                                    ? absl::StrFormat("%.0f | %.4f", c.blob_bytes_per_checkpoint,
                                                      c.blob_bytes_per_checkpoint / c.encoded_bytes)
                                    : std::string("in table files | -");
    std::printf("| %s | %s | %llu | %llu | %.3f | %.3f | %s |\n", c.shape.c_str(),
                StateCodecName(c.codec).data(), static_cast<unsigned long long>(c.raw_bytes),
                static_cast<unsigned long long>(c.encoded_bytes),
                static_cast<double>(c.encoded_bytes) / c.raw_bytes,
                static_cast<double>(c.raw_bytes) / c.encoded_bytes, on_disk.c_str());
  }
  std::fflush(stdout);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// 4. Restore vs re-prefill.

absl::Status PrefillTable(const std::string& scratch, engine::Model& model,
                          const std::vector<int>& histories, int prefill_runs, int restore_runs) {
  const std::string dir = absl::StrCat(scratch, "/history");
  GANDER_ASSIGN_OR_RETURN(std::unique_ptr<RocksDbStateStore> store, OpenFresh(dir));
  std::printf(
      "\n### Restore vs re-prefill (L=%d C=%d V=%d, bf16 weights; restore = GetCheckpoint + "
      "DecodeSnapshot, lossless; ms)\n\n",
      model.config().layers, model.config().embd, model.config().vocab);
  std::printf(
      "| history | re-prefill p50 | re-prefill min | prefill tokens/s | restore p50 | restore "
      "p99 | stored bytes | re-prefill p50 / restore p50 |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::vector<float> logits(model.config().vocab);
  for (int history : histories) {
    std::fprintf(stderr, "history %d (load %s)\n", history, LoadAverage().c_str());
    std::vector<int> tokens(history);
    std::mt19937 rng(history);
    for (int& t : tokens) t = static_cast<int>(rng() % model.config().vocab);
    std::vector<double> prefill_ms;
    engine::RecurrentState state;
    for (int run = 0; run < prefill_runs; ++run) {
      state = model.NewState();
      const auto t0 = Clock::now();
      GANDER_RETURN_IF_ERROR(model.Prefill(tokens, &state, absl::MakeSpan(logits)));
      prefill_ms.push_back(MsBetween(t0, Clock::now()));
    }
    StreamSnapshot snapshot{.model_fingerprint = model.fingerprint(),
                            .config = model.config(),
                            .token_count = static_cast<uint64_t>(history),
                            .state = state,
                            .sampler_state = std::string(29, 's')};
    GANDER_ASSIGN_OR_RETURN(std::string bytes, EncodeSnapshot(snapshot, StateCodec::kLossless));
    const std::string id = absl::StrCat("history-", history);
    GANDER_ASSIGN_OR_RETURN(uint64_t epoch, NewLeasedStream(*store, id, model.fingerprint()));
    GANDER_RETURN_IF_ERROR(store
                               ->Commit({.stream_id = id,
                                         .expected_version = 0,
                                         .lease_epoch = epoch,
                                         .checkpoint = bytes,
                                         .token_count = static_cast<uint64_t>(history)})
                               .status());
    GANDER_RETURN_IF_ERROR(store->Compact());
    std::vector<double> restore_ms;
    for (int run = 0; run < restore_runs; ++run) {
      const auto t0 = Clock::now();
      GANDER_ASSIGN_OR_RETURN(storage::Checkpoint checkpoint, store->GetCheckpoint(id, 0));
      GANDER_ASSIGN_OR_RETURN(
          StreamSnapshot back,
          DecodeSnapshot(checkpoint.bytes, model.fingerprint(), model.config()));
      restore_ms.push_back(MsBetween(t0, Clock::now()));
      GANDER_RETURN_IF_ERROR(
          Check(SameFloats(back.state, state), "the restored history equals the prefilled one"));
    }
    const Summary p = Summarize(prefill_ms), r = Summarize(restore_ms);
    std::printf("| %d | %s | %s | %.0f | %s | %s | %zu | **%.0fx** |\n", history, Ms(p.p50).c_str(),
                Ms(p.min).c_str(), history / (p.p50 / 1e3), Ms(r.p50).c_str(), Ms(r.p99).c_str(),
                bytes.size(), p.p50 / r.p50);
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------

absl::StatusOr<std::vector<ModelConfig>> ParseShapes(const std::vector<std::string>& specs) {
  std::vector<ModelConfig> shapes;
  for (const std::string& spec : specs) {
    std::vector<std::string> parts = absl::StrSplit(spec, ':');
    int layers = 0, embd = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &layers) ||
        !absl::SimpleAtoi(parts[1], &embd) || layers < 1 || embd < 64 || embd % 64 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--shapes: \"", spec, "\" is not L:C with L >= 1 and C a multiple of 64"));
    }
    shapes.push_back(StateShape(layers, embd));
  }
  return shapes;
}

absl::StatusOr<std::vector<int>> ParseHistories(const std::vector<std::string>& specs) {
  std::vector<int> histories;
  for (const std::string& spec : specs) {
    int tokens = 0;
    if (!absl::SimpleAtoi(spec, &tokens) || tokens < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--histories: \"", spec, "\" is not a positive token count"));
    }
    histories.push_back(tokens);
  }
  return histories;
}

absl::Status Run() {
  GANDER_ASSIGN_OR_RETURN(std::vector<ModelConfig> shapes,
                          ParseShapes(absl::GetFlag(FLAGS_shapes)));
  GANDER_ASSIGN_OR_RETURN(std::vector<int> histories,
                          ParseHistories(absl::GetFlag(FLAGS_histories)));
  std::vector<StateCodec> codecs;
  for (const std::string& name : absl::GetFlag(FLAGS_codecs)) {
    GANDER_ASSIGN_OR_RETURN(StateCodec codec, storage::ParseStateCodec(name));
    codecs.push_back(codec);
  }
  const int forks = absl::GetFlag(FLAGS_forks);
  const int commits = absl::GetFlag(FLAGS_commits);
  const int prefill_runs = absl::GetFlag(FLAGS_prefill_runs);
  const int restore_runs = absl::GetFlag(FLAGS_restore_runs);
  if (forks < 0 || commits < 1 || prefill_runs < 1 || restore_runs < 1) {
    return absl::InvalidArgumentError(
        "--forks must be >= 0 and --commits, --prefill_runs, --restore_runs >= 1");
  }

  std::string parent = absl::GetFlag(FLAGS_tmp);
  if (parent.empty()) {
    const char* env = std::getenv("TEST_TMPDIR");
    if (env == nullptr) env = std::getenv("TMPDIR");
    parent = env != nullptr ? env : "/tmp";
  }
  std::string scratch = absl::StrCat(parent, "/gander-store-bench-XXXXXX");
  if (mkdtemp(scratch.data()) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot create a scratch directory in ", parent, ": ", strerror(errno)));
  }

  std::printf("## State store benchmark\n\n");
  std::printf(
      "Machine: %ld x %s; RocksDB %d.%d.%d; store options: defaults (sync = true, blob files "
      "on); scratch: %s\n\nLoad average at start: %s\n",
      sysconf(_SC_NPROCESSORS_ONLN), CpuModel().c_str(), ROCKSDB_MAJOR, ROCKSDB_MINOR,
      ROCKSDB_PATCH, scratch.c_str(), LoadAverage().c_str());
  std::fflush(stdout);

  engine::RandomModelSpec spec;
  spec.layers = absl::GetFlag(FLAGS_layers);
  spec.embd = absl::GetFlag(FLAGS_embd);
  spec.vocab = absl::GetFlag(FLAGS_vocab);
  spec.seed = absl::GetFlag(FLAGS_seed);
  std::fprintf(stderr, "writing and loading the model L=%d C=%d V=%d\n", spec.layers, spec.embd,
               spec.vocab);
  GANDER_ASSIGN_OR_RETURN(std::unique_ptr<engine::Model> model,
                          LoadRandomModel(spec, absl::GetFlag(FLAGS_threads)));
  GANDER_ASSIGN_OR_RETURN(StreamSnapshot real, GenerateSnapshot(*model, absl::GetFlag(FLAGS_prompt),
                                                                absl::GetFlag(FLAGS_seed)));
  std::vector<StreamSnapshot> states;
  for (const ModelConfig& shape : shapes) {
    if (shape.layers == real.config.layers && shape.embd == real.config.embd) {
      states.push_back(real);  // the real state itself
    } else {
      GANDER_ASSIGN_OR_RETURN(StreamSnapshot tiled, TileSnapshot(real, shape));
      states.push_back(std::move(tiled));
    }
  }
  std::printf(
      "\nStates: from a random model L=%d C=%d V=%d after %d prompt tokens; other shapes tiled "
      "from it (bench/state_synthesis.h).\n",
      spec.layers, spec.embd, spec.vocab, absl::GetFlag(FLAGS_prompt));

  absl::Status status = ChecksumTable(real);
  if (status.ok()) status = ForkTable(scratch, states, forks);
  if (status.ok()) status = CommitRestoreTables(scratch, states, codecs, commits);
  if (status.ok()) status = PrefillTable(scratch, *model, histories, prefill_runs, restore_runs);
  std::printf("\nLoad average at end: %s\n", LoadAverage().c_str());
  std::filesystem::remove_all(scratch);
  return status;
}

}  // namespace
}  // namespace gander::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = gander::bench::Run();
  std::fprintf(stderr, "total %.1f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!status.ok()) {
    std::fprintf(stderr, "store_benchmark: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
