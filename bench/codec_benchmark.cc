// Speed and compression of the state codecs (storage/state_codec.h).
//
//   BM_Encode/shape/codec   EncodeSnapshot of one stream's state
//   BM_Decode/shape/codec   DecodeSnapshot of the same bytes
// shape: 0 = 0.1B (L=12, C=768: 2.4 MB), 1 = 1.5B (L=24, C=2048: 13 MB),
//        2 = 7.2B (L=32, C=4096: 35 MB), 3 = the real source state below
// codec: 0 raw, 1 lossless (zstd 1, the default), 2 bf16, 3 int8,
//        4 lossless at zstd 3, 5 bf16 + zstd 1 (compress_lossy),
//        6 int8 + zstd 1 (compress_lossy),
//        7 zstd 1 of the float32 bytes without the shuffle (not a codec: the
//          baseline the shuffle is measured against; no envelope)
// MB/s (bytes_per_second) counts the float32 state's bytes, so codecs
// compare directly; the `ratio` counter is raw / encoded bytes.
//
// The states are realistic, not zeros: at start-up a random model (L=4,
// C=256, V=512, N=64) prefills 128 tokens (shape 3 is that state); its
// state is tiled to each larger shape row by row (bench/state_synthesis.h):
// every row of N floats is a random row of the same layer (modulo 4) and
// kind (time-mix shift, wkv, channel-mix shift) of the source, its N values
// in a random order and each value's lowest byte redrawn (it is noise in a
// real state too). The entropy
// coders thus see a real state's statistics, and zstd finds no repeated
// runs of bytes that a real state would not have (plain or scaled copies
// would give it some: int8 of a scaled row is the same bytes). The ratios
// match those of the real 0.1B-shaped state of //bench:codec_fidelity to
// within 2%.
//
// Run: bazel run -c opt //bench:codec_benchmark -- --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "bench/state_synthesis.h"
#include "engine/model.h"
#include "engine/weights/random_model.h"
#include "storage/state_codec.h"

namespace {

using gander::engine::ModelConfig;
using gander::storage::StateCodec;
using gander::storage::StreamSnapshot;

using gander::bench::StateShape;

// The real state every benchmark state is made from.
StreamSnapshot* g_source = nullptr;

StreamSnapshot MakeSource() {
  gander::engine::RandomModelSpec spec;
  spec.layers = 4;
  spec.embd = 256;
  spec.vocab = 512;
  spec.seed = 7;
  auto model = gander::bench::LoadRandomModel(spec, /*threads=*/1);
  if (!model.ok()) {
    std::fprintf(stderr, "cannot make the model: %s\n", model.status().ToString().c_str());
    std::exit(1);
  }
  auto s = gander::bench::GenerateSnapshot(**model, /*tokens=*/128, /*seed=*/7);
  if (!s.ok()) {
    std::fprintf(stderr, "prefill: %s\n", s.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(s);
}

// `source`'s state tiled to `shape` (bench/state_synthesis.h).
StreamSnapshot Tile(const StreamSnapshot& source, const ModelConfig& shape) {
  auto s = gander::bench::TileSnapshot(source, shape);
  if (!s.ok()) {
    std::fprintf(stderr, "tiling: %s\n", s.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(s);
}

const StreamSnapshot& SnapshotFor(int shape) {
  static std::vector<std::unique_ptr<StreamSnapshot>> cache(4);
  auto& slot = cache[shape];
  if (!slot) {
    switch (shape) {
      case 0:
        slot = std::make_unique<StreamSnapshot>(Tile(*g_source, StateShape(12, 768)));
        break;
      case 1:
        slot = std::make_unique<StreamSnapshot>(Tile(*g_source, StateShape(24, 2048)));
        break;
      case 2:
        slot = std::make_unique<StreamSnapshot>(Tile(*g_source, StateShape(32, 4096)));
        break;
      default:
        slot = std::make_unique<StreamSnapshot>(*g_source);
    }
  }
  return *slot;
}

constexpr int kPlainZstd = 7;

gander::storage::EncodeOptions OptionsFor(int codec) {
  gander::storage::EncodeOptions options;
  options.zstd_level = codec == 4 ? 3 : 1;
  options.compress_lossy = codec == 5 || codec == 6;
  return options;
}

StateCodec CodecFor(int codec) {
  switch (codec) {
    case 4:
      return StateCodec::kLossless;
    case 5:
      return StateCodec::kBF16;
    case 6:
      return StateCodec::kInt8;
    default:
      return static_cast<StateCodec>(codec);
  }
}

// Plain zstd 1 of the float32 bytes (the baseline).
std::string PlainZstd(absl::Span<const float> floats) {
  std::string out(ZSTD_compressBound(floats.size() * 4), '\0');
  const size_t rc = ZSTD_compress(out.data(), out.size(), floats.data(), floats.size() * 4, 1);
  out.resize(ZSTD_isError(rc) ? 0 : rc);
  return out;
}

void BM_Encode(benchmark::State& state) {
  const StreamSnapshot& snapshot = SnapshotFor(static_cast<int>(state.range(0)));
  const int codec = static_cast<int>(state.range(1));
  const size_t raw = snapshot.state.floats().size() * sizeof(float);
  size_t encoded = 0;
  for (auto _ : state) {
    if (codec == kPlainZstd) {
      encoded = PlainZstd(snapshot.state.floats()).size();
    } else {
      auto bytes = gander::storage::EncodeSnapshot(snapshot, CodecFor(codec), OptionsFor(codec));
      if (!bytes.ok()) {
        state.SkipWithError(bytes.status().ToString().c_str());
        return;
      }
      encoded = bytes->size();
      benchmark::DoNotOptimize(bytes->data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw));
  state.counters["ratio"] = static_cast<double>(raw) / encoded;
  state.counters["MB"] = raw / 1e6;
}

void BM_Decode(benchmark::State& state) {
  const StreamSnapshot& snapshot = SnapshotFor(static_cast<int>(state.range(0)));
  const int codec = static_cast<int>(state.range(1));
  const size_t raw = snapshot.state.floats().size() * sizeof(float);
  size_t encoded = 0;
  if (codec == kPlainZstd) {
    const std::string compressed = PlainZstd(snapshot.state.floats());
    encoded = compressed.size();
    std::vector<char> out(raw);
    for (auto _ : state) {
      const size_t rc = ZSTD_decompress(out.data(), raw, compressed.data(), compressed.size());
      if (rc != raw) {
        state.SkipWithError("zstd decompression failed");
        return;
      }
      benchmark::DoNotOptimize(out.data());
    }
  } else {
    auto bytes = gander::storage::EncodeSnapshot(snapshot, CodecFor(codec), OptionsFor(codec));
    if (!bytes.ok()) {
      state.SkipWithError(bytes.status().ToString().c_str());
      return;
    }
    encoded = bytes->size();
    for (auto _ : state) {
      auto decoded =
          gander::storage::DecodeSnapshot(*bytes, snapshot.model_fingerprint, snapshot.config);
      if (!decoded.ok()) {
        state.SkipWithError(decoded.status().ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(decoded->state.floats().data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw));
  state.counters["ratio"] = static_cast<double>(raw) / encoded;
  state.counters["MB"] = raw / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  StreamSnapshot source = MakeSource();
  g_source = &source;
  for (int shape : {0, 1, 2, 3}) {
    for (int codec = 0; codec <= kPlainZstd; ++codec) {
      benchmark::RegisterBenchmark("BM_Encode", BM_Encode)
          ->Args({shape, codec})
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark("BM_Decode", BM_Decode)
          ->Args({shape, codec})
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
