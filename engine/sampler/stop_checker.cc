#include "engine/sampler/stop_checker.h"

#include <algorithm>
#include <utility>

namespace gander::engine {

absl::string_view StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "none";
    case StopReason::kStopToken:
      return "stop_token";
    case StopReason::kStopString:
      return "stop_string";
    case StopReason::kMaxTokens:
      return "max_tokens";
  }
  return "unknown";
}

StopChecker::StopChecker(std::vector<int> stop_token_ids, std::vector<std::string> stop_strings,
                         int max_tokens)
    : stop_token_ids_(std::move(stop_token_ids)), max_tokens_(max_tokens) {
  for (std::string& s : stop_strings) {
    if (s.empty()) continue;
    longest_stop_ = std::max(longest_stop_, s.size());
    stop_strings_.push_back(std::move(s));
  }
}

StopChecker::StopChecker(const SamplingParams& params)
    : StopChecker(params.stop_token_ids, params.stop_strings, params.max_tokens) {}

size_t StopChecker::FirstMatch(absl::string_view text) const {
  size_t first = absl::string_view::npos;
  for (const std::string& s : stop_strings_) {
    first = std::min(first, text.find(s));
  }
  return first;
}

size_t StopChecker::HeldSuffixLength(absl::string_view text) const {
  if (longest_stop_ == 0) return 0;
  // A proper prefix is at most longest_stop_ - 1 bytes; try the longest first.
  const size_t max_len = std::min(text.size(), longest_stop_ - 1);
  for (size_t start = text.size() - max_len; start < text.size(); ++start) {
    const absl::string_view suffix = text.substr(start);
    for (const std::string& s : stop_strings_) {
      if (s.size() > suffix.size() && absl::string_view(s).substr(0, suffix.size()) == suffix) {
        return suffix.size();
      }
    }
  }
  return 0;
}

std::string StopChecker::Push(int token, absl::string_view piece, StopReason* reason) {
  StopReason unused;
  if (reason == nullptr) reason = &unused;
  if (stop_reason_ != StopReason::kNone) {
    *reason = stop_reason_;
    return "";
  }
  ++generated_;

  if (std::find(stop_token_ids_.begin(), stop_token_ids_.end(), token) != stop_token_ids_.end()) {
    // The held text cannot become a stop string any more: release it.
    stop_reason_ = *reason = StopReason::kStopToken;
    return std::exchange(held_, std::string());
  }

  std::string text = std::exchange(held_, std::string());
  text.append(piece.data(), piece.size());
  const size_t match = FirstMatch(text);
  if (match != absl::string_view::npos) {
    stop_reason_ = *reason = StopReason::kStopString;
    text.resize(match);
    return text;
  }
  if (max_tokens_ > 0 && generated_ >= max_tokens_) {
    stop_reason_ = *reason = StopReason::kMaxTokens;
    return text;
  }
  const size_t hold = HeldSuffixLength(text);
  held_ = text.substr(text.size() - hold);
  text.resize(text.size() - hold);
  *reason = StopReason::kNone;
  return text;
}

std::string StopChecker::Flush() {
  std::string text = std::exchange(held_, std::string());
  // Held text never contains a whole stop string unless set_held_text was
  // given one; even then, never release a stop string.
  const size_t match = FirstMatch(text);
  if (match != absl::string_view::npos) text.resize(match);
  return text;
}

}  // namespace gander::engine
