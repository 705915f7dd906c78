// Random RWKV-7 (x070) weights made directly in memory, for benchmarks of
// shapes too large to write to a file and load back (the 7.2B shape is
// ~14.4 GB in bf16): the same ModelWeights layout LoadModelWeights gives,
// filled from a counter-based generator by all cores in parallel.
//
// The values have realistic magnitudes (activations stay O(1) through the
// layers) but are NOT the values WriteRandomModel writes for the same spec;
// they are deterministic: the same spec and type give the same bytes
// whatever the thread count.
//
// Example:
//   RandomModelSpec spec{.layers = 32, .embd = 4096, .vocab = 65536, .seed = 7};
//   absl::StatusOr<ModelWeights> weights = MakeRandomWeights(spec, WeightType::kBF16);
//   if (!weights.ok()) return weights.status();
//   auto backend = CreateCudaBackend(*weights, {});
//
// Layout (as engine/weights/model_weights.h describes it):
//   emb, head [V, C]; receptance, key, value, output [C, C];
//   ffn_key [F, C]; ffn_value [C, F]; LoRAs transposed to (out, in):
//   w1 [Dw, C], w2 [C, Dw], a1 [Da, C], a2 [C, Da], v1 [Dv, C], v2 [C, Dv],
//   g1 [Dg, C], g2 [C, Dg]; layer 0 has no value LoRA (v1, v2 rows == 0,
//   v0 empty); vectors [C] float32; r_k [H * N].
// The config is RandomModelConfig(spec) (LoRA ranks derived from C as the
// released models have them unless the spec sets them).
//
// Distributions (U = uniform):
//   every matrix but emb      U(-1/sqrt(in), 1/sqrt(in)), in = its cols
//   emb                       U(-1, 1)
//   ln*/ln_x weights          U(0.9, 1.1);  their biases  U(-0.02, 0.02)
//   x_r/w/k/v/a/g, ffn_x_k    U(0.4, 0.6)
//   w0                        U(-4, 3) (decays spread over ~(0.56, 0.99))
//   a0, v0                    U(-1, 1)
//   k_k                       U(0.85, 1);  k_a  U(0.9, 1.1)
//   r_k                       U(-0.1, 0.1)
//
// Ownership: the returned ModelWeights owns every matrix through `storage`
// (one 64-byte aligned buffer; each matrix starts on a 64-byte boundary);
// copies share it. Its fingerprint is "random-" followed by the shape, the
// type and the seed (not an XXH3 digest: it never equals a loaded file's).
//
// Thread safety: thread-compatible, no shared state; the call itself uses
// `threads` worker threads and joins them before returning.
//
// Errors: INVALID_ARGUMENT for a bad spec (RandomModelConfig's message,
// naming the field) or threads < 0; RESOURCE_EXHAUSTED when the matrix
// buffer cannot be allocated. Nothing is returned half-made.
#ifndef GANDER_BENCH_CUDA_RANDOM_WEIGHTS_H_
#define GANDER_BENCH_CUDA_RANDOM_WEIGHTS_H_

#include "absl/status/statusor.h"
#include "engine/weights/model_weights.h"
#include "engine/weights/random_model.h"

namespace gander::bench {

// Makes the weights of `spec`'s model with matrices of `type`. threads = 0
// uses every core (std::thread::hardware_concurrency()).
absl::StatusOr<engine::ModelWeights> MakeRandomWeights(const engine::RandomModelSpec& spec,
                                                       engine::WeightType type, int threads = 0);

}  // namespace gander::bench

#endif  // GANDER_BENCH_CUDA_RANDOM_WEIGHTS_H_
