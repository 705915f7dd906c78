#include "cli/client/chat_format.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(FormatChatTurnTest, WrapsTheLineInTheTemplate) {
  EXPECT_EQ(FormatChatTurn("Hi there"), "User: Hi there\n\nAssistant:");
  EXPECT_EQ(FormatChatTurn(""), "User: \n\nAssistant:");
}

TEST(FormatChatTurnTest, DropsOnlyOneTrailingCarriageReturn) {
  EXPECT_EQ(FormatChatTurn("Hi\r"), "User: Hi\n\nAssistant:");
  EXPECT_EQ(FormatChatTurn("a\rb"), "User: a\rb\n\nAssistant:");
  EXPECT_EQ(FormatChatTurn("  spaced  "), "User:   spaced  \n\nAssistant:");
}

TEST(ParseStopStringsTest, SplitsRepeatedValuesAndCommaLists) {
  absl::StatusOr<std::vector<std::string>> stops = ParseStopStrings({"a,b", "c", ",,d,"});
  ASSERT_TRUE(stops.ok()) << stops.status();
  EXPECT_THAT(*stops, ElementsAre("a", "b", "c", "d"));
}

TEST(ParseStopStringsTest, EmptyValueMeansNone) {
  absl::StatusOr<std::vector<std::string>> stops = ParseStopStrings({""});
  ASSERT_TRUE(stops.ok());
  EXPECT_THAT(*stops, IsEmpty());
}

TEST(ParseStopStringsTest, DecodesEscapes) {
  absl::StatusOr<std::vector<std::string>> stops =
      ParseStopStrings({"\\n\\nUser:", "x\\,y", "tab\\t", "back\\\\"});
  ASSERT_TRUE(stops.ok()) << stops.status();
  EXPECT_THAT(*stops, ElementsAre("\n\nUser:", "x,y", "tab\t", "back\\"));
}

TEST(ParseStopStringsTest, RejectsBadEscapes) {
  absl::StatusOr<std::vector<std::string>> unknown = ParseStopStrings({"a\\q"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("\\q"), absl::string_view::npos);
  EXPECT_EQ(ParseStopStrings({"a\\"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseStopStringsTest, EnforcesTheContractLimits) {
  std::vector<std::string> sixteen(kMaxStopStrings, "s");
  EXPECT_TRUE(ParseStopStrings(sixteen).ok());
  sixteen.push_back("t");
  EXPECT_EQ(ParseStopStrings(sixteen).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseStopStrings({std::string(kMaxStopStringBytes, 'x')}).ok());
  absl::StatusOr<std::vector<std::string>> too_long =
      ParseStopStrings({std::string(kMaxStopStringBytes + 1, 'x')});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("257"), absl::string_view::npos);
}

}  // namespace
}  // namespace gander::cli::client
