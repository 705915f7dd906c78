#include "engine/tokenizer/vocab_parser.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/tokenizer/utf8.h"

namespace gander::engine::tokenizer_internal {
namespace {

bool IsOctalDigit(char c) { return c >= '0' && c <= '7'; }
bool IsDecimalDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A printable description of the character at `text[pos]` for messages.
std::string Describe(absl::string_view text, size_t pos) {
  if (pos >= text.size()) return "end of line";
  return absl::StrCat("'", absl::CHexEscape(text.substr(pos, 1)), "'");
}

absl::Status LiteralError(size_t pos, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("bad literal at column ", pos + 1, ": ", what));
}

// Reads `digits` hex digits at `text[*pos]` into `*value`.
bool ReadHex(absl::string_view text, size_t* pos, int digits, uint32_t* value) {
  if (*pos + digits > text.size()) return false;
  uint32_t v = 0;
  for (int i = 0; i < digits; ++i) {
    const int d = HexValue(text[*pos + i]);
    if (d < 0) return false;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  *pos += digits;
  *value = v;
  return true;
}

// Appends code point `value` (from an escape starting at `escape_pos`) to a
// str literal's UTF-8 output.
absl::Status AppendCodePoint(uint32_t value, size_t escape_pos, std::string* out) {
  if (value > kMaxCodePoint) {
    return LiteralError(escape_pos,
                        absl::StrCat("code point 0x", absl::Hex(value), " is above U+10FFFF"));
  }
  if (IsSurrogate(value)) {
    return LiteralError(escape_pos, absl::StrCat("surrogate code point U+", absl::Hex(value),
                                                 " cannot be encoded as UTF-8"));
  }
  AppendUtf8(value, out);
  return absl::OkStatus();
}

// Reads a run of decimal digits at `text[*pos]` as a value in [0, max_value].
// Returns false when there are no digits or the value is larger.
bool ReadNumber(absl::string_view text, size_t* pos, int64_t max_value, int64_t* value) {
  const size_t start = *pos;
  int64_t v = 0;
  bool overflow = false;
  while (*pos < text.size() && IsDecimalDigit(text[*pos])) {
    if (!overflow) {
      v = v * 10 + (text[*pos] - '0');
      overflow = v > max_value;
    }
    ++*pos;
  }
  *value = v;
  return *pos > start && !overflow;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

void SkipBlanks(absl::string_view text, size_t* pos) {
  while (*pos < text.size() && IsBlank(text[*pos])) ++*pos;
}

// Parses one non-empty line into `entry` (id, bytes). Errors carry no line
// prefix; the caller adds it.
absl::Status ParseLine(absl::string_view line, VocabEntry* entry) {
  size_t pos = 0;
  int64_t id = 0;
  if (!IsDecimalDigit(line[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a token id at column 1, found ", Describe(line, 0)));
  }
  if (!ReadNumber(line, &pos, kMaxVocabId, &id)) {
    return absl::InvalidArgumentError(absl::StrCat("token id ", line.substr(0, pos),
                                                   " is too large (at most ", kMaxVocabId, ")"));
  }
  if (pos >= line.size() || !IsBlank(line[pos])) {
    return absl::InvalidArgumentError(absl::StrCat("expected a space after the token id at column ",
                                                   pos + 1, ", found ", Describe(line, pos)));
  }
  SkipBlanks(line, &pos);
  absl::Status literal = ParsePythonLiteral(line, &pos, &entry->bytes);
  if (!literal.ok()) return literal;
  if (pos >= line.size() || !IsBlank(line[pos])) {
    return absl::InvalidArgumentError(absl::StrCat("expected a space after the literal at column ",
                                                   pos + 1, ", found ", Describe(line, pos)));
  }
  SkipBlanks(line, &pos);
  const size_t length_pos = pos;
  int64_t length = 0;
  if (pos >= line.size() || !IsDecimalDigit(line[pos])) {
    return absl::InvalidArgumentError(absl::StrCat("expected the byte length at column ", pos + 1,
                                                   ", found ", Describe(line, pos)));
  }
  if (!ReadNumber(line, &pos, int64_t{1} << 40, &length)) {
    return absl::InvalidArgumentError(
        absl::StrCat("byte length ", line.substr(length_pos, pos - length_pos), " is too large"));
  }
  SkipBlanks(line, &pos);
  if (pos < line.size()) {
    return absl::InvalidArgumentError(absl::StrCat("trailing junk after the byte length at column ",
                                                   pos + 1, ": \"",
                                                   absl::CHexEscape(line.substr(pos)), "\""));
  }
  if (id == 0) {
    return absl::InvalidArgumentError("id 0 is reserved for end of document");
  }
  if (static_cast<int64_t>(entry->bytes.size()) != length) {
    return absl::InvalidArgumentError(absl::StrCat("length mismatch for id ", id,
                                                   ": the literal decodes to ", entry->bytes.size(),
                                                   " bytes but the line says ", length));
  }
  if (entry->bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("id ", id, " has an empty token"));
  }
  entry->id = static_cast<int>(id);
  return absl::OkStatus();
}

}  // namespace

absl::Status ParsePythonLiteral(absl::string_view text, size_t* pos, std::string* out) {
  out->clear();
  size_t p = *pos;
  const size_t start = p;
  bool is_bytes = false;
  if (p < text.size() && (text[p] == 'b' || text[p] == 'B')) {
    is_bytes = true;
    ++p;
  } else if (p < text.size() && (text[p] == 'u' || text[p] == 'U')) {
    ++p;
  }
  if (p >= text.size() || (text[p] != '\'' && text[p] != '"')) {
    return LiteralError(
        p, absl::StrCat("expected a quoted str or bytes literal, found ", Describe(text, p)));
  }
  const char quote = text[p++];
  if (p + 1 < text.size() && text[p] == quote && text[p + 1] == quote) {
    return LiteralError(start, "triple-quoted literals are not supported");
  }
  while (true) {
    if (p >= text.size()) {
      return LiteralError(
          start, absl::StrCat("unterminated literal (no closing ", std::string(1, quote), ")"));
    }
    const char c = text[p];
    if (c == quote) {
      ++p;
      break;
    }
    if (c != '\\') {
      const uint8_t byte = static_cast<uint8_t>(c);
      if (byte < 0x80) {
        out->push_back(c);
        ++p;
        continue;
      }
      if (is_bytes) {
        return LiteralError(p, absl::StrCat("non-ASCII byte 0x", absl::Hex(byte),
                                            " in a bytes literal (use \\x escapes)"));
      }
      // Raw non-ASCII characters in a str literal: the file is UTF-8, so the
      // character's bytes are already its encoding; they must be valid.
      const int length = Utf8SequenceLength(byte);
      bool valid = length > 0 && p + length <= text.size();
      for (int i = 1; valid && i < length; ++i) {
        valid = IsUtf8Continuation(byte, i, static_cast<uint8_t>(text[p + i]));
      }
      if (!valid) return LiteralError(p, "invalid UTF-8 in a str literal");
      out->append(text.data() + p, length);
      p += length;
      continue;
    }
    // An escape sequence.
    const size_t escape_pos = p;
    ++p;
    if (p >= text.size()) {
      return LiteralError(escape_pos, "backslash at the end of the line (unterminated literal)");
    }
    const char e = text[p++];
    switch (e) {
      case '\\':
      case '\'':
      case '"':
        out->push_back(e);
        break;
      case 'a':
        out->push_back('\a');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'v':
        out->push_back('\v');
        break;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        uint32_t value = static_cast<uint32_t>(e - '0');
        for (int i = 0; i < 2 && p < text.size() && IsOctalDigit(text[p]); ++i) {
          value = value * 8 + static_cast<uint32_t>(text[p++] - '0');
        }
        if (is_bytes) {
          if (value > 0377) {
            return LiteralError(escape_pos,
                                absl::StrCat("octal escape \\", text.substr(escape_pos + 1, 3),
                                             " is above \\377 in a bytes literal"));
          }
          out->push_back(static_cast<char>(value));
        } else {
          AppendUtf8(value, out);  // at most 0777: always a valid code point
        }
        break;
      }
      case 'x': {
        uint32_t value = 0;
        if (!ReadHex(text, &p, 2, &value)) {
          return LiteralError(escape_pos, "\\x escape needs exactly two hex digits");
        }
        if (is_bytes) {
          out->push_back(static_cast<char>(value));
        } else {
          AppendUtf8(value, out);
        }
        break;
      }
      case 'u':
      case 'U': {
        if (is_bytes) {  // not an escape in bytes: kept as written
          out->push_back('\\');
          out->push_back(e);
          break;
        }
        const int digits = e == 'u' ? 4 : 8;
        uint32_t value = 0;
        if (!ReadHex(text, &p, digits, &value)) {
          return LiteralError(
              escape_pos, absl::StrCat("\\", std::string(1, e), " escape needs exactly ", digits,
                                       " hex digits"));
        }
        absl::Status appended = AppendCodePoint(value, escape_pos, out);
        if (!appended.ok()) return appended;
        break;
      }
      case 'N':
        if (!is_bytes) {
          return LiteralError(escape_pos, "named \\N{...} escapes are not supported");
        }
        out->push_back('\\');
        --p;  // 'N' is an ordinary character in bytes
        break;
      default:
        // Not an escape: Python keeps the backslash; the character after it is
        // read again as an ordinary character (it may start a UTF-8 sequence).
        out->push_back('\\');
        --p;
        break;
    }
  }
  *pos = p;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<VocabEntry>> ParseVocabulary(absl::string_view contents) {
  std::vector<VocabEntry> entries;
  std::vector<int> line_of_id;  // index: id; 0 when not seen yet
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    VocabEntry entry;
    absl::Status status = ParseLine(line, &entry);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary line ", line_number, ": ", status.message()));
    }
    if (static_cast<size_t>(entry.id) >= line_of_id.size()) {
      line_of_id.resize(static_cast<size_t>(entry.id) + 1, 0);
    }
    if (line_of_id[entry.id] != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary line ", line_number, ": duplicate id ", entry.id,
                       " (first defined on line ", line_of_id[entry.id], ")"));
    }
    line_of_id[entry.id] = line_number;
    entry.line = line_number;
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace gander::engine::tokenizer_internal
