// Writes RWKV-7 (x070) models with random weights, in the official tensor
// layout, as a PyTorch `.pth` checkpoint (the zip layout torch.save writes,
// readable by torch.load) or a `.safetensors` file: test and benchmark
// models of any size without downloading one.
//
// The values are realistic enough that the recurrence is well-behaved and
// non-trivial (see RandomTensorValues for each tensor's distribution), and
// deterministic: each tensor is generated from (seed, tensor name) alone, so
// the same spec gives the same values in every format and file order.
//
// Example:
//   RandomModelSpec spec{.layers = 2, .embd = 128, .vocab = 256, .seed = 7};
//   absl::Status s = WriteRandomModel(spec, "/tmp/tiny.pth", TensorFormat::kPth,
//                                     FileDtype::kBF16);
//   absl::StatusOr<ModelWeights> w = LoadModelWeights("/tmp/tiny.pth");
//
// Thread-compatible, no shared state. The file appears under `path` only
// when complete (written under a temporary name, then renamed; not fsynced).
// Errors: INVALID_ARGUMENT for a bad spec (naming the field), else the
// system error of the write (NOT_FOUND for a missing directory,
// PERMISSION_DENIED, RESOURCE_EXHAUSTED for a full disk).
#ifndef GANDER_ENGINE_WEIGHTS_RANDOM_MODEL_H_
#define GANDER_ENGINE_WEIGHTS_RANDOM_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model_config.h"

namespace gander::engine {

struct RandomModelSpec {
  int layers = 1;  // L >= 1
  int embd = 64;   // C, a multiple of head_size
  int vocab = 64;  // V >= 1
  uint64_t seed = 0;
  int head_size = 64;  // N
  // LoRA ranks; 0 derives each from C like the released models:
  //   C < 512 (tiny test models): Dw = Da = C/4, Dv = C/8, Dg = C/2, each
  //     rounded to a multiple of 8, at least 8 and at most C;
  //   C <= 1024: 64 / 64 / 32 / 128 (as 0.1B, 0.4B);
  //   C <= 2048: 96 / 96 / 64 / 256 (as 1.5B);
  //   larger:    128 / 128 / 96 / 384 (an extrapolation; real files vary).
  int lora_w = 0;
  int lora_a = 0;
  int lora_v = 0;
  int lora_g = 0;
  int ffn = 0;  // F; 0 means 4 * C
  // Whether block 0 carries the (unused) value residual LoRA att.v0/v1/v2,
  // as released files do.
  bool layer0_value_lora = true;
};

enum class TensorFormat { kPth, kSafetensors };
enum class FileDtype { kBF16, kF32 };

// The config a file written from `spec` has (derived ranks filled in), or
// INVALID_ARGUMENT naming the bad field.
absl::StatusOr<ModelConfig> RandomModelConfig(const RandomModelSpec& spec);

// Writes the model of `spec` to `path`. Tensors are stored in RWKV-LM's order
// in a .pth and in name order in a .safetensors; every tensor is `dtype`
// (bf16 values are the float32 values rounded to nearest even).
absl::Status WriteRandomModel(const RandomModelSpec& spec, const std::string& path,
                              TensorFormat format, FileDtype dtype);

// The float32 values (before any bf16 rounding) of the tensor `name` of
// `spec`'s model, in file layout (row-major in the stored shape); empty for a
// name the model does not have. Distributions (U = uniform, N = normal with
// standard deviation), chosen so activations stay O(1) through the layers:
//   emb.weight                 N(0, 1)
//   ln*.weight, ln_x.weight    1 + N(0, 0.1);  ln*.bias, ln_x.bias  N(0, 0.02)
//   att.x_r/w/k/v/a/g, ffn.x_k U(0, 1)      (token-shift mixes)
//   att.w0                     U(-4, 3): decay w = exp(-0.6065 sigmoid(.)) spans ~(0.56, 0.99)
//   att.a0, att.v0             U(-1, 1)
//   att.w1, a1, v1, g1 [C, D]  N(0, 1/sqrt(C))
//   att.w2, a2, v2 [D, C]      N(0, 0.5/sqrt(D)) (the LoRA's output stays ~0.3-0.5)
//   att.g2 [Dg, C]             N(0, 1/sqrt(Dg))
//   att.k_k                    U(0.85, 1);  att.k_a  U(0.9, 1.1)
//   att.r_k [H, N]             N(0, 0.1)
//   projections, ffn, head     N(0, 1/sqrt(in)), in = the matrix's input width
std::vector<float> RandomTensorValues(const RandomModelSpec& spec, const std::string& name);

}  // namespace gander::engine

#endif  // GANDER_ENGINE_WEIGHTS_RANDOM_MODEL_H_
