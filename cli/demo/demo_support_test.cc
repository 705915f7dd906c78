#include "cli/demo/demo_support.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace gander::cli::demo {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(DefaultCacheDirTest, XdgCacheHomeWins) {
  absl::StatusOr<std::string> dir =
      DefaultCacheDir(FakeEnv({{"XDG_CACHE_HOME", "/var/cache/me"}, {"HOME", "/home/me"}}));
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, "/var/cache/me/gander");
}

TEST(DefaultCacheDirTest, TrailingSlashIsNotDoubled) {
  EXPECT_EQ(*DefaultCacheDir(FakeEnv({{"XDG_CACHE_HOME", "/c/"}})), "/c/gander");
  EXPECT_EQ(*DefaultCacheDir(FakeEnv({{"HOME", "/home/me/"}})), "/home/me/.cache/gander");
}

TEST(DefaultCacheDirTest, HomeWhenXdgIsUnsetEmptyOrRelative) {
  for (const auto& env :
       {FakeEnv({{"HOME", "/home/me"}}), FakeEnv({{"XDG_CACHE_HOME", ""}, {"HOME", "/home/me"}}),
        FakeEnv({{"XDG_CACHE_HOME", "rel/cache"}, {"HOME", "/home/me"}})}) {
    absl::StatusOr<std::string> dir = DefaultCacheDir(env);
    ASSERT_TRUE(dir.ok()) << dir.status();
    EXPECT_EQ(*dir, "/home/me/.cache/gander");
  }
}

TEST(DefaultCacheDirTest, NeitherIsFailedPrecondition) {
  EXPECT_EQ(DefaultCacheDir(FakeEnv({})).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(DefaultCacheDir(FakeEnv({{"HOME", ""}, {"XDG_CACHE_HOME", "x"}})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(FallbackCacheDirTest, UnderTmpdirPerUser) {
  EXPECT_EQ(FallbackCacheDir(FakeEnv({{"TMPDIR", "/scratch/"}}), 1000),
            "/scratch/gander-cache-1000");
  EXPECT_EQ(FallbackCacheDir(FakeEnv({}), 0), "/tmp/gander-cache-0");
  EXPECT_EQ(FallbackCacheDir(FakeEnv({{"TMPDIR", ""}}), 7), "/tmp/gander-cache-7");
}

TEST(VocabularyCandidatesTest, EnvironmentThenCacheThenSharedData) {
  EXPECT_EQ(VocabularyCandidates(FakeEnv({{"GANDER_VOCAB", "/v/vocab.txt"}}), "/c"),
            (std::vector<std::string>{"/v/vocab.txt", "/c/rwkv_vocab_v20230424.txt",
                                      "../shared/data/rwkv_vocab_v20230424.txt"}));
  EXPECT_EQ(VocabularyCandidates(FakeEnv({{"GANDER_VOCAB", ""}}), ""),
            (std::vector<std::string>{"../shared/data/rwkv_vocab_v20230424.txt"}));
}

TEST(PublishedFilesTest, DigestsAreWellFormed) {
  for (const RemoteFile* file : {&kOfficialVocab, &kOfficialModel}) {
    const std::string digest = file->sha256;
    EXPECT_EQ(digest.size(), 64u) << file->file_name;
    EXPECT_EQ(digest.find_first_not_of("0123456789abcdef"), std::string::npos) << file->file_name;
    EXPECT_GT(file->size, 0) << file->file_name;
    EXPECT_NE(std::string(file->url).find(file->file_name), std::string::npos) << file->url;
    EXPECT_EQ(std::string(file->url).rfind("https://", 0), 0u) << file->url;
  }
}

TEST(RandomModelFileNameTest, NamesEveryParameter) {
  EXPECT_EQ(RandomModelFileName(4, 256, 65536, 1), "random-L4-C256-V65536-seed1.pth");
  EXPECT_NE(RandomModelFileName(4, 256, 65536, 1), RandomModelFileName(4, 256, 65536, 2));
}

TEST(ParseReadyFileTest, FindsTheGrpcPort) {
  EXPECT_EQ(*ParseReadyFile("grpc_port=41234\n"), 41234);
  EXPECT_EQ(*ParseReadyFile("metrics_port=9464\ngrpc_port=50051\n"), 50051);
  EXPECT_EQ(*ParseReadyFile("grpc_port=1"), 1);
}

TEST(ParseReadyFileTest, RejectsMalformedFiles) {
  EXPECT_EQ(ParseReadyFile("metrics_port=9464\n").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseReadyFile("").status().code(), absl::StatusCode::kNotFound);
  for (const char* bad : {"grpc_port=\n", "grpc_port=0\n", "grpc_port=65536\n", "grpc_port=x\n",
                          "grpc_port\n", "=5\n", "grpc_port=1\nnonsense\n"}) {
    absl::StatusOr<int> port = ParseReadyFile(bad);
    EXPECT_EQ(port.status().code(), absl::StatusCode::kDataLoss) << bad;
  }
  EXPECT_NE(ParseReadyFile("grpc_port=1\nnonsense\n").status().message().find("line 2"),
            std::string::npos);
}

TEST(EscapeForDisplayTest, KeepsTextAndEscapesTheRest) {
  EXPECT_EQ(EscapeForDisplay("plain text"), "plain text");
  EXPECT_EQ(EscapeForDisplay("a\nb\tc\r\\"), "a\\nb\\tc\\r\\\\");
  EXPECT_EQ(EscapeForDisplay(std::string("\x01\x7f", 2)), "\\x01\\x7f");
  EXPECT_EQ(EscapeForDisplay("g\xc3\xa4nse \xe2\x86\x92 \xf0\x9f\xa6\xa2"),
            "g\xc3\xa4nse \xe2\x86\x92 \xf0\x9f\xa6\xa2");  // ä, →, 🦢 stay
}

TEST(EscapeForDisplayTest, InvalidUtf8BecomesHexBytes) {
  EXPECT_EQ(EscapeForDisplay("\xff"), "\\xff");
  EXPECT_EQ(EscapeForDisplay("a\x80z"), "a\\x80z");                         // stray continuation
  EXPECT_EQ(EscapeForDisplay("\xc3"), "\\xc3");                             // truncated at the end
  EXPECT_EQ(EscapeForDisplay("\xc3z"), "\\xc3z");                           // broken sequence
  EXPECT_EQ(EscapeForDisplay("\xc0\xaf"), "\\xc0\\xaf");                    // overlong
  EXPECT_EQ(EscapeForDisplay("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // surrogate
  EXPECT_EQ(EscapeForDisplay("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  EXPECT_EQ(EscapeForDisplay(std::string("\0", 1)), "\\x00");
}

TEST(FormatTokenIdsTest, Brackets) {
  EXPECT_EQ(FormatTokenIds({}), "[]");
  EXPECT_EQ(FormatTokenIds({12, 7, 301}), "[12 7 301]");
}

TEST(FirstDifferenceTest, IdenticalPrefixAndMismatch) {
  EXPECT_FALSE(FirstDifference({1, 2, 3}, {1, 2, 3}).has_value());
  EXPECT_FALSE(FirstDifference({}, {}).has_value());
  EXPECT_EQ(FirstDifference({1, 2, 3}, {1, 9, 3}), 1u);
  EXPECT_EQ(FirstDifference({1, 2, 3}, {1, 2}), 2u);
  EXPECT_EQ(FirstDifference({1}, {1, 2}), 1u);
  EXPECT_EQ(FirstDifference({5}, {6}), 0u);
}

}  // namespace
}  // namespace gander::cli::demo
