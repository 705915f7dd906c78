// A small JSON parser, enough for a safetensors header: objects (members kept
// in file order), arrays, strings with every escape (\uXXXX and surrogate
// pairs become UTF-8), numbers (kept as text, read back as integers), true,
// false, null. Internal to engine/weights.
//
// Example:
//   absl::StatusOr<JsonValue> root = ParseJson(R"({"a": [1, 2]})", /*base_offset=*/8);
//   const JsonValue* a = root->Find("a");
//
// Thread-safe (pure function). Errors: INVALID_ARGUMENT naming the byte offset
// (base_offset + position in `text`) and what was expected; nesting deeper
// than 64 levels and trailing non-space bytes are errors.
#ifndef GANDER_ENGINE_WEIGHTS_JSON_H_
#define GANDER_ENGINE_WEIGHTS_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::engine::weights_internal {

struct JsonMember;

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;                 // kString: the decoded string; kNumber: its source text
  std::vector<JsonValue> elements;  // kArray
  std::vector<JsonMember> members;  // kObject, in file order (duplicates kept)
  uint64_t offset = 0;              // where the value starts (base_offset added)

  // The first member named `key` of an object, or nullptr.
  const JsonValue* Find(absl::string_view key) const;
  // True, with *value set, for a number that is a non-negative integer
  // without fraction or exponent that fits in int64_t.
  bool AsNonNegativeInt(int64_t* value) const;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// Parses `text` as exactly one JSON value surrounded by optional whitespace.
absl::StatusOr<JsonValue> ParseJson(absl::string_view text, uint64_t base_offset = 0);

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_JSON_H_
