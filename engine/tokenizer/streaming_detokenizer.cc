#include <string>
#include <utility>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"

namespace gander::engine {

absl::StatusOr<std::string> StreamingDetokenizer::Push(int id) {
  absl::StatusOr<absl::string_view> bytes = tokenizer_->TokenBytes(id);
  if (!bytes.ok()) return bytes.status();
  pending_.append(bytes->data(), bytes->size());
  // Everything but an unfinished (still possibly valid) last character is
  // ready; bytes that can never be valid UTF-8 go out unchanged.
  const size_t hold = tokenizer_internal::IncompleteUtf8SuffixLength(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string ReplaceInvalidUtf8(absl::string_view bytes) {
  using tokenizer_internal::IsUtf8Continuation;
  using tokenizer_internal::Utf8SequenceLength;
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t lead = static_cast<uint8_t>(bytes[i]);
    const int length = Utf8SequenceLength(lead);
    bool valid = length > 0 && i + length <= bytes.size();
    for (int k = 1; valid && k < length; ++k) {
      valid = IsUtf8Continuation(lead, k, static_cast<uint8_t>(bytes[i + k]));
    }
    if (valid) {
      out.append(bytes.data() + i, length);
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string StreamingDetokenizer::Flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace gander::engine
