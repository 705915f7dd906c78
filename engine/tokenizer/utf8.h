// UTF-8 helpers shared by the vocabulary parser and the streaming detokenizer
// (package-private: not part of the tokenizer's public API).
//
// Validity follows RFC 3629: no overlong forms, no surrogates (U+D800..DFFF),
// nothing above U+10FFFF.
//
// Example:
//   std::string out;
//   AppendUtf8(0x1F600, &out);                    // "\xF0\x9F\x98\x80"
//   IncompleteUtf8SuffixLength("ab\xF0\x9F");     // 2: waits for two more bytes
//
// All functions are pure and thread-safe; none can fail on any input.
#ifndef GANDER_ENGINE_TOKENIZER_UTF8_H_
#define GANDER_ENGINE_TOKENIZER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace gander::engine::tokenizer_internal {

// The largest Unicode scalar value.
inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// True for U+D800..U+DFFF, which UTF-8 cannot encode.
inline bool IsSurrogate(uint32_t code_point) {
  return code_point >= 0xD800 && code_point <= 0xDFFF;
}

// Appends the UTF-8 encoding (1 to 4 bytes) of `code_point` to `out`. The
// caller guarantees `code_point <= kMaxCodePoint` and !IsSurrogate(code_point).
void AppendUtf8(uint32_t code_point, std::string* out);

// Total length (1 to 4) of the sequence that `lead` starts, or 0 when `lead`
// cannot start a sequence (a continuation byte 0x80..0xBF, 0xC0, 0xC1, or
// 0xF5..0xFF).
int Utf8SequenceLength(uint8_t lead);

// True when `byte` may sit at position `index` (1, 2 or 3) of a sequence
// whose first byte is the valid lead `lead`. Position 1 has the narrowed
// ranges that exclude overlong forms, surrogates and values past U+10FFFF.
bool IsUtf8Continuation(uint8_t lead, int index, uint8_t byte);

// Length (0 to 3) of the longest suffix of `bytes` that is the start of a
// valid multi-byte sequence still missing its last byte(s): the bytes a
// streaming decoder must hold back. 0 when the text ends on a complete
// character or on bytes that can never become valid.
size_t IncompleteUtf8SuffixLength(absl::string_view bytes);

// Returns true when `bytes` is entirely valid UTF-8; otherwise false, with the
// offset of the first byte of the first invalid or truncated sequence in
// `*error_offset` (when not null).
bool IsValidUtf8(absl::string_view bytes, size_t* error_offset);

}  // namespace gander::engine::tokenizer_internal

#endif  // GANDER_ENGINE_TOKENIZER_UTF8_H_
