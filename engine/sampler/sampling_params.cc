#include "engine/sampler/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace gander::engine {
namespace {

absl::Status OutOfRange(absl::string_view field, absl::string_view range, double value) {
  return absl::InvalidArgumentError(absl::StrCat(field, " must be ", range, ", got ", value));
}

}  // namespace

absl::Status SamplingParams::Validate(int vocab_size) const {
  if (vocab_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab_size must be positive, got ", vocab_size));
  }
  if (!std::isfinite(temperature) || temperature < 0.0f) {
    return OutOfRange("temperature", "finite and >= 0", temperature);
  }
  if (top_k < 0) return OutOfRange("top_k", ">= 0", top_k);
  // Written so that NaN fails every comparison and is rejected.
  if (!(top_p > 0.0f && top_p <= 1.0f)) return OutOfRange("top_p", "in (0, 1]", top_p);
  if (!(min_p >= 0.0f && min_p < 1.0f)) return OutOfRange("min_p", "in [0, 1)", min_p);
  if (!std::isfinite(presence_penalty)) {
    return OutOfRange("presence_penalty", "finite", presence_penalty);
  }
  if (!std::isfinite(frequency_penalty)) {
    return OutOfRange("frequency_penalty", "finite", frequency_penalty);
  }
  if (!std::isfinite(repetition_penalty) || !(repetition_penalty > 0.0f)) {
    return OutOfRange("repetition_penalty", "finite and > 0", repetition_penalty);
  }
  if (!(penalty_decay >= 0.0f && penalty_decay <= 1.0f)) {
    return OutOfRange("penalty_decay", "in [0, 1]", penalty_decay);
  }
  if (max_tokens < 0) return OutOfRange("max_tokens", ">= 0", max_tokens);
  for (size_t i = 0; i < stop_token_ids.size(); ++i) {
    const int id = stop_token_ids[i];
    if (id < 0 || id >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("stop_token_ids[", i, "] must be in [0, ", vocab_size, "), got ", id));
    }
  }
  if (stop_strings.size() > static_cast<size_t>(kMaxStopStrings)) {
    return absl::InvalidArgumentError(absl::StrCat("stop_strings: at most ", kMaxStopStrings,
                                                   " allowed, got ", stop_strings.size()));
  }
  for (size_t i = 0; i < stop_strings.size(); ++i) {
    const size_t n = stop_strings[i].size();
    if (n == 0 || n > static_cast<size_t>(kMaxStopStringBytes)) {
      return absl::InvalidArgumentError(absl::StrCat("stop_strings[", i, "] must be 1 to ",
                                                     kMaxStopStringBytes, " bytes, got ", n));
    }
  }
  return absl::OkStatus();
}

}  // namespace gander::engine
