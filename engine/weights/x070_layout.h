// The tensors of an RWKV-7 (x070) checkpoint for a given config: names and
// shapes exactly as stored in the official `.pth` files (docs: "Checkpoint
// tensors"), in RWKV-LM's order. The loader checks files against this list
// and the random model writer writes it. Internal to engine/weights.
//
// Example:
//   for (const X070Tensor& t : X070Tensors(config, /*layer0_value_lora=*/true)) {
//     // t.name == "blocks.0.att.w1", t.shape == {C, Dw}, t.kind == ...
//   }
//
// Pure functions, thread-safe.
#ifndef GANDER_ENGINE_WEIGHTS_X070_LAYOUT_H_
#define GANDER_ENGINE_WEIGHTS_X070_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/model_config.h"

namespace gander::engine::weights_internal {

struct X070Tensor {
  std::string name;
  std::vector<int64_t> shape;  // as stored in the file
  int layer = -1;              // block index, -1 outside the blocks
  std::string suffix;          // name after "blocks.<l>." (the whole name outside blocks)
};

// Layer 0's value residual LoRA (att.v0, v1, v2) is unused; released files
// carry it, some others omit it: `layer0_value_lora` says whether to list it.
// Its ranks come from config.lora_v in either case.
std::vector<X070Tensor> X070Tensors(const ModelConfig& config, bool layer0_value_lora);

// Whether `suffix` names a tensor of block `layer` ("att.w1", "ln0.weight"
// in block 0 only, ...).
bool IsX070BlockSuffix(absl::string_view suffix, int layer);
// Whether `name` is one of the tensors outside the blocks ("emb.weight", ...).
bool IsX070TopLevelName(absl::string_view name);

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_X070_LAYOUT_H_
