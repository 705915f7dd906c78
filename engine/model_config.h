// The shape of an RWKV-7 (x070) model, derived from its tensors (never
// hard-coded: see docs/rwkv7.md), and the sizes that follow from it.
//
// Example:
//   ModelConfig config = ...;  // from LoadModelWeights()
//   size_t floats = config.StateFloats();
#ifndef GANDER_ENGINE_MODEL_CONFIG_H_
#define GANDER_ENGINE_MODEL_CONFIG_H_

#include <cstddef>
#include <cstdint>

namespace gander::engine {

struct ModelConfig {
  int layers = 0;      // L
  int embd = 0;        // C = n_embd
  int head_size = 64;  // N
  int heads = 0;       // H = C / N
  int ffn = 0;         // F, width of the channel mix (4 * C in released models)
  int vocab = 0;       // V, including padding; token ids are in [0, V)
  int lora_w = 0;      // Dw, decay LoRA rank
  int lora_a = 0;      // Da, in-context learning rate LoRA rank
  int lora_v = 0;      // Dv, value residual LoRA rank
  int lora_g = 0;      // Dg, output gate LoRA rank

  // Floats of one layer's state: att_shift [C] + wkv [H][N][N] + ffn_shift [C].
  size_t LayerStateFloats() const {
    return 2 * static_cast<size_t>(embd) + static_cast<size_t>(heads) * head_size * head_size;
  }
  // Floats of one stream's whole recurrent state.
  size_t StateFloats() const { return static_cast<size_t>(layers) * LayerStateFloats(); }
};

inline bool operator==(const ModelConfig& a, const ModelConfig& b) {
  return a.layers == b.layers && a.embd == b.embd && a.head_size == b.head_size &&
         a.heads == b.heads && a.ffn == b.ffn && a.vocab == b.vocab && a.lora_w == b.lora_w &&
         a.lora_a == b.lora_a && a.lora_v == b.lora_v && a.lora_g == b.lora_g;
}
inline bool operator!=(const ModelConfig& a, const ModelConfig& b) { return !(a == b); }

}  // namespace gander::engine

#endif  // GANDER_ENGINE_MODEL_CONFIG_H_
