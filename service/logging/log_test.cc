#include "service/logging/log.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace gander::service {
namespace {

// 2026-03-01T12:00:00.123456Z
const absl::Time kTime = absl::FromUnixMicros(int64_t{1772366400} * 1000000 + 123456);

std::string Json(absl::string_view bytes) {
  std::string out;
  AppendJsonString(bytes, &out);
  return out;
}

// Independent UTF-8 check: decodes each sequence to a code point and checks
// the code point's range against the sequence length.
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint32_t b0 = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    uint32_t min;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 >> 5) == 0x6) {
      extra = 1, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 >> 4) == 0xE) {
      extra = 2, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 >> 3) == 0x1E) {
      extra = 3, cp = b0 & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const uint32_t b = static_cast<unsigned char>(s[i + k]);
      if ((b >> 6) != 0x2) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// Reads back a JSON string literal made by AppendJsonString: checks that it
// is quoted, that no raw byte needs escaping, that the raw text is valid
// UTF-8, and returns the bytes it stands for (\u00XX -> the byte XX).
bool DecodeJsonString(absl::string_view json, std::string* bytes) {
  if (json.size() < 2 || json.front() != '"' || json.back() != '"') return false;
  if (!IsValidUtf8(json)) return false;
  bytes->clear();
  for (size_t i = 1; i + 1 < json.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(json[i]);
    if (c < 0x20 || c == 0x7F || c == '"') return false;
    if (c != '\\') {
      bytes->push_back(static_cast<char>(c));
      continue;
    }
    if (i + 2 >= json.size()) return false;
    const char e = json[++i];
    if (e == '"' || e == '\\') {
      bytes->push_back(e);
    } else if (e == 'u') {
      if (i + 5 >= json.size() || json.substr(i + 1, 2) != "00") return false;
      const std::string hex(json.substr(i + 3, 2));
      bytes->push_back(static_cast<char>(std::stoi(hex, nullptr, 16)));
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

TEST(AppendJsonString, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json("plain text"), "\"plain text\"");
  EXPECT_EQ(Json("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(Json("a\nb\tc\rd"), "\"a\\u000ab\\u0009c\\u000dd\"");
  EXPECT_EQ(Json(std::string("nul\0end", 7)), "\"nul\\u0000end\"");
  EXPECT_EQ(Json("\x1f\x7f"), "\"\\u001f\\u007f\"");
}

TEST(AppendJsonString, PassesValidUtf8Through) {
  EXPECT_EQ(Json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");                            // U+00E9
  EXPECT_EQ(Json("\xe4\xb8\xad\xe6\x96\x87"), "\"\xe4\xb8\xad\xe6\x96\x87\"");  // CJK
  EXPECT_EQ(Json("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");                  // U+1F600
  EXPECT_EQ(Json("\xed\x9f\xbf"), "\"\xed\x9f\xbf\"");                          // U+D7FF
  EXPECT_EQ(Json("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");                  // U+10FFFF
}

TEST(AppendJsonString, EscapesEachByteOfInvalidUtf8) {
  EXPECT_EQ(Json("\xff"), "\"\\u00ff\"");
  EXPECT_EQ(Json("a\x80z"), "\"a\\u0080z\"");                               // stray continuation
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\u00c0\\u00af\"");                        // overlong '/'
  EXPECT_EQ(Json("\xe0\x80\xaf"), "\"\\u00e0\\u0080\\u00af\"");             // overlong
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");             // surrogate U+D800
  EXPECT_EQ(Json("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\"");  // above U+10FFFF
  EXPECT_EQ(Json("\xe4\xb8"), "\"\\u00e4\\u00b8\"");                        // truncated at the end
  EXPECT_EQ(Json("\xe4\xb8x"), "\"\\u00e4\\u00b8x\"");                      // truncated mid-string
  // A bad lead byte does not swallow the valid sequence after it.
  EXPECT_EQ(Json("\xc3\xc3\xa9"), "\"\\u00c3\xc3\xa9\"");
}

TEST(AppendJsonString, RandomBytesRoundTrip) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 40);
  const std::string alphabet = "\"\\\x01\x7f\x80\xbf\xc2\xe0\xed\xf0\xf4\xc3\xa9";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string input;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
      // Half uniform bytes, half bytes that sit on the edges of the rules.
      input.push_back(trial % 2 == 0 ? static_cast<char>(byte(rng)) : alphabet[pick(rng)]);
    }
    const std::string json = Json(input);
    std::string decoded;
    ASSERT_TRUE(DecodeJsonString(json, &decoded)) << absl::CHexEscape(json);
    ASSERT_EQ(decoded, input) << absl::CHexEscape(json);
    bool needs_escape = false;
    for (char c : input) {
      const unsigned char u = static_cast<unsigned char>(c);
      needs_escape |= u < 0x20 || u == 0x7F || u == '"' || u == '\\';
    }
    // Text that is valid UTF-8 and needs no escape comes out unchanged.
    if (IsValidUtf8(input) && !needs_escape) {
      EXPECT_EQ(json, "\"" + input + "\"");
    }
  }
}

TEST(FormatLogLine, WritesTheDocumentedShape) {
  const std::string id = "s1";
  const absl::string_view tenant = "acme";
  EXPECT_EQ(
      FormatLogLine(kTime, LogLevel::kInfo, "stream_opened",
                    {{"stream", id}, {"tenant", tenant}, {"tokens", 12}}),
      "{\"ts\":\"2026-03-01T12:00:00.123456Z\",\"level\":\"info\",\"event\":\"stream_opened\","
      "\"stream\":\"s1\",\"tenant\":\"acme\",\"tokens\":12}\n");
  EXPECT_EQ(
      FormatLogLine(kTime, LogLevel::kError, "store_down", {}),
      "{\"ts\":\"2026-03-01T12:00:00.123456Z\",\"level\":\"error\",\"event\":\"store_down\"}\n");
}

TEST(FormatLogLine, WritesEveryValueKind) {
  const std::string_view std_view = "std";
  const std::string line = FormatLogLine(kTime, LogLevel::kDebug, "kinds",
                                         {{"neg", -5},
                                          {"min", std::numeric_limits<int64_t>::min()},
                                          {"umax", std::numeric_limits<uint64_t>::max()},
                                          {"u32", uint32_t{7}},
                                          {"half", 0.5},
                                          {"float", 0.25f},
                                          {"big", 1e20},
                                          {"tiny", -2.5e-7},
                                          {"whole", 3.0},
                                          {"nan", std::numeric_limits<double>::quiet_NaN()},
                                          {"inf", std::numeric_limits<double>::infinity()},
                                          {"ninf", -std::numeric_limits<double>::infinity()},
                                          {"yes", true},
                                          {"no", false},
                                          {"cstr", "text"},
                                          {"sv", std_view},
                                          {"k\"ey\n", "v"}});
  const absl::string_view expected_fields =
      "\"neg\":-5,\"min\":-9223372036854775808,\"umax\":18446744073709551615,\"u32\":7,"
      "\"half\":0.5,\"float\":0.25,\"big\":1e+20,\"tiny\":-2.5e-07,\"whole\":3,"
      "\"nan\":\"NaN\",\"inf\":\"Infinity\",\"ninf\":\"-Infinity\",\"yes\":true,\"no\":false,"
      "\"cstr\":\"text\",\"sv\":\"std\",\"k\\\"ey\\u000a\":\"v\"}\n";
  EXPECT_EQ(line, absl::StrCat("{\"ts\":\"2026-03-01T12:00:00.123456Z\",\"level\":\"debug\","
                               "\"event\":\"kinds\",",
                               expected_fields));
}

// Reads everything written to `file` so far.
std::string ReadAll(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string contents;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, n);
  return contents;
}

class LogOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = std::tmpfile();
    ASSERT_NE(file_, nullptr);
    SetLogOutput(file_);
  }
  void TearDown() override {
    SetLogOutput(nullptr);
    SetMinLogLevel(LogLevel::kInfo);
    if (file_ != nullptr) std::fclose(file_);
  }
  std::FILE* file_ = nullptr;
};

TEST_F(LogOutputTest, MinimumLevelFilters) {
  EXPECT_EQ(MinLogLevel(), LogLevel::kInfo);
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  Log(LogLevel::kDebug, "dropped_debug");
  Log(LogLevel::kInfo, "kept_info", {{"n", 1}});
  SetMinLogLevel(LogLevel::kWarning);
  EXPECT_EQ(MinLogLevel(), LogLevel::kWarning);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  Log(LogLevel::kInfo, "dropped_info");
  Log(LogLevel::kWarning, "kept_warning");
  Log(LogLevel::kError, "kept_error");
  SetMinLogLevel(LogLevel::kDebug);
  Log(LogLevel::kDebug, "kept_debug");

  std::vector<std::string> lines = absl::StrSplit(ReadAll(file_), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  const char* expected[][2] = {{"info", "kept_info"},
                               {"warning", "kept_warning"},
                               {"error", "kept_error"},
                               {"debug", "kept_debug"}};
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind("{\"ts\":\"", 0), 0u) << lines[i];
    EXPECT_NE(lines[i].find(absl::StrCat("\"level\":\"", expected[i][0], "\",\"event\":\"",
                                         expected[i][1], "\"")),
              std::string::npos)
        << lines[i];
    EXPECT_EQ(lines[i].back(), '}');
  }
}

TEST_F(LogOutputTest, LogToIgnoresTheMinimumLevel) {
  SetMinLogLevel(LogLevel::kError);
  LogTo(file_, LogLevel::kDebug, "direct", {{"x", true}});
  LogTo(nullptr, LogLevel::kError, "nowhere");
  const std::string contents = ReadAll(file_);
  EXPECT_NE(contents.find("\"level\":\"debug\",\"event\":\"direct\",\"x\":true}\n"),
            std::string::npos)
      << contents;
  EXPECT_EQ(contents.find("nowhere"), std::string::npos);
}

TEST_F(LogOutputTest, ConcurrentLinesDoNotInterleave) {
  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 300;
  const std::string padding(500, 'p');  // long lines make interleaving visible
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLinesPerThread; ++i) {
        Log(LogLevel::kInfo, "line", {{"thread", t}, {"i", i}, {"pad", padding}});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<std::string> lines = absl::StrSplit(ReadAll(file_), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesPerThread));
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    ASSERT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line;
    const size_t thread_at = line.find("\"thread\":");
    ASSERT_NE(thread_at, std::string::npos) << line;
    const int t = line[thread_at + 9] - '0';
    ASSERT_TRUE(t >= 0 && t < kThreads) << line;
    // Each thread's lines appear whole and in its own order.
    EXPECT_NE(line.find(absl::StrCat("\"thread\":", t, ",\"i\":", next[t]++, ",\"pad\":\"", padding,
                                     "\"}")),
              std::string::npos)
        << line;
  }
}

TEST(ParseLogLevel, AcceptsNamesCaseInsensitively) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("Warning"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarning);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  absl::StatusOr<LogLevel> bad = ParseLogLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'verbose'"), absl::string_view::npos);
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    EXPECT_EQ(*ParseLogLevel(LogLevelName(level)), level);
  }
}

}  // namespace
}  // namespace gander::service
