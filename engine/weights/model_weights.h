// The weights of one RWKV-7 (x070) model, arranged for the forward pass.
//
// Every matrix is held as [rows = out, cols = in], row-major, so that every
// projection is y = W · x (the LoRA matrices, stored (in, out) in checkpoint
// files, are transposed at load). Matrices are bf16 or float32 as chosen at
// load; every vector (norms, mixes, biases) is float32.
//
// A ModelWeights is immutable once loaded and safe to share between threads.
// It owns its storage (possibly a read-only memory map of the file it came
// from: a bf16 (or fp32) matrix stored (out, in) in the file at the load type
// is used in place, zero copy). Copies share that storage; it lives until the
// last copy goes, even if the file is deleted meanwhile (but the file must
// not be rewritten in place while loaded). Matrices made at load are 64-byte
// aligned; in-place ones are aligned as the file has them (torch aligns
// storages to 64 bytes), at least to their element size.
//
// Example:
//   absl::StatusOr<ModelWeights> weights =
//       LoadModelWeights("rwkv7-0.1b.pth", {.type = WeightType::kBF16});
#ifndef GANDER_ENGINE_WEIGHTS_MODEL_WEIGHTS_H_
#define GANDER_ENGINE_WEIGHTS_MODEL_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_config.h"

namespace gander::engine {

// How a matrix's elements are stored.
enum class WeightType { kF32, kBF16 };

// A matrix [rows, cols], row-major, elements of `type` (float or uint16_t
// bf16 bits, read-only). Does not own `data`: the ModelWeights it belongs to
// does. rows == 0 marks an absent matrix (layer 0's value residual LoRA).
struct Matrix {
  WeightType type = WeightType::kF32;
  int rows = 0;
  int cols = 0;
  const void* data = nullptr;
};

// One block's weights. Vectors are [C] float32 unless noted (the files'
// [1, 1, C] token-shift and LoRA bias tensors are flattened to [C]).
struct LayerWeights {
  std::vector<float> ln1_weight, ln1_bias, ln2_weight, ln2_bias;
  // Token-shift mix coefficients of the time mix.
  std::vector<float> x_r, x_w, x_k, x_v, x_a, x_g;
  // LoRA biases. v0 is empty in layer 0 (its value residual is unused).
  std::vector<float> w0, a0, v0;
  std::vector<float> k_k, k_a;
  std::vector<float> r_k;  // [H * N], head-major
  std::vector<float> ln_x_weight, ln_x_bias;
  // LoRAs, (out, in): w1 [Dw, C], w2 [C, Dw]; a1 [Da, C], a2 [C, Da];
  // v1 [Dv, C], v2 [C, Dv] (rows == 0 in layer 0); g1 [Dg, C], g2 [C, Dg].
  Matrix w1, w2, a1, a2, v1, v2, g1, g2;
  // Projections [C, C].
  Matrix receptance, key, value, output;
  // Channel mix.
  std::vector<float> ffn_x_k;
  Matrix ffn_key;    // [F, C]
  Matrix ffn_value;  // [C, F]
};

struct ModelWeights {
  ModelConfig config;
  WeightType type = WeightType::kF32;  // of every Matrix below
  Matrix emb;                          // [V, C], one row per token
  std::vector<float> ln0_weight, ln0_bias;
  std::vector<LayerWeights> layers;  // [L]
  std::vector<float> ln_out_weight, ln_out_bias;
  Matrix head;  // [V, C]
  // 32 lowercase hex digits: XXH3-128 of the config and of every tensor's
  // name, dtype, shape and bytes as stored in the file (all of them, layer
  // 0's unused value LoRA included), in name order. The same tensors give
  // the same fingerprint from .pth or .safetensors, at either load type;
  // the same values stored as fp32 instead of bf16 give another one.
  std::string fingerprint;
  // Keeps the matrices' memory alive (buffers, a file mapping).
  std::shared_ptr<const void> storage;
};

struct LoadOptions {
  // How matrices are held in memory. Default: bf16 (half the memory and
  // bandwidth; arithmetic is float32 either way).
  WeightType type = WeightType::kBF16;
};

// Loads an RWKV-7 model from an official PyTorch `.pth` checkpoint (zip
// format, torch >= 1.6, stored entries, ZIP64 included) or a `.safetensors`
// file (chosen by content, not by extension); bf16, fp16 and fp32 tensors
// are accepted, also mixed in one file, in any order. Derives the config from
// tensor names and shapes (L from the highest block index, V and C from
// emb.weight, H and N from blocks.0.att.r_k, F and the LoRA ranks from their
// matrices); layer 0's value LoRA (att.v0/v1/v2) may be absent. Every other
// tensor must be present with exactly its expected shape, and no other
// tensor may be present. fp16/fp32 matrices loaded as bf16 round to nearest
// even. Reads the whole file once (to fingerprint it). Thread-safe.
// Errors (nothing is returned half-loaded); messages name the file:
//   NOT_FOUND          the file does not exist
//   PERMISSION_DENIED  it cannot be read
//   INVALID_ARGUMENT   not a model file we understand: empty, truncated or
//                      corrupt (ZIP records, pickle, safetensors header, CRC
//                      of data.pkl), compressed ZIP entries, unsupported
//                      dtype or pickle global, non-contiguous tensor,
//                      missing/extra/mis-shaped tensor, unknown variant (e.g.
//                      DeepEmbed `ffn.s_emb`); the message names the tensor,
//                      ZIP entry or byte offset
//   RESOURCE_EXHAUSTED memory for the converted matrices
// Tensor data itself carries no checksum in either format: a flipped weight
// byte loads, with a different fingerprint.
absl::StatusOr<ModelWeights> LoadModelWeights(const std::string& path,
                                              const LoadOptions& options = {});

}  // namespace gander::engine

#endif  // GANDER_ENGINE_WEIGHTS_MODEL_WEIGHTS_H_
