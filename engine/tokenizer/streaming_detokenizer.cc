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

std::string StreamingDetokenizer::Flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace gander::engine
