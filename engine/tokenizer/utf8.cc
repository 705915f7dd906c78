#include "engine/tokenizer/utf8.h"

namespace gander::engine::tokenizer_internal {

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

int Utf8SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // continuation byte, or overlong lead C0/C1
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

bool IsUtf8Continuation(uint8_t lead, int index, uint8_t byte) {
  if (index == 1) {
    switch (lead) {
      case 0xE0:  // excludes overlong three-byte forms
        return byte >= 0xA0 && byte <= 0xBF;
      case 0xED:  // excludes surrogates
        return byte >= 0x80 && byte <= 0x9F;
      case 0xF0:  // excludes overlong four-byte forms
        return byte >= 0x90 && byte <= 0xBF;
      case 0xF4:  // excludes values above U+10FFFF
        return byte >= 0x80 && byte <= 0x8F;
      default:
        break;
    }
  }
  return byte >= 0x80 && byte <= 0xBF;
}

size_t IncompleteUtf8SuffixLength(absl::string_view bytes) {
  // A lead byte is never a continuation byte, so the only candidate start is
  // the last non-continuation byte among the final three.
  const size_t size = bytes.size();
  for (size_t k = 1; k <= 3 && k <= size; ++k) {
    const uint8_t byte = static_cast<uint8_t>(bytes[size - k]);
    if (byte >= 0x80 && byte <= 0xBF) continue;  // a continuation: look further back
    const int length = Utf8SequenceLength(byte);
    if (length <= static_cast<int>(k)) return 0;  // ASCII, invalid, or complete
    for (size_t i = 1; i < k; ++i) {
      if (!IsUtf8Continuation(byte, static_cast<int>(i),
                              static_cast<uint8_t>(bytes[size - k + i]))) {
        return 0;  // broken: can never complete
      }
    }
    return k;
  }
  return 0;
}

bool IsValidUtf8(absl::string_view bytes, size_t* error_offset) {
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t lead = static_cast<uint8_t>(bytes[i]);
    const int length = Utf8SequenceLength(lead);
    bool ok = length > 0 && i + length <= bytes.size();
    for (int j = 1; ok && j < length; ++j) {
      ok = IsUtf8Continuation(lead, j, static_cast<uint8_t>(bytes[i + j]));
    }
    if (!ok) {
      if (error_offset != nullptr) *error_offset = i;
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace gander::engine::tokenizer_internal
