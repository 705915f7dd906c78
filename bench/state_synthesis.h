// Realistic recurrent states for the storage benchmarks: a state from real
// generation (a random model prefilling random tokens), and states of larger
// model shapes synthesised from it row by row, so that codecs and stores see
// the statistics of a real state at every size without running a large
// model.
//
// Example:
//   auto model = LoadRandomModel({.layers = 12, .embd = 768, .vocab = 65536, .seed = 7});
//   auto real = GenerateSnapshot(**model, /*tokens=*/64, /*seed=*/7);
//   auto big = TileSnapshot(*real, StateShape(32, 4096));  // a 7.2B-shaped state [35 MB]
//
// Ownership: results are owned by the caller; `model` and `source` are
// borrowed for the call only.
// Thread safety: thread-compatible, no shared state (GenerateSnapshot uses
// the model, which serves one thread at a time).
// Failure: absl::Status, never an abort: INVALID_ARGUMENT for bad arguments
// (naming them), else the error of the model file's write, load or prefill.
#ifndef GANDER_BENCH_STATE_SYNTHESIS_H_
#define GANDER_BENCH_STATE_SYNTHESIS_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/model.h"
#include "engine/model_config.h"
#include "engine/weights/random_model.h"
#include "storage/state_codec.h"

namespace gander::bench {

// The state-relevant part of a model shape: L layers, C = embd, H = C / N
// heads of N = head_size (only these four matter to a state and its codecs).
engine::ModelConfig StateShape(int layers, int embd, int head_size = 64);

// Writes the random model of `spec` (bf16 weights, .pth) to a temporary file
// in $TEST_TMPDIR, $TMPDIR or /tmp, loads it with `threads` threads (0 = all
// cores) and removes the file. Writing a 0.1B-shaped model takes seconds.
absl::StatusOr<std::unique_ptr<engine::Model>> LoadRandomModel(const engine::RandomModelSpec& spec,
                                                               int threads = 0);

// A stream's snapshot after `tokens` (>= 1) random token ids, drawn from
// std::mt19937(seed) modulo V, have been prefilled into a fresh state of
// `model`: the model's fingerprint and config, token_count = tokens, a
// 29-byte sampler state (the size of a small SamplerState), no pending input.
absl::StatusOr<storage::StreamSnapshot> GenerateSnapshot(engine::Model& model, int tokens,
                                                         uint64_t seed);

// `source`'s state tiled to `shape` (same head size N required): every row
// of N floats of the result (each wkv row, and the shift vectors cut into
// chunks of N) is a random row of the same kind (time-mix shift, wkv,
// channel-mix shift) from source layer l modulo L_source, with its N values
// in a random order and each value's lowest byte redrawn (that byte is noise
// in a real state too). Entropy coders thus see a real state's statistics,
// and zstd finds no repeated byte runs that a real state would not have
// (plain or scaled copies would give it some). Deterministic: the random
// draws are seeded from the shape. Fingerprint, token count and sampler
// state are the source's; config is `shape`.
absl::StatusOr<storage::StreamSnapshot> TileSnapshot(const storage::StreamSnapshot& source,
                                                     const engine::ModelConfig& shape);

}  // namespace gander::bench

#endif  // GANDER_BENCH_STATE_SYNTHESIS_H_
