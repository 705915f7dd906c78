#include "cli/client/stream_ref.h"

#include <string>

#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

TEST(ValidateStreamIdTest, AcceptsEveryAllowedCharacter) {
  EXPECT_TRUE(ValidateStreamId("abcXYZ019._:-").ok());
  EXPECT_TRUE(ValidateStreamId("a").ok());
  EXPECT_TRUE(ValidateStreamId(std::string(128, 'x')).ok());
}

TEST(ValidateStreamIdTest, RejectsEmptyLongAndBadCharacters) {
  EXPECT_EQ(ValidateStreamId("").code(), absl::StatusCode::kInvalidArgument);
  const absl::Status long_id = ValidateStreamId(std::string(129, 'x'));
  EXPECT_EQ(long_id.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(long_id.message().find("129"), absl::string_view::npos) << long_id;
  const absl::Status slash = ValidateStreamId("ab/c");
  EXPECT_EQ(slash.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(slash.message().find("'/' at offset 2"), absl::string_view::npos) << slash;
  const absl::Status newline = ValidateStreamId("a\nb");
  EXPECT_NE(newline.message().find("byte 10 at offset 1"), absl::string_view::npos) << newline;
  EXPECT_EQ(ValidateStreamId("a b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateStreamId("a@b").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseStreamRefTest, IdAlone) {
  absl::StatusOr<StreamRef> ref = ParseStreamRef("chat-1");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->id, "chat-1");
  EXPECT_EQ(ref->version, 0u);
}

TEST(ParseStreamRefTest, IdAtVersion) {
  absl::StatusOr<StreamRef> ref = ParseStreamRef("tenant:chat.1@42");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->id, "tenant:chat.1");
  EXPECT_EQ(ref->version, 42u);
  ref = ParseStreamRef("a@18446744073709551615");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->version, 18446744073709551615ull);
}

TEST(ParseStreamRefTest, RejectsMalformedVersions) {
  for (const char* text :
       {"a@", "a@0", "a@-1", "a@+1", "a@1x", "a@ 1", "a@1@2", "a@0x10", "a@18446744073709551616"}) {
    absl::StatusOr<StreamRef> ref = ParseStreamRef(text);
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_NE(ParseStreamRef("a@0").status().message().find("count from 1"), absl::string_view::npos);
}

TEST(ParseStreamRefTest, RejectsBadIds) {
  EXPECT_EQ(ParseStreamRef("@3").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStreamRef("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStreamRef("a/b@3").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FormatStreamRefTest, RoundTrips) {
  EXPECT_EQ(FormatStreamRef({"a", 0}), "a");
  EXPECT_EQ(FormatStreamRef({"a", 7}), "a@7");
  for (const char* text : {"x", "x.y@3", "q:r-s@1000"}) {
    absl::StatusOr<StreamRef> ref = ParseStreamRef(text);
    ASSERT_TRUE(ref.ok()) << text;
    EXPECT_EQ(FormatStreamRef(*ref), text);
  }
}

}  // namespace
}  // namespace gander::cli::client
