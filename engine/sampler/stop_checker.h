// Decides when a stream's generation stops (a stop token, a stop string in
// the generated text, or max_tokens), and which generated text may be sent
// to the client now.
//
// A stop string can span several tokens' pieces ("\n\nUs" + "er:"), so text
// that could still be the start of a stop string is held back until it is
// known not to be one. When a stop string matches, the text before it is
// released and the stop string (and anything after it in that piece) is not;
// a stop token's own piece is never released. When generation stops for any
// reason, everything still held that is not part of a stop string is
// released by that same Push, so nothing is left to Flush.
//
// Held-back text is at most the longest stop string minus one byte. Strings
// are matched as bytes; pieces are expected to be whole UTF-8 characters (the
// detokenizer never splits one), and a held suffix then always starts on a
// character boundary because it starts a (valid UTF-8) stop string.
//
// Example:
//   StopChecker stop(params);  // SamplingParams
//   StopReason reason;
//   std::string text = stop.Push(token, tokenizer.Decode(token), &reason);
//   Send(text);
//   if (reason != StopReason::kNone) Finish(reason);
//   ...
//   // Checkpoint and resume mid-generation:
//   saved_held = stop.held_text(); saved_count = stop.generated_tokens();
//   StopChecker resumed(params);
//   resumed.set_held_text(saved_held);
//   resumed.set_generated_tokens(saved_count);
//
// A plain value: copyable (a copy forks it), thread-compatible. No failure
// modes: empty stop strings are ignored (SamplingParams::Validate rejects
// them); after a stop, Push returns "" and repeats the stop reason.
#ifndef GANDER_ENGINE_SAMPLER_STOP_CHECKER_H_
#define GANDER_ENGINE_SAMPLER_STOP_CHECKER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/sampler/sampling_params.h"

namespace gander::engine {

enum class StopReason {
  kNone,        // keep generating
  kStopToken,   // a token in stop_token_ids was generated
  kStopString,  // the generated text contains a stop string
  kMaxTokens,   // max_tokens tokens were generated
};

// "none", "stop_token", "stop_string", "max_tokens".
absl::string_view StopReasonName(StopReason reason);

class StopChecker {
 public:
  // max_tokens == 0 means no limit.
  StopChecker(std::vector<int> stop_token_ids, std::vector<std::string> stop_strings,
              int max_tokens);
  // Uses params.stop_token_ids, params.stop_strings and params.max_tokens.
  explicit StopChecker(const SamplingParams& params);

  // Accounts one generated token and its decoded text `piece`. Returns the
  // text now safe to emit (possibly empty) and sets *reason (if not null) to
  // why generation stops, or kNone. Precedence when several apply to the
  // same token: stop token, then stop string, then max_tokens.
  std::string Push(int token, absl::string_view piece, StopReason* reason);

  // Releases the held-back text (at the end of a generation that stopped for
  // another reason, e.g. the client cancelled). Returns "" after a stop.
  std::string Flush();

  // kNone until a Push reports a stop; then that reason.
  StopReason stop_reason() const { return stop_reason_; }

  // Text held back because it may start a stop string; save it with the
  // stream and restore it with set_held_text to resume mid-generation.
  const std::string& held_text() const { return held_; }
  void set_held_text(std::string text) { held_ = std::move(text); }

  // Tokens pushed so far (what max_tokens counts); save and restore it
  // alongside held_text.
  int64_t generated_tokens() const { return generated_; }
  void set_generated_tokens(int64_t count) { generated_ = count; }

 private:
  // Length of the longest suffix of `text` that is a proper prefix of some
  // stop string (0 if none).
  size_t HeldSuffixLength(absl::string_view text) const;
  // Offset of the earliest stop string match in `text`, or npos.
  size_t FirstMatch(absl::string_view text) const;

  std::vector<int> stop_token_ids_;
  std::vector<std::string> stop_strings_;  // non-empty only
  size_t longest_stop_ = 0;                // bytes of the longest stop string
  int max_tokens_;
  int64_t generated_ = 0;
  std::string held_;
  StopReason stop_reason_ = StopReason::kNone;
};

}  // namespace gander::engine

#endif  // GANDER_ENGINE_SAMPLER_STOP_CHECKER_H_
