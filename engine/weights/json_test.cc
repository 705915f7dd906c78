#include "engine/weights/json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::weights_internal {
namespace {

using ::testing::HasSubstr;

TEST(JsonTest, ParsesSafetensorsStyleHeader) {
  absl::StatusOr<JsonValue> root = ParseJson(
      R"( {"__metadata__": {"format": "pt"},
           "emb.weight": {"dtype": "BF16", "shape": [65536, 768], "data_offsets": [0, 100663296]}} )");
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_EQ(root->kind, JsonValue::Kind::kObject);
  ASSERT_EQ(root->members.size(), 2u);
  EXPECT_EQ(root->members[0].key, "__metadata__");
  const JsonValue* emb = root->Find("emb.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->Find("dtype")->text, "BF16");
  const JsonValue* shape = emb->Find("shape");
  ASSERT_EQ(shape->elements.size(), 2u);
  int64_t v = 0;
  ASSERT_TRUE(shape->elements[0].AsNonNegativeInt(&v));
  EXPECT_EQ(v, 65536);
  ASSERT_TRUE(emb->Find("data_offsets")->elements[1].AsNonNegativeInt(&v));
  EXPECT_EQ(v, 100663296);
  EXPECT_EQ(root->Find("missing"), nullptr);
}

TEST(JsonTest, DecodesEscapes) {
  absl::StatusOr<JsonValue> v = ParseJson(R"("a\"b\\c\/d\n\t\u00e9\u20ac\ud83d\ude00")");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->text, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(JsonTest, OtherValues) {
  absl::StatusOr<JsonValue> v = ParseJson(R"([true, false, null, -1.5e3, 0, [], {}])");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->elements.size(), 7u);
  EXPECT_TRUE(v->elements[0].boolean);
  EXPECT_EQ(v->elements[2].kind, JsonValue::Kind::kNull);
  int64_t n = 7;
  EXPECT_FALSE(v->elements[3].AsNonNegativeInt(&n));  // negative, fraction, exponent
  EXPECT_TRUE(v->elements[4].AsNonNegativeInt(&n));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(v->elements[5].kind, JsonValue::Kind::kArray);
  EXPECT_EQ(v->elements[6].kind, JsonValue::Kind::kObject);
}

TEST(JsonTest, IntegersOutOfRangeAreNotIntegers) {
  absl::StatusOr<JsonValue> v = ParseJson("[9223372036854775807, 9223372036854775808, 01]");
  ASSERT_TRUE(v.ok()) << v.status();
  int64_t n;
  EXPECT_TRUE(v->elements[0].AsNonNegativeInt(&n));
  EXPECT_EQ(n, INT64_MAX);
  EXPECT_FALSE(v->elements[1].AsNonNegativeInt(&n));
  EXPECT_FALSE(v->elements[2].AsNonNegativeInt(&n));
}

void ExpectError(const std::string& text, const std::string& message) {
  absl::StatusOr<JsonValue> v = ParseJson(text, /*base_offset=*/8);
  ASSERT_FALSE(v.ok()) << text;
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr(message)) << text;
}

TEST(JsonTest, ErrorsNameTheByteOffset) {
  ExpectError(R"({"a": 1,})", "byte offset 16: expected a member name");
  ExpectError(R"({"a" 1})", "byte offset 13: expected ':'");
  ExpectError(R"({"a": "b)", "unterminated string");
  ExpectError(R"("\q")", "unknown escape");
  ExpectError(R"("\ud800x")", "high surrogate without a low surrogate");
  ExpectError(R"("\udc00")", "lone low surrogate");
  ExpectError(R"("\u12g4")", "bad hex digit");
  ExpectError("\"a\x01\"", "control character");
  ExpectError("{} {}", "byte offset 11: unexpected bytes after the JSON value");
  ExpectError("", "unexpected end");
  ExpectError("[1, 2", "expected ',' or ']'");
  ExpectError("tru", "unexpected character 0x74");
  ExpectError("-", "expected digits");
  ExpectError("1.", "expected digits after '.'");
  ExpectError(std::string(100, '[') + std::string(100, ']'), "nesting deeper than 64");
}

}  // namespace
}  // namespace gander::engine::weights_internal
