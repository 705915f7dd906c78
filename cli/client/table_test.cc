#include "cli/client/table.h"

#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

TEST(FormatTableTest, AlignsColumnsWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({"ID", "VERSION"}, {{"chat-1", "3"}, {"b", "12"}}),
            "ID      VERSION\n"
            "chat-1  3\n"
            "b       12\n");
}

TEST(FormatTableTest, PadsShortRowsAndKeepsExtraCells) {
  EXPECT_EQ(FormatTable({"A", "B"}, {{"x"}, {"y", "z", "extra"}}),
            "A  B\n"
            "x\n"
            "y  z  extra\n");
}

TEST(FormatTableTest, HeaderOnly) { EXPECT_EQ(FormatTable({"A", "B"}, {}), "A  B\n"); }

TEST(FormatTimestampTest, FormatsUtcSeconds) {
  google::protobuf::Timestamp t;
  EXPECT_EQ(FormatTimestamp(t), "-");
  t.set_seconds(1700000000);
  t.set_nanos(999999999);
  EXPECT_EQ(FormatTimestamp(t), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace gander::cli::client
