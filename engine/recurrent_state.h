// The recurrent state of one stream: fixed size, independent of how many
// tokens the stream has seen. A plain copyable value: copying it forks the
// stream's memory.
//
// Layout (float32, contiguous), for each layer l in [0, L):
//   att_shift [C]        ln1 output of the previous token (time-mix shift)
//   wkv       [H][N][N]  per head, indexed [head][i = value][j = key]
//   ffn_shift [C]        ln2 output of the previous token (channel-mix shift)
// so layer l starts at l * (2C + H*N*N) floats. A fresh stream is all zeros.
//
// Thread-compatible: concurrent reads are safe, writes need exclusion.
//
// Example:
//   RecurrentState state(config);           // zeros
//   RecurrentState fork = state;            // independent copy
//   absl::Span<const uint8_t> raw = state.bytes();
#ifndef GANDER_ENGINE_RECURRENT_STATE_H_
#define GANDER_ENGINE_RECURRENT_STATE_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/model_config.h"

namespace gander::engine {

class RecurrentState {
 public:
  RecurrentState() = default;
  // All zeros, shaped for `config`.
  explicit RecurrentState(const ModelConfig& config)
      : embd_(config.embd),
        wkv_floats_(static_cast<size_t>(config.heads) * config.head_size * config.head_size),
        data_(config.StateFloats(), 0.0f) {}

  size_t layer_floats() const { return 2 * static_cast<size_t>(embd_) + wkv_floats_; }

  float* att_shift(int layer) { return data_.data() + layer * layer_floats(); }
  const float* att_shift(int layer) const { return data_.data() + layer * layer_floats(); }
  float* wkv(int layer) { return att_shift(layer) + embd_; }
  const float* wkv(int layer) const { return att_shift(layer) + embd_; }
  float* ffn_shift(int layer) { return wkv(layer) + wkv_floats_; }
  const float* ffn_shift(int layer) const { return wkv(layer) + wkv_floats_; }

  // Every float of the state, in the layout above.
  absl::Span<float> floats() { return absl::MakeSpan(data_); }
  absl::Span<const float> floats() const { return data_; }
  // The same memory as raw bytes (host byte order).
  absl::Span<const uint8_t> bytes() const {
    return {reinterpret_cast<const uint8_t*>(data_.data()), data_.size() * sizeof(float)};
  }

  // Back to a fresh stream's state (all zeros).
  void Reset() { data_.assign(data_.size(), 0.0f); }

 private:
  int embd_ = 0;
  size_t wkv_floats_ = 0;
  std::vector<float> data_;
};

}  // namespace gander::engine

#endif  // GANDER_ENGINE_RECURRENT_STATE_H_
