#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/tokenizer/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

using ::testing::HasSubstr;

// A vocabulary line for `bytes` as a bytes literal with every byte escaped.
std::string BytesLine(int id, absl::string_view bytes) {
  std::string literal = "b'";
  for (char c : bytes) {
    absl::StrAppend(&literal, "\\x", absl::Hex(static_cast<uint8_t>(c), absl::kZeroPad2));
  }
  return absl::StrCat(id, " ", literal, "' ", bytes.size(), "\n");
}

// Ids 1..256 are the single bytes 0x00..0xFF, as in the real vocabulary.
std::string AllSingleBytes() {
  std::string lines;
  for (int b = 0; b < 256; ++b) lines += BytesLine(b + 1, std::string(1, static_cast<char>(b)));
  return lines;
}

int ByteId(uint8_t byte) { return byte + 1; }

Tokenizer MustLoad(absl::string_view contents) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromString(contents);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  if (!tokenizer.ok()) std::abort();
  return *std::move(tokenizer);
}

std::string Bytes(const Tokenizer& tokenizer, int id) {
  absl::StatusOr<absl::string_view> bytes = tokenizer.TokenBytes(id);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? std::string(*bytes) : "<error>";
}

std::string RandomBytes(std::mt19937& rng, size_t length) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(length, '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// Random text mixing ASCII, accented Latin, CJK and emoji (valid UTF-8).
std::string RandomUtf8(std::mt19937& rng, size_t characters) {
  std::uniform_int_distribution<int> kind(0, 5);
  std::string s;
  for (size_t i = 0; i < characters; ++i) {
    uint32_t cp = 0;
    switch (kind(rng)) {
      case 0:
      case 1:
        cp = std::uniform_int_distribution<uint32_t>(0x20, 0x7E)(rng);
        break;
      case 2:
        cp = std::uniform_int_distribution<uint32_t>(0, 3)(rng) == 0 ? '\n' : ' ';
        break;
      case 3:
        cp = std::uniform_int_distribution<uint32_t>(0xC0, 0x17F)(rng);
        break;
      case 4:
        cp = std::uniform_int_distribution<uint32_t>(0x4E00, 0x9FFF)(rng);
        break;
      default:
        cp = std::uniform_int_distribution<uint32_t>(0x1F300, 0x1F64F)(rng);
        break;
    }
    tokenizer_internal::AppendUtf8(cp, &s);
  }
  return s;
}

// ---------------------------------------------------------------------------
// Parser

TEST(TokenizerParseTest, StrLiteralEscapes) {
  struct Case {
    std::string literal;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"('\\')", "\\"},
      {R"('\'')", "'"},
      {R"('\"')", "\""},
      {R"('\n\t\r')", "\n\t\r"},
      {R"('\a\b\f\v')", "\a\b\f\v"},
      {R"('\0')", std::string(1, '\0')},
      {R"('\7')", "\x07"},
      {R"('\101')", "A"},
      {R"('\1011')", "A1"},       // octal takes at most three digits
      {R"('\400')", "\xC4\x80"},  // U+0100 in a str literal
      {R"('\777')", "\xC7\xBF"},  // U+01FF
      {R"('\x41')", "A"},
      {R"('\xe9')", "\xC3\xA9"},  // a str's \x names a code point: U+00E9
      {R"('\xFF')", "\xC3\xBF"},
      {R"('\x80')", "\xC2\x80"},
      {R"('\u00e9')", "\xC3\xA9"},
      {R"('\u4E2D')", "\xE4\xB8\xAD"},
      {R"('\U0001F600')", "\xF0\x9F\x98\x80"},
      {R"('\U0010FFFF')", "\xF4\x8F\xBF\xBF"},
      {R"('\q')", "\\q"},  // unknown escapes keep the backslash
      {"'\xE4\xB8\xAD\xF0\x9F\x98\x80'", "\xE4\xB8\xAD\xF0\x9F\x98\x80"},  // raw UTF-8
      {"'a\tb'", "a\tb"},                                                  // a raw tab
      {R"(u'x')", "x"},
      {R"('x\x00y')", std::string("x\0y", 3)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.literal);
    absl::StatusOr<Tokenizer> tokenizer =
        Tokenizer::FromString(absl::StrCat("7 ", c.literal, " ", c.expected.size(), "\n"));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    EXPECT_EQ(Bytes(*tokenizer, 7), c.expected);
  }
}

TEST(TokenizerParseTest, BytesLiteralEscapes) {
  struct Case {
    std::string literal;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"(b'\x80')", "\x80"},
      {R"(b'\xff\x00')", std::string("\xff\0", 2)},
      {R"(b'\xE4\xB8')", "\xE4\xB8"},  // half a character: allowed in bytes
      {R"(b'\101\0')", std::string("A\0", 2)},
      {R"(b'\377')", "\xff"},
      {R"(b'\\\'\"')", "\\'\""},
      {R"(b'\a\b\f\n\r\t\v')", "\a\b\f\n\r\t\v"},
      {R"(b'\u00e9')", "\\u00e9"},  // \u is not an escape in bytes
      {R"(b'\N{x}')", "\\N{x}"},
      {R"(b'\q')", "\\q"},
      {R"(B'x')", "x"},
      {R"(b"it's")", "it's"},
      {R"(b"\x80'")", "\x80'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.literal);
    absl::StatusOr<Tokenizer> tokenizer =
        Tokenizer::FromString(absl::StrCat("9 ", c.literal, " ", c.expected.size(), "\n"));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    EXPECT_EQ(Bytes(*tokenizer, 9), c.expected);
  }
}

TEST(TokenizerParseTest, QuotesBackslashesAndSpaces) {
  const std::string contents =
      "1 \"'\" 1\n"                        // a double-quoted single quote
      "2 \"a\\\"b\" 3\n"                   // "a\"b"
      "3 ' a \\' b \\\\ c \"d\" 7 ' 17\n"  // quotes, backslashes, spaces, digits
      "4 '  ' 2\n"                         // only spaces
      "5    'x'    1   \n"                 // extra blanks between fields, trailing blanks
      "6\t'y'\t1\r\n"                      // tabs and a CRLF line end
      "\n"                                 // an empty line is skipped
      "8 'z 1' 3\n";                       // looks like a length inside the literal
  Tokenizer tokenizer = MustLoad(contents);
  EXPECT_EQ(Bytes(tokenizer, 1), "'");
  EXPECT_EQ(Bytes(tokenizer, 2), "a\"b");
  EXPECT_EQ(Bytes(tokenizer, 3), " a ' b \\ c \"d\" 7 ");
  EXPECT_EQ(Bytes(tokenizer, 4), "  ");
  EXPECT_EQ(Bytes(tokenizer, 5), "x");
  EXPECT_EQ(Bytes(tokenizer, 6), "y");
  EXPECT_EQ(Bytes(tokenizer, 8), "z 1");
  EXPECT_EQ(tokenizer.vocab_size(), 9);
  EXPECT_EQ(tokenizer.num_tokens(), 7);
}

TEST(TokenizerParseTest, MalformedLinesNameTheLine) {
  struct Case {
    std::string bad_line;  // placed on line 3, after a good line and an empty one
    std::string message;   // expected in the error
  };
  const std::vector<Case> cases = {
      {"2 'ab' 3", "length mismatch"},
      {"2 '\\x80' 1", "decodes to 2 bytes"},  // a str's \x80 is two UTF-8 bytes
      {"2 '\\U0001F600' 1", "decodes to 4 bytes"},
      {"1 'b' 1", "duplicate id 1 (first defined on line 1)"},
      {"0 'b' 1", "id 0 is reserved"},
      {"2 'b' 1 x", "trailing junk"},
      {"2 'b' 1 1", "trailing junk"},
      {"2 'b'", "expected a space after the literal"},
      {"2 'b' ", "expected the byte length"},
      {"2 'b' -1", "expected the byte length"},
      {"2 'b'x 1", "expected a space after the literal"},
      {"2 'b' 'c' 2", "expected the byte length"},
      {"2 1", "bad literal"},
      {"2", "expected a space after the token id"},
      {"2'b' 1", "expected a space after the token id"},
      {"-2 'b' 1", "expected a token id"},
      {" 2 'b' 1", "expected a token id"},
      {"x 'b' 1", "expected a token id"},
      {"99999999999 'b' 1", "too large"},
      {"2 'b' 99999999999999999999", "too large"},
      {"2 'bcd 3", "unterminated"},
      {"2 'bcd\\' 4", "unterminated"},
      {"2 'b\\", "backslash at the end"},
      {"2 '' 0", "empty token"},
      {"2 '''b''' 1", "triple-quoted"},
      {"2 r'b' 1", "bad literal"},
      {"2 '\\xZ1' 1", "two hex digits"},
      {"2 '\\x4' 1", "two hex digits"},
      {"2 '\\u12' 1", "4 hex digits"},
      {"2 '\\U0001F60' 1", "8 hex digits"},
      {"2 '\\U00110000' 4", "above U+10FFFF"},
      {"2 '\\ud800' 3", "surrogate"},
      {"2 '\\N{BULLET}' 3", "named"},
      {"2 '\\N' 2", "named"},
      {"2 b'\xC3\xA9' 2", "non-ASCII byte"},
      {"2 b'\\400' 1", "above \\377"},
      {"2 '\xFF' 1", "invalid UTF-8"},
      {"2 '\xE4\xB8' 2", "invalid UTF-8"},
      {"2 'a' 1", "same bytes as id 1"},  // token bytes must be distinct
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.bad_line);
    absl::StatusOr<Tokenizer> tokenizer =
        Tokenizer::FromString(absl::StrCat("1 'a' 1\n\n", c.bad_line, "\n4 'q' 1\n"));
    ASSERT_FALSE(tokenizer.ok());
    EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("vocabulary line 3: "));
    EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr(c.message));
  }
}

TEST(TokenizerParseTest, EmptyVocabularyIsRejected) {
  for (const char* contents : {"", "\n", "\r\n\n"}) {
    absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromString(contents);
    ASSERT_FALSE(tokenizer.ok());
    EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(TokenizerParseTest, FromFileMissingIsNotFound) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromFile("/nonexistent/dir/vocab.txt");
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(tokenizer.status().message()), HasSubstr("/nonexistent/dir/vocab.txt"));
}

TEST(TokenizerParseTest, FromFileLoadsAndReportsPathAndLine) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  const std::string good = dir + "/good_vocab.txt";
  const std::string bad = dir + "/bad_vocab.txt";
  {
    std::ofstream out(good, std::ios::binary);
    out << AllSingleBytes() << "257 'hello' 5\n";
  }
  {
    std::ofstream out(bad, std::ios::binary);
    out << "1 'a' 1\n2 'b' 7\n";
  }
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromFile(good);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->vocab_size(), 258);
  EXPECT_EQ(tokenizer->Encode("hello!").value(), (std::vector<int>{257, ByteId('!')}));

  absl::StatusOr<Tokenizer> broken = Tokenizer::FromFile(bad);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr(bad));
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("vocabulary line 2: "));
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

// ---------------------------------------------------------------------------
// Encode / Decode

TEST(TokenizerEncodeTest, GreedyLongestMatch) {
  Tokenizer tokenizer = MustLoad("1 'a' 1\n2 'ab' 2\n3 'abc' 3\n4 'c' 1\n5 'abcd' 4\n");
  EXPECT_EQ(tokenizer.Encode("abcab").value(), (std::vector<int>{3, 2}));
  EXPECT_EQ(tokenizer.Encode("abca").value(), (std::vector<int>{3, 1}));
  EXPECT_EQ(tokenizer.Encode("abcd").value(), (std::vector<int>{5}));
  EXPECT_EQ(tokenizer.Encode("abcdabcc").value(), (std::vector<int>{5, 3, 4}));
  EXPECT_EQ(tokenizer.Encode("").value(), std::vector<int>{});
}

TEST(TokenizerEncodeTest, FallsBackToTheLongestTokenOnTheWalk) {
  // The walk reaches "abc" (no token) on the way to "abcd"; it must fall back
  // to "ab", then continue at "c".
  Tokenizer tokenizer = MustLoad("1 'a' 1\n2 'ab' 2\n3 'abcd' 4\n4 'c' 1\n5 'x' 1\n");
  EXPECT_EQ(tokenizer.Encode("abc").value(), (std::vector<int>{2, 4}));
  EXPECT_EQ(tokenizer.Encode("abcx").value(), (std::vector<int>{2, 4, 5}));
  EXPECT_EQ(tokenizer.Encode("abcdabcd").value(), (std::vector<int>{3, 3}));
}

TEST(TokenizerEncodeTest, UncoverableByteNamesTheOffset) {
  Tokenizer tokenizer = MustLoad("1 'a' 1\n2 'ab' 2\n3 'bcd' 3\n");
  absl::StatusOr<std::vector<int>> ids = tokenizer.Encode("abab\xff");
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("offset 4"));
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("0xff"));
  // "bc" is only a prefix of "bcd": nothing matches at offset 1.
  ids = tokenizer.Encode("abc");
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("offset 2"));
}

TEST(TokenizerEncodeTest, ArbitraryBytesRoundTrip) {
  Tokenizer tokenizer = MustLoad(
      AllSingleBytes() + "257 'ab' 2\n258 '\\U0001F600' 4\n259 '\xE4\xB8\xAD\xE6\x96\x87' 6\n" +
      "260 b'\\xff\\xfe' 2\n261 '\\n\\n' 2\n262 b'\\x98\\x80' 2\n263 ' the' 4\n");
  const std::vector<std::string> texts = {
      "",
      "abc",
      "\xF0\x9F\x98\x80 emoji \xF0\x9F\x98\x80\xF0\x9F\x98\x80",
      "\xE4\xB8\xAD\xE6\x96\x87 CJK \xE4\xB8\xAD",
      "bad \xff\xfe\xff utf8 \x80\x80 lone \xbf"
      " continuation \xC0\xAF overlong",
      std::string("nul\0bytes\0\0", 12),
      "\n\n\n the end",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    absl::StatusOr<std::vector<int>> ids = tokenizer.Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(tokenizer.Decode(*ids).value(), text);
  }
  EXPECT_EQ(tokenizer.Encode("\xF0\x9F\x98\x80").value(), std::vector<int>{258});
  EXPECT_EQ(tokenizer.Encode("\xff\xfe\xff").value(), (std::vector<int>{260, ByteId(0xff)}));

  std::mt19937 rng(1234);
  for (int i = 0; i < 200; ++i) {
    const std::string text = RandomBytes(rng, i * 7);
    absl::StatusOr<std::vector<int>> ids = tokenizer.Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ASSERT_EQ(tokenizer.Decode(*ids).value(), text);
  }
}

// Differential test: the trie against an obviously correct greedy matcher.
TEST(TokenizerEncodeTest, MatchesNaiveGreedyOnRandomVocabularies) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> letter(0, 3);  // a small alphabet: many shared prefixes
  for (int round = 0; round < 20; ++round) {
    std::map<std::string, int> vocab;
    std::string contents;
    int id = 1;
    for (char c : std::string("abcd")) {
      vocab[std::string(1, c)] = id;
      contents += BytesLine(id++, std::string(1, c));
    }
    for (int i = 0; i < 60; ++i) {
      std::string token;
      const int length = std::uniform_int_distribution<int>(2, 7)(rng);
      for (int j = 0; j < length; ++j) token.push_back(static_cast<char>('a' + letter(rng)));
      if (vocab.count(token) > 0) continue;
      id += std::uniform_int_distribution<int>(1, 3)(rng);  // leave gaps in the ids
      vocab[token] = id;
      contents += BytesLine(id, token);
    }
    Tokenizer tokenizer = MustLoad(contents);
    for (int t = 0; t < 20; ++t) {
      std::string text;
      const int length = std::uniform_int_distribution<int>(0, 80)(rng);
      for (int j = 0; j < length; ++j) text.push_back(static_cast<char>('a' + letter(rng)));
      std::vector<int> expected;
      for (size_t pos = 0; pos < text.size();) {
        for (size_t n = std::min<size_t>(7, text.size() - pos); n >= 1; --n) {
          auto it = vocab.find(text.substr(pos, n));
          if (it != vocab.end()) {
            expected.push_back(it->second);
            pos += n;
            break;
          }
        }
      }
      ASSERT_EQ(tokenizer.Encode(text).value(), expected) << text;
    }
  }
}

TEST(TokenizerDecodeTest, EndOfDocumentAndUnknownIds) {
  Tokenizer tokenizer = MustLoad("1 'a' 1\n2 'b' 1\n5 'e' 1\n");
  EXPECT_EQ(tokenizer.vocab_size(), 6);
  EXPECT_EQ(tokenizer.num_tokens(), 3);
  EXPECT_EQ(tokenizer.Decode({1, Tokenizer::kEndOfDocument, 2, 5, 0}).value(), "abe");
  EXPECT_EQ(tokenizer.Decode({}).value(), "");
  EXPECT_EQ(tokenizer.TokenBytes(0).value(), "");
  EXPECT_TRUE(tokenizer.IsKnownId(0));
  EXPECT_TRUE(tokenizer.IsKnownId(5));
  EXPECT_FALSE(tokenizer.IsKnownId(3));

  struct Case {
    std::vector<int> ids;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{1, 2, 3}, "unknown token id 3 at position 2"},  // a gap in the ids
      {{-1}, "unknown token id -1 at position 0"},
      {{1, 6}, "unknown token id 6 at position 1"},  // == vocab_size
      {{1, 1, 1, 1000000}, "unknown token id 1000000 at position 3"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> text = tokenizer.Decode(c.ids);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(text.status().message()), HasSubstr(c.message));
  }
  for (int id : {-5, 3, 4, 6, 1 << 30}) {
    absl::StatusOr<absl::string_view> bytes = tokenizer.TokenBytes(id);
    ASSERT_FALSE(bytes.ok());
    EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(bytes.status().message()), HasSubstr(absl::StrCat("id ", id)));
  }
}

TEST(TokenizerDecodeTest, CopiesAndMovesKeepWorking) {
  Tokenizer original = MustLoad(AllSingleBytes() + "257 'hello world' 11\n");
  Tokenizer copy = original;
  Tokenizer moved = std::move(original);
  for (const Tokenizer* tokenizer : {&copy, &moved}) {
    EXPECT_EQ(tokenizer->Encode("hello world!").value(), (std::vector<int>{257, ByteId('!')}));
    EXPECT_EQ(tokenizer->TokenBytes(257).value(), "hello world");
  }
}

// ---------------------------------------------------------------------------
// UTF-8 helpers

TEST(Utf8Test, IncompleteSuffixLength) {
  using tokenizer_internal::IncompleteUtf8SuffixLength;
  EXPECT_EQ(IncompleteUtf8SuffixLength(""), 0u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("abc"), 0u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xF0"), 1u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xF0\x9F"), 2u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("a\xF0\x9F\x98\x80"), 0u);  // complete
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xE4\xB8"), 2u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xC3"), 1u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xE0\x80"), 0u);  // overlong: never valid
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xED\xA0"), 0u);  // surrogate
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xF4\x90"), 0u);  // above U+10FFFF
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xF0\x41"), 0u);  // broken continuation
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xFF"), 0u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("\xC0"), 0u);
  EXPECT_EQ(IncompleteUtf8SuffixLength("\x80\x80\x80"), 0u);
}

TEST(Utf8Test, Validity) {
  using tokenizer_internal::IsValidUtf8;
  size_t offset = 99;
  EXPECT_TRUE(IsValidUtf8("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80", &offset));
  EXPECT_FALSE(IsValidUtf8("ab\xE4\xB8", &offset));
  EXPECT_EQ(offset, 2u);
  EXPECT_FALSE(IsValidUtf8("a\xC0\xAF", &offset));
  EXPECT_EQ(offset, 1u);
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80", nullptr));
}

// ---------------------------------------------------------------------------
// Streaming

class StreamingDetokenizerTest : public ::testing::Test {
 protected:
  StreamingDetokenizerTest()
      : tokenizer_(MustLoad(AllSingleBytes() +
                            "257 b'a\\xf0\\x9f' 3\n"    // ends inside a character
                            "258 b'\\x98\\x80b' 3\n"    // finishes it
                            "259 '\\u4e2d\\u6587' 6\n"  // two whole CJK characters
                            "260 b'\\xe4\\xb8' 2\n"     // a CJK character's first two bytes
                            "261 '\\n\\n' 2\n")) {}

  std::string Push(StreamingDetokenizer& stream, int id) {
    absl::StatusOr<std::string> piece = stream.Push(id);
    EXPECT_TRUE(piece.ok()) << piece.status();
    return piece.ok() ? *piece : "<error>";
  }

  Tokenizer tokenizer_;
};

TEST_F(StreamingDetokenizerTest, EmojiOverSingleByteTokensWaitsForTheLastByte) {
  StreamingDetokenizer stream(&tokenizer_);
  EXPECT_EQ(Push(stream, ByteId(0xF0)), "");
  EXPECT_EQ(stream.pending(), "\xF0");
  EXPECT_EQ(Push(stream, ByteId(0x9F)), "");
  EXPECT_EQ(Push(stream, ByteId(0x98)), "");
  EXPECT_EQ(stream.pending(), "\xF0\x9F\x98");
  EXPECT_EQ(Push(stream, ByteId(0x80)), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.pending(), "");
  EXPECT_EQ(stream.Flush(), "");
}

TEST_F(StreamingDetokenizerTest, TokensEndingInsideACharacter) {
  StreamingDetokenizer stream(&tokenizer_);
  EXPECT_EQ(Push(stream, 257), "a");
  EXPECT_EQ(Push(stream, 258),
            "\xF0\x9F\x98\x80"
            "b");
  EXPECT_EQ(Push(stream, 260), "");
  EXPECT_EQ(Push(stream, ByteId(0xAD)), "\xE4\xB8\xAD");
  EXPECT_EQ(Push(stream, 259), "\xE4\xB8\xAD\xE6\x96\x87");
}

TEST_F(StreamingDetokenizerTest, InvalidBytesAreEmittedImmediately) {
  StreamingDetokenizer stream(&tokenizer_);
  EXPECT_EQ(Push(stream, ByteId(0xFF)), "\xFF");  // never a lead byte
  EXPECT_EQ(Push(stream, ByteId(0x80)), "\x80");  // lone continuation
  EXPECT_EQ(Push(stream, ByteId(0xC0)), "\xC0");  // overlong lead
  EXPECT_EQ(Push(stream, ByteId(0xF5)), "\xF5");  // past U+10FFFF
  EXPECT_EQ(Push(stream, ByteId(0xF0)), "");      // could start an emoji...
  EXPECT_EQ(Push(stream, ByteId('A')),
            "\xF0"
            "A");  // ...but is broken
  EXPECT_EQ(Push(stream, ByteId(0xE0)), "");
  EXPECT_EQ(Push(stream, ByteId(0x80)), "\xE0\x80");  // overlong: never valid
  EXPECT_EQ(Push(stream, ByteId(0xED)), "");
  EXPECT_EQ(Push(stream, ByteId(0xA0)), "\xED\xA0");  // surrogate: never valid
  EXPECT_EQ(Push(stream, ByteId(0xE4)), "");
  EXPECT_EQ(Push(stream, ByteId(0xB8)), "");
  EXPECT_EQ(Push(stream, ByteId(0xF0)), "\xE4\xB8");  // broken by a new lead...
  EXPECT_EQ(stream.pending(), "\xF0");                // ...which is held itself
  EXPECT_EQ(stream.Flush(), "\xF0");
  EXPECT_EQ(stream.pending(), "");
}

TEST_F(StreamingDetokenizerTest, EndOfDocumentAndUnknownIdsKeepState) {
  StreamingDetokenizer stream(&tokenizer_);
  EXPECT_EQ(Push(stream, ByteId(0xE4)), "");
  EXPECT_EQ(Push(stream, Tokenizer::kEndOfDocument), "");
  EXPECT_EQ(stream.pending(), "\xE4");
  for (int id : {-1, 262, 100000}) {
    absl::StatusOr<std::string> piece = stream.Push(id);
    ASSERT_FALSE(piece.ok());
    EXPECT_EQ(piece.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(piece.status().message()), HasSubstr(absl::StrCat("id ", id)));
    EXPECT_EQ(stream.pending(), "\xE4");
  }
  EXPECT_EQ(Push(stream, ByteId(0xB8)), "");
  EXPECT_EQ(Push(stream, ByteId(0xAD)), "\xE4\xB8\xAD");
}

TEST_F(StreamingDetokenizerTest, PendingSavesAndRestores) {
  StreamingDetokenizer first(&tokenizer_);
  EXPECT_EQ(Push(first, 257), "a");
  const std::string saved = first.pending();
  EXPECT_EQ(saved, "\xF0\x9F");

  StreamingDetokenizer resumed(&tokenizer_);
  resumed.set_pending(saved);
  EXPECT_EQ(resumed.pending(), saved);
  EXPECT_EQ(Push(resumed, 258),
            "\xF0\x9F\x98\x80"
            "b");
  EXPECT_EQ(Push(first, 258),
            "\xF0\x9F\x98\x80"
            "b");
}

TEST_F(StreamingDetokenizerTest, RandomStreamsConcatenateToDecode) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> any_id(0, tokenizer_.vocab_size() - 1);
  std::uniform_int_distribution<int> high_byte(0x80, 0xFF);
  std::uniform_int_distribution<int> pick(0, 2);
  for (int round = 0; round < 500; ++round) {
    std::vector<int> ids(std::uniform_int_distribution<int>(0, 40)(rng));
    // Bias towards bytes >= 0x80 so that many sequences are (in)complete.
    for (int& id : ids) id = pick(rng) == 0 ? any_id(rng) : ByteId(high_byte(rng));
    StreamingDetokenizer stream(&tokenizer_);
    std::string shown;
    for (size_t i = 0; i < ids.size(); ++i) {
      shown += Push(stream, ids[i]);
      ASSERT_LE(stream.pending().size(), 3u);
      // What was shown plus what is held is always the decoded prefix.
      const std::vector<int> prefix(ids.begin(), ids.begin() + i + 1);
      ASSERT_EQ(shown + stream.pending(), tokenizer_.Decode(prefix).value());
    }
    shown += stream.Flush();
    ASSERT_EQ(shown, tokenizer_.Decode(ids).value());
  }
}

TEST_F(StreamingDetokenizerTest, ValidTextComesOutInWholeCharacters) {
  std::mt19937 rng(11);
  for (int round = 0; round < 100; ++round) {
    const std::string text = RandomUtf8(rng, 30);
    // Single-byte tokens split every multi-byte character.
    std::vector<int> ids;
    for (char c : text) ids.push_back(ByteId(static_cast<uint8_t>(c)));
    StreamingDetokenizer stream(&tokenizer_);
    std::string shown;
    for (int id : ids) {
      const std::string piece = Push(stream, id);
      ASSERT_TRUE(tokenizer_internal::IsValidUtf8(piece, nullptr));
      shown += piece;
    }
    EXPECT_EQ(stream.Flush(), "");
    EXPECT_EQ(shown, text);
  }
}

// ---------------------------------------------------------------------------
// The real RWKV World vocabulary (only where the test runner provides it)

class RealVocabularyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* dir = std::getenv("GANDER_SHARED_DATA");
    if (dir == nullptr || *dir == '\0') {
      skip_reason_ = new std::string("GANDER_SHARED_DATA is not set");
      return;
    }
    const std::string path = absl::StrCat(dir, "/rwkv_vocab_v20230424.txt");
    if (!std::ifstream(path).good()) {
      skip_reason_ = new std::string(absl::StrCat(path, " is absent"));
      return;
    }
    absl::StatusOr<Tokenizer> tokenizer = Tokenizer::FromFile(path);
    if (!tokenizer.ok()) {
      load_error_ = new absl::Status(tokenizer.status());
      return;
    }
    tokenizer_ = new Tokenizer(*std::move(tokenizer));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete skip_reason_;
    delete load_error_;
    tokenizer_ = nullptr;
    skip_reason_ = nullptr;
    load_error_ = nullptr;
  }
  void SetUp() override {
    if (skip_reason_ != nullptr) GTEST_SKIP() << *skip_reason_;
    ASSERT_EQ(load_error_, nullptr) << *load_error_;
    ASSERT_NE(tokenizer_, nullptr);
  }

  static const Tokenizer* tokenizer_;
  static const std::string* skip_reason_;
  static const absl::Status* load_error_;
};

const Tokenizer* RealVocabularyTest::tokenizer_ = nullptr;
const std::string* RealVocabularyTest::skip_reason_ = nullptr;
const absl::Status* RealVocabularyTest::load_error_ = nullptr;

TEST_F(RealVocabularyTest, Sizes) {
  EXPECT_EQ(tokenizer_->vocab_size(), 65530);
  EXPECT_EQ(tokenizer_->num_tokens(), 65529);
}

TEST_F(RealVocabularyTest, SingleBytesAreIdsOneTo256) {
  for (int b = 0; b < 256; ++b) {
    ASSERT_EQ(tokenizer_->TokenBytes(b + 1).value(), std::string(1, static_cast<char>(b)));
  }
}

TEST_F(RealVocabularyTest, EveryTokenEncodesToItself) {
  for (int id = 1; id < tokenizer_->vocab_size(); ++id) {
    absl::StatusOr<absl::string_view> bytes = tokenizer_->TokenBytes(id);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_FALSE(bytes->empty()) << id;
    // A token is its own longest match, so greedy encoding gives exactly it.
    absl::StatusOr<std::vector<int>> ids = tokenizer_->Encode(*bytes);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ASSERT_EQ(*ids, std::vector<int>{id});
    ASSERT_EQ(tokenizer_->Decode(*ids).value(), *bytes);
  }
}

TEST_F(RealVocabularyTest, KnownEncodings) {
  EXPECT_EQ(tokenizer_->Encode("\n\n").value(), std::vector<int>{261});
  EXPECT_EQ(tokenizer_->Encode("User").value(), std::vector<int>{24281});
  EXPECT_EQ(tokenizer_->Encode(" the").value(), std::vector<int>{22590});
  EXPECT_EQ(tokenizer_->Encode("Hello").value(), std::vector<int>{33155});
  EXPECT_EQ(tokenizer_->TokenBytes(129).value(), "\x80");       // b'\x80'
  EXPECT_EQ(tokenizer_->TokenBytes(2423).value(), "\xC2\x80");  // '\x80', a str
  EXPECT_EQ(tokenizer_->TokenBytes(65529).value(), std::string(128, ' '));
  EXPECT_EQ(tokenizer_->Encode(std::string(130, ' ')).value(),
            (std::vector<int>{65529, 267}));  // 128 spaces, then '  '
}

TEST_F(RealVocabularyTest, TextRoundTrips) {
  const std::vector<std::string> texts = {
      "User: Hello, how are you?\n\nAssistant:",
      "\xF0\x9F\x98\x80\xF0\x9F\x8E\x89 emoji \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
      "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6\xE4\xB8\xB2 "
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
      "mixed caf\xC3\xA9 \xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xE4\xBD\xA0\xE5\xA5\xBD "
      "\xF0\x9F\x98\x80!",
      "invalid \xff\xfe\x80 bytes \xC0\xAF and NUL " + std::string(3, '\0'),
  };
  for (const std::string& text : texts) {
    absl::StatusOr<std::vector<int>> ids = tokenizer_->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(tokenizer_->Decode(*ids).value(), text);
  }
  std::mt19937 rng(5);
  const std::string big = RandomUtf8(rng, 250000);  // about 0.6 MB
  absl::StatusOr<std::vector<int>> ids = tokenizer_->Encode(big);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_LT(ids->size(), big.size());
  EXPECT_EQ(tokenizer_->Decode(*ids).value(), big);
  const std::string noise = RandomBytes(rng, 100000);
  EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(noise).value()).value(), noise);
}

TEST_F(RealVocabularyTest, StreamingShowsWholeCharacters) {
  std::mt19937 rng(3);
  const std::string text = RandomUtf8(rng, 5000);
  const std::vector<int> ids = tokenizer_->Encode(text).value();
  StreamingDetokenizer stream(tokenizer_);
  std::string shown;
  for (int id : ids) {
    absl::StatusOr<std::string> piece = stream.Push(id);
    ASSERT_TRUE(piece.ok()) << piece.status();
    ASSERT_TRUE(tokenizer_internal::IsValidUtf8(*piece, nullptr));
    shown += *piece;
  }
  shown += stream.Flush();
  EXPECT_EQ(shown, text);
}

}  // namespace
}  // namespace gander::engine

namespace gander::engine {
namespace {

TEST(ReplaceInvalidUtf8Test, KeepsValidTextAndReplacesEachBadByte) {
  EXPECT_EQ(ReplaceInvalidUtf8(""), "");
  EXPECT_EQ(ReplaceInvalidUtf8("goose \xF0\x9F\xAA\xBF \xC3\xA9"),
            "goose \xF0\x9F\xAA\xBF \xC3\xA9");
  // A lone continuation byte, an invalid lead, a truncated sequence at the
  // end, an overlong form and a surrogate.
  EXPECT_EQ(ReplaceInvalidUtf8("a\x80"
                               "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ReplaceInvalidUtf8("\xFF"), "\xEF\xBF\xBD");
  EXPECT_EQ(ReplaceInvalidUtf8("x\xE2\x82"), "x\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ReplaceInvalidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ReplaceInvalidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace gander::engine
