#include "engine/sampler/stop_checker.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace gander::engine {
namespace {

constexpr int kText = 10;  // an ordinary token id
constexpr int kEos = 0;    // the stop token in these tests

struct Step {
  std::string emitted;
  StopReason reason;
};

Step Push(StopChecker& checker, absl::string_view piece, int token = kText) {
  Step step;
  step.emitted = checker.Push(token, piece, &step.reason);
  return step;
}

TEST(StopCheckerTest, StopStringSpanningPieces) {
  StopChecker checker({kEos}, {"\n\nUser:"}, 0);
  Step s = Push(checker, "Hello");
  EXPECT_EQ(s.emitted, "Hello");
  EXPECT_EQ(s.reason, StopReason::kNone);
  EXPECT_EQ(Push(checker, " world\n").emitted, " world");  // "\n" may start "\n\nUser:"
  EXPECT_EQ(checker.held_text(), "\n");
  EXPECT_EQ(Push(checker, "\nUs").emitted, "");
  EXPECT_EQ(checker.held_text(), "\n\nUs");
  s = Push(checker, "er: hi");
  EXPECT_EQ(s.emitted, "");  // the stop string and what follows are withheld
  EXPECT_EQ(s.reason, StopReason::kStopString);
  EXPECT_EQ(checker.stop_reason(), StopReason::kStopString);
  EXPECT_EQ(checker.held_text(), "");
  EXPECT_EQ(checker.Flush(), "");
  // After a stop nothing more comes out.
  s = Push(checker, "more");
  EXPECT_EQ(s.emitted, "");
  EXPECT_EQ(s.reason, StopReason::kStopString);
}

TEST(StopCheckerTest, TextBeforeTheStopStringInTheSamePieceIsReleased) {
  StopChecker checker({}, {"END"}, 0);
  EXPECT_EQ(Push(checker, "abcE").emitted, "abc");
  const Step s = Push(checker, "xEND tail");
  EXPECT_EQ(s.emitted, "Ex");
  EXPECT_EQ(s.reason, StopReason::kStopString);
}

TEST(StopCheckerTest, HeldTextIsReleasedWhenItTurnsOutNotToBeAStopString) {
  StopChecker checker({}, {"STOP"}, 0);
  EXPECT_EQ(Push(checker, "ST").emitted, "");
  EXPECT_EQ(checker.held_text(), "ST");
  const Step s = Push(checker, "ay");
  EXPECT_EQ(s.emitted, "STay");
  EXPECT_EQ(s.reason, StopReason::kNone);
  EXPECT_EQ(checker.held_text(), "");
}

TEST(StopCheckerTest, OverlappingPrefixes) {
  // "aaab" contains "aab" from offset 1: only "a" may be emitted.
  StopChecker checker({}, {"aab"}, 0);
  EXPECT_EQ(Push(checker, "aa").emitted, "");
  EXPECT_EQ(Push(checker, "a").emitted, "a");
  EXPECT_EQ(checker.held_text(), "aa");
  const Step s = Push(checker, "b");
  EXPECT_EQ(s.emitted, "");
  EXPECT_EQ(s.reason, StopReason::kStopString);
}

TEST(StopCheckerTest, EarliestOfSeveralStopStringsWins) {
  StopChecker checker({}, {"world", "lo w", "zzz"}, 0);
  const Step s = Push(checker, "hello world");
  EXPECT_EQ(s.emitted, "hel");
  EXPECT_EQ(s.reason, StopReason::kStopString);
}

TEST(StopCheckerTest, StopTokenReleasesHeldTextButNotItsOwnPiece) {
  StopChecker checker({kEos, 3}, {"###"}, 0);
  EXPECT_EQ(Push(checker, "a#").emitted, "a");
  const Step s = Push(checker, "</s>", kEos);
  EXPECT_EQ(s.emitted, "#");
  EXPECT_EQ(s.reason, StopReason::kStopToken);
  EXPECT_EQ(checker.Flush(), "");
}

TEST(StopCheckerTest, MaxTokens) {
  StopChecker checker({}, {"XY"}, 3);
  EXPECT_EQ(Push(checker, "a").reason, StopReason::kNone);
  EXPECT_EQ(Push(checker, "bX").emitted, "b");
  const Step s = Push(checker, "cX");  // third token: stops, releases everything
  EXPECT_EQ(s.emitted, "XcX");
  EXPECT_EQ(s.reason, StopReason::kMaxTokens);
  EXPECT_EQ(checker.generated_tokens(), 3);
  EXPECT_EQ(Push(checker, "d").reason, StopReason::kMaxTokens);
  EXPECT_EQ(checker.generated_tokens(), 3);
}

TEST(StopCheckerTest, PrecedenceOnTheSameToken) {
  // A stop string completed by the last allowed token is a stop string stop.
  StopChecker string_first({}, {"XY"}, 2);
  EXPECT_EQ(Push(string_first, "aX").emitted, "a");
  Step s = Push(string_first, "Yb");
  EXPECT_EQ(s.reason, StopReason::kStopString);
  EXPECT_EQ(s.emitted, "");
  // A stop token that is also the last allowed token is a stop token stop.
  StopChecker token_first({kEos}, {}, 1);
  s = Push(token_first, "<eos>", kEos);
  EXPECT_EQ(s.reason, StopReason::kStopToken);
  EXPECT_EQ(s.emitted, "");
}

TEST(StopCheckerTest, FlushReleasesHeldText) {
  StopChecker checker({}, {"\n\n"}, 0);
  EXPECT_EQ(Push(checker, "end\n").emitted, "end");
  EXPECT_EQ(checker.Flush(), "\n");
  EXPECT_EQ(checker.held_text(), "");
  EXPECT_EQ(checker.Flush(), "");
  // Even a held text restored with a whole stop string in it never leaks it.
  checker.set_held_text("ab\n\ncd");
  EXPECT_EQ(checker.Flush(), "ab");
}

TEST(StopCheckerTest, NoStopConditionsPassesEverythingThrough) {
  StopChecker checker(SamplingParams{});
  for (int i = 0; i < 100; ++i) {
    const Step s = Push(checker, "piece\n");
    EXPECT_EQ(s.emitted, "piece\n");
    EXPECT_EQ(s.reason, StopReason::kNone);
  }
  StopChecker empty_string({}, {""}, 0);  // ignored rather than matching everywhere
  EXPECT_EQ(Push(empty_string, "abc").emitted, "abc");
}

TEST(StopCheckerTest, ReasonNames) {
  EXPECT_EQ(StopReasonName(StopReason::kNone), "none");
  EXPECT_EQ(StopReasonName(StopReason::kStopToken), "stop_token");
  EXPECT_EQ(StopReasonName(StopReason::kStopString), "stop_string");
  EXPECT_EQ(StopReasonName(StopReason::kMaxTokens), "max_tokens");
}

// Differential test against the obvious model: over random texts cut into
// random pieces, the emitted text is the whole text up to the first stop
// string; what was emitted is at every step a prefix of that; generation
// stops at the first piece that completes a stop string; the held text never
// exceeds the longest stop string minus one; and a checker saved and
// restored (held text and token count) at a random step behaves the same.
TEST(StopCheckerTest, MatchesReferenceOnRandomPieces) {
  std::mt19937 rng(4242);
  const std::vector<std::string> stops = {"ab\na", "bb", "\n\n\n", "abab"};
  const std::string alphabet = "ab\nc";
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::string> pieces;
    std::string whole;
    const int count = 1 + rng() % 12;
    for (int i = 0; i < count; ++i) {
      std::string piece;
      for (int n = rng() % 4; n > 0; --n) piece.push_back(alphabet[rng() % alphabet.size()]);
      pieces.push_back(piece);
      whole += piece;
    }
    std::vector<std::string> active(stops.begin(), stops.begin() + 1 + trial % stops.size());
    size_t cut = std::string::npos;
    for (const std::string& s : active) cut = std::min(cut, whole.find(s));
    const std::string expected = whole.substr(0, cut);

    StopChecker checker({}, active, 0);
    const int restore_at = rng() % (count + 1);
    std::string emitted;
    std::string seen;
    StopReason reason = StopReason::kNone;
    for (int i = 0; i < count && reason == StopReason::kNone; ++i) {
      if (i == restore_at) {
        StopChecker restored({}, active, 0);
        restored.set_held_text(checker.held_text());
        restored.set_generated_tokens(checker.generated_tokens());
        checker = restored;
      }
      emitted += checker.Push(kText, pieces[i], &reason);
      seen += pieces[i];
      ASSERT_EQ(expected.compare(0, emitted.size(), emitted), 0)
          << "emitted text is not a prefix of the expected output, trial " << trial;
      size_t longest = 0;
      for (const std::string& s : active) longest = std::max(longest, s.size());
      ASSERT_LT(checker.held_text().size(), longest);
      const bool complete = cut != std::string::npos && seen.size() >= cut + 1 && [&] {
        for (const std::string& s : active) {
          if (seen.find(s) != std::string::npos) return true;
        }
        return false;
      }();
      ASSERT_EQ(reason == StopReason::kStopString, complete) << "trial " << trial << " step " << i;
    }
    if (reason == StopReason::kNone) emitted += checker.Flush();
    EXPECT_EQ(emitted, expected) << "trial " << trial;
  }
}

}  // namespace
}  // namespace gander::engine
