#include "cli/client/command_line.h"

#include <string>
#include <vector>

#include "cli/flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

absl::StatusOr<CommandLine> Split(std::vector<const char*> args,
                                  const std::set<std::string>& booleans = {},
                                  const std::set<std::string>& repeatable = {}) {
  return SplitCommandLine(static_cast<int>(args.size()), args.data(), booleans, repeatable);
}

TEST(SplitCommandLineTest, SeparatesPositionalsFromFlagsInAnyOrder) {
  absl::StatusOr<CommandLine> line =
      Split({"fork", "--server", "h:1", "src@3", "--id=new", "extra"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->positionals, ElementsAre("src@3", "extra"));
  EXPECT_THAT(line->flag_args, ElementsAre("fork", "--server=h:1", "--id=new"));
  EXPECT_FALSE(line->help);
}

TEST(SplitCommandLineTest, BooleanFlagsTakeNoValue) {
  absl::StatusOr<CommandLine> line =
      Split({"chat", "--new", "stray", "--raw=false"}, {"new", "raw"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->positionals, ElementsAre("stray"));
  EXPECT_THAT(line->flag_args, ElementsAre("chat", "--new", "--raw=false"));
}

TEST(SplitCommandLineTest, CollectsRepeatableFlags) {
  absl::StatusOr<CommandLine> line =
      Split({"chat", "--stop", "a,b", "--new", "--stop=c", "--stop", ""}, {"new"}, {"stop"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->repeated.at("stop"), ElementsAre("a,b", "c", ""));
  EXPECT_THAT(line->flag_args, ElementsAre("chat", "--new"));
  EXPECT_THAT(line->positionals, IsEmpty());
}

TEST(SplitCommandLineTest, DoubleDashEndsFlags) {
  absl::StatusOr<CommandLine> line = Split({"rm", "--", "--odd-id", "-h"});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(line->positionals, ElementsAre("--odd-id", "-h"));
  EXPECT_FALSE(line->help);
}

TEST(SplitCommandLineTest, RecognisesHelp) {
  EXPECT_TRUE(Split({"ls", "-h"})->help);
  EXPECT_TRUE(Split({"ls", "--server=x", "--help"})->help);
}

TEST(SplitCommandLineTest, FlagWithoutValueIsAnError) {
  absl::StatusOr<CommandLine> line = Split({"ls", "--server"});
  EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(line.status().message().find("--server needs a value"), absl::string_view::npos);
}

TEST(ParseFlagArgsTest, FeedsFlagSet) {
  absl::StatusOr<CommandLine> line = Split({"show", "id-1", "--server", "h:2", "--new"}, {"new"});
  ASSERT_TRUE(line.ok());
  FlagSet flags("show");
  flags.Add("server", "", false, "localhost:50051");
  flags.Add("new", "", false, "", /*boolean=*/true);
  ASSERT_TRUE(ParseFlagArgs(flags, line->flag_args).ok());
  EXPECT_EQ(flags.Get("server"), "h:2");
  EXPECT_EQ(flags.Get("new"), "true");
  FlagSet strict("show");
  EXPECT_EQ(ParseFlagArgs(strict, line->flag_args).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RunClientCommandTest, ExitCodes) {
  CommandSpec spec;
  spec.name = "show";
  spec.positional_usage = "ID";
  spec.min_positionals = spec.max_positionals = 1;
  std::string seen;
  auto body = [&](const FlagSet&, const CommandLine& line) -> absl::Status {
    seen = line.positionals[0];
    return line.positionals[0] == "bad" ? absl::NotFoundError("no such stream") : absl::OkStatus();
  };
  auto run = [&](std::vector<const char*> args) {
    FlagSet flags("show");
    flags.Add("server", "", false, "x");
    return RunClientCommand(spec, flags, static_cast<int>(args.size()),
                            const_cast<char**>(args.data()), body);
  };
  EXPECT_EQ(run({"show", "good"}), 0);
  EXPECT_EQ(seen, "good");
  EXPECT_EQ(run({"show", "bad"}), 1);
  EXPECT_EQ(run({"show"}), 2);
  EXPECT_EQ(run({"show", "a", "b"}), 2);
  EXPECT_EQ(run({"show", "a", "--unknown=1"}), 2);
  seen.clear();
  EXPECT_EQ(run({"show", "--help"}), 0);
  EXPECT_EQ(seen, "");
}

}  // namespace
}  // namespace gander::cli::client
