// What a stream's sampler must remember between tokens, and its persisted
// form. Together with the stream's SamplingParams (seed included) it makes a
// stream's sampling exactly resumable: a Sampler created from a restored
// SamplerState draws the same tokens as the one that saved it.
//
// Binary format, version 1 (all integers little-endian):
//   offset  size  field
//   0       4     magic "GSMP"
//   4       1     version = 1
//   5       8     position (uint64): tokens sampled so far
//   13      4     n (uint32): number of penalty counts
//   17      8n    n entries (token id uint32, count float32 bits), token ids
//                 strictly increasing, counts finite and > 0
//   17+8n   4     CRC-32 (IEEE) of bytes [0, 17+8n)
// Serialize is deterministic: equal states give equal bytes.
//
// Example:
//   std::string bytes = sampler.state().Serialize();
//   absl::StatusOr<SamplerState> restored = SamplerState::Deserialize(bytes);
//
// A plain value: copyable, thread-compatible. Deserialize never aborts and
// never trusts a length before checking it against the input's size:
// truncated, corrupt or trailing data is DATA_LOSS, an unknown version is
// INVALID_ARGUMENT.
#ifndef GANDER_ENGINE_SAMPLER_SAMPLER_STATE_H_
#define GANDER_ENGINE_SAMPLER_SAMPLER_STATE_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::engine {

struct SamplerState {
  // The format version Serialize writes and Deserialize reads.
  static constexpr uint8_t kVersion = 1;

  // Number of tokens sampled so far; the next draw uses the counter RNG at
  // this position.
  uint64_t position = 0;

  // Penalty counts by token id (sparse; absent means 0). Each is the decayed
  // number of times the token was sampled (see SamplingParams::penalty_decay);
  // every stored count is finite and > 0.
  absl::flat_hash_map<int, float> counts;

  std::string Serialize() const;
  static absl::StatusOr<SamplerState> Deserialize(absl::string_view bytes);
};

// Exact equality: same position, same token ids, bitwise-equal counts.
bool operator==(const SamplerState& a, const SamplerState& b);
inline bool operator!=(const SamplerState& a, const SamplerState& b) { return !(a == b); }

}  // namespace gander::engine

#endif  // GANDER_ENGINE_SAMPLER_SAMPLER_STATE_H_
