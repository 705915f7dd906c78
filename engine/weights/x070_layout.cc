#include "engine/weights/x070_layout.h"

#include "absl/strings/str_cat.h"

namespace gander::engine::weights_internal {
namespace {

// Shapes symbolic in the config; see X070Tensors.
enum class Shape { kC, kC11, kCC, kCDw, kDwC, kCDa, kDaC, kCDv, kDvC, kCDg, kDgC, kHN, kFC, kCF };

struct BlockTensor {
  const char* suffix;
  Shape shape;
};

constexpr BlockTensor kBlockTensors[] = {
    {"ln1.weight", Shape::kC},
    {"ln1.bias", Shape::kC},
    {"ln2.weight", Shape::kC},
    {"ln2.bias", Shape::kC},
    {"att.x_r", Shape::kC11},
    {"att.x_w", Shape::kC11},
    {"att.x_k", Shape::kC11},
    {"att.x_v", Shape::kC11},
    {"att.x_a", Shape::kC11},
    {"att.x_g", Shape::kC11},
    {"att.w0", Shape::kC11},
    {"att.w1", Shape::kCDw},
    {"att.w2", Shape::kDwC},
    {"att.a0", Shape::kC11},
    {"att.a1", Shape::kCDa},
    {"att.a2", Shape::kDaC},
    {"att.v0", Shape::kC11},
    {"att.v1", Shape::kCDv},
    {"att.v2", Shape::kDvC},
    {"att.g1", Shape::kCDg},
    {"att.g2", Shape::kDgC},
    {"att.k_k", Shape::kC11},
    {"att.k_a", Shape::kC11},
    {"att.r_k", Shape::kHN},
    {"att.receptance.weight", Shape::kCC},
    {"att.key.weight", Shape::kCC},
    {"att.value.weight", Shape::kCC},
    {"att.output.weight", Shape::kCC},
    {"att.ln_x.weight", Shape::kC},
    {"att.ln_x.bias", Shape::kC},
    {"ffn.x_k", Shape::kC11},
    {"ffn.key.weight", Shape::kFC},
    {"ffn.value.weight", Shape::kCF},
};

bool IsLayer0ValueLora(absl::string_view suffix) {
  return suffix == "att.v0" || suffix == "att.v1" || suffix == "att.v2";
}

std::vector<int64_t> Dims(Shape shape, const ModelConfig& c) {
  const int64_t C = c.embd;
  switch (shape) {
    case Shape::kC:
      return {C};
    case Shape::kC11:
      return {1, 1, C};
    case Shape::kCC:
      return {C, C};
    case Shape::kCDw:
      return {C, c.lora_w};
    case Shape::kDwC:
      return {c.lora_w, C};
    case Shape::kCDa:
      return {C, c.lora_a};
    case Shape::kDaC:
      return {c.lora_a, C};
    case Shape::kCDv:
      return {C, c.lora_v};
    case Shape::kDvC:
      return {c.lora_v, C};
    case Shape::kCDg:
      return {C, c.lora_g};
    case Shape::kDgC:
      return {c.lora_g, C};
    case Shape::kHN:
      return {c.heads, c.head_size};
    case Shape::kFC:
      return {c.ffn, C};
    case Shape::kCF:
      return {C, c.ffn};
  }
  return {};
}

}  // namespace

std::vector<X070Tensor> X070Tensors(const ModelConfig& config, bool layer0_value_lora) {
  const int64_t C = config.embd;
  std::vector<X070Tensor> tensors;
  tensors.push_back({"emb.weight", {config.vocab, C}, -1, "emb.weight"});
  for (int l = 0; l < config.layers; ++l) {
    if (l == 0) {
      tensors.push_back({"blocks.0.ln0.weight", {C}, 0, "ln0.weight"});
      tensors.push_back({"blocks.0.ln0.bias", {C}, 0, "ln0.bias"});
    }
    for (const BlockTensor& b : kBlockTensors) {
      if (l == 0 && !layer0_value_lora && IsLayer0ValueLora(b.suffix)) continue;
      tensors.push_back(
          {absl::StrCat("blocks.", l, ".", b.suffix), Dims(b.shape, config), l, b.suffix});
    }
  }
  tensors.push_back({"ln_out.weight", {C}, -1, "ln_out.weight"});
  tensors.push_back({"ln_out.bias", {C}, -1, "ln_out.bias"});
  tensors.push_back({"head.weight", {config.vocab, C}, -1, "head.weight"});
  return tensors;
}

bool IsX070BlockSuffix(absl::string_view suffix, int layer) {
  if (suffix == "ln0.weight" || suffix == "ln0.bias") return layer == 0;
  for (const BlockTensor& b : kBlockTensors) {
    if (suffix == b.suffix) return true;
  }
  return false;
}

bool IsX070TopLevelName(absl::string_view name) {
  return name == "emb.weight" || name == "ln_out.weight" || name == "ln_out.bias" ||
         name == "head.weight";
}

}  // namespace gander::engine::weights_internal
