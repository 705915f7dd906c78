// The settings that decide how a stream's next token is drawn from the
// model's logits, and when its generation stops. Set once per stream (the
// wire request carries them); Sampler and StopChecker read them.
//
// Order of operations on each step's logits [V] (see sampler.h):
//   1. penalties: repetition (HF style), then presence + frequency, applied
//      to every token with a positive penalty count;
//   2. temperature == 0 (or top_k == 1): greedy, the highest logit wins, ties
//      to the lowest id;
//   3. otherwise softmax(logits / temperature) restricted by top_k, then
//      top_p, then min_p, and one draw with the counter RNG.
//
// Example:
//   SamplingParams params;
//   params.temperature = 0.8f;
//   params.top_p = 0.9f;
//   params.seed = 1234;
//   params.stop_strings = {"\n\nUser:"};
//   absl::Status s = params.Validate(model_config.vocab);
//
// A plain value: copyable, thread-compatible. Validate never aborts; every
// error is INVALID_ARGUMENT and names the offending field.
#ifndef GANDER_ENGINE_SAMPLER_SAMPLING_PARAMS_H_
#define GANDER_ENGINE_SAMPLER_SAMPLING_PARAMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace gander::engine {

// Limits on stop strings, so that the text held back by StopChecker (at most
// the longest stop string minus one byte) and its per-token cost stay small.
inline constexpr int kMaxStopStrings = 16;
inline constexpr int kMaxStopStringBytes = 256;

struct SamplingParams {
  // Softmax temperature: logits are divided by it before sampling. Lower is
  // more deterministic. 0 means greedy (argmax, ties to the lowest id).
  // Range: finite, >= 0. Default: 1.0.
  float temperature = 1.0f;

  // Keep only the top_k most likely tokens (by logit, ties to the lower id).
  // 0 turns it off; values >= the vocabulary size keep everything; 1 is
  // greedy. Range: >= 0. Default: 0 (off).
  int top_k = 0;

  // Nucleus sampling: keep the smallest set of most likely tokens whose
  // probability (renormalized after top_k) sums to at least top_p.
  // Range: (0, 1]. Default: 1.0 (off).
  float top_p = 1.0f;

  // Keep only tokens whose probability is at least min_p times the most
  // likely token's. Range: [0, 1). Default: 0 (off).
  float min_p = 0.0f;

  // Subtracted from the logit of every token with a positive penalty count
  // (see penalty_decay). Negative values encourage repetition.
  // Range: finite. Default: 0 (off).
  float presence_penalty = 0.0f;

  // Multiplied by a token's penalty count and subtracted from its logit:
  //   logit[t] -= presence_penalty + frequency_penalty * count[t]
  // for every t with count[t] > 0. Range: finite. Default: 0 (off).
  float frequency_penalty = 0.0f;

  // Hugging Face-style repetition penalty, applied before the presence and
  // frequency penalties to every token with count[t] > 0: a positive logit is
  // divided by it, a negative one multiplied by it. Values above 1 discourage
  // repetition. Range: finite, > 0. Default: 1.0 (off).
  float repetition_penalty = 1.0f;

  // How fast penalty counts fade (the RWKV convention). After each sampled
  // token every count is multiplied by penalty_decay, then the sampled
  // token's count is increased by 1. 1 never forgets; 0 remembers only the
  // last token. Range: [0, 1]. Default: 0.996.
  float penalty_decay = 0.996f;

  // Seed of the counter-based RNG (counter_rng.h): the draw for the n-th
  // sampled token depends only on (seed, n). Any value. Default: 0.
  uint64_t seed = 0;

  // Stop after this many generated tokens (counting a stop token). 0 means
  // no limit here (the service may impose its own). Range: >= 0. Default: 0.
  int max_tokens = 0;

  // Token ids that end generation; the stop token's text is not emitted.
  // Range: each in [0, vocab_size). Default: none.
  std::vector<int> stop_token_ids;

  // Byte strings that end generation when they appear in the generated text
  // (also across token boundaries); the text before the first match is
  // emitted, the match and anything after it are not. Range: at most
  // kMaxStopStrings strings, each 1 to kMaxStopStringBytes bytes.
  // Default: none.
  std::vector<std::string> stop_strings;

  // OK if every field is in range for a model with vocab_size tokens;
  // otherwise INVALID_ARGUMENT whose message starts with the field's name
  // (e.g. "top_p must be in (0, 1], got 1.5"; "stop_token_ids[2] ...").
  // vocab_size itself must be positive.
  absl::Status Validate(int vocab_size) const;
};

}  // namespace gander::engine

#endif  // GANDER_ENGINE_SAMPLER_SAMPLING_PARAMS_H_
