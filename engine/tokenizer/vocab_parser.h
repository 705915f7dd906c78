// Parser for the RWKV "World" vocabulary file (package-private; the public
// entry point is Tokenizer::FromString / FromFile in tokenizer.h).
//
// Format, one token per line:  <id> <python literal> <byte length>
//   1 '\x00' 1
//   129 b'\x80' 1
//   261 '\n\n' 2
//   40 "'" 1
// The literal is a Python str ('...' or "...", optionally u-prefixed; the
// token is its UTF-8 encoding) or a bytes literal (b'...' / b"...", raw
// bytes). Escapes: \\ \' \" \a \b \f \n \r \t \v, octal \o \oo \ooo, \xhh,
// and in str literals \uhhhh and \Uhhhhhhhh. As in Python, in a str literal
// \xhh and octal escapes name code points (so '\x80' is the two bytes C2 80),
// and an unrecognised escape such as \q keeps its backslash. Deliberately
// rejected although some Python versions accept them: \N{name} escapes,
// octal escapes above \377 in bytes literals, raw/triple-quoted literals.
// Empty lines are skipped; a trailing '\r' on a line is ignored.
//
// Example:
//   absl::StatusOr<std::vector<VocabEntry>> entries = ParseVocabulary(text);
//
// Thread-safe (pure function). Every failure is INVALID_ARGUMENT with a
// message that starts "vocabulary line <n>: " and says what is wrong.
#ifndef GANDER_ENGINE_TOKENIZER_VOCAB_PARSER_H_
#define GANDER_ENGINE_TOKENIZER_VOCAB_PARSER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::engine::tokenizer_internal {

// The largest token id a vocabulary may use (ids index dense tables).
inline constexpr int kMaxVocabId = (1 << 24) - 1;

struct VocabEntry {
  int id = 0;         // >= 1, unique within the file, <= kMaxVocabId
  std::string bytes;  // the token's bytes; never empty
  int line = 0;       // 1-based line number in the file, for error messages
};

// Parses a whole vocabulary file. Checks each line's syntax, that the byte
// length field matches the decoded literal, that ids are in [1, kMaxVocabId]
// and unique, and that no token is empty. Entries come back in file order.
absl::StatusOr<std::vector<VocabEntry>> ParseVocabulary(absl::string_view contents);

// Decodes the Python literal starting at `text[*pos]` into `*out` (cleared
// first) and advances `*pos` past its closing quote. On failure returns
// INVALID_ARGUMENT naming the 1-based column (no line prefix); `*pos` and
// `*out` are then unspecified.
absl::Status ParsePythonLiteral(absl::string_view text, size_t* pos, std::string* out);

}  // namespace gander::engine::tokenizer_internal

#endif  // GANDER_ENGINE_TOKENIZER_VOCAB_PARSER_H_
