#include "engine/sampler/penalties.h"

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/sampler/sampler.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

using Counts = absl::flat_hash_map<int, float>;

// Every number below is a short binary fraction, so float arithmetic is
// exact and the expected values are worked out by hand.
TEST(PenaltiesTest, AppliesRepetitionThenPresenceAndFrequency) {
  SamplingParams params;
  params.presence_penalty = 0.5f;
  params.frequency_penalty = 0.25f;
  params.repetition_penalty = 2.0f;
  const Counts counts = {{1, 2.0f}, {3, 0.5f}, {4, 1.0f}};
  std::vector<float> logits = {1.0f, 3.0f, -1.0f, -2.0f, 0.0f, 5.0f};
  ApplyPenalties(params, counts, absl::MakeSpan(logits));
  // t=1: 3 / 2 = 1.5, minus 0.5 + 0.25 * 2 = 1  -> 0.5
  // t=3: -2 * 2 = -4, minus 0.5 + 0.25 * 0.5   -> -4.625
  // t=4: 0 (not positive) * 2 = 0, minus 0.75  -> -0.75
  EXPECT_EQ(logits, (std::vector<float>{1.0f, 0.5f, -1.0f, -4.625f, -0.75f, 5.0f}));
}

TEST(PenaltiesTest, PresenceAndFrequencyAlone) {
  SamplingParams params;
  params.presence_penalty = 1.0f;
  params.frequency_penalty = -0.5f;  // negative: encourages repeats
  const Counts counts = {{0, 3.0f}, {2, 0.125f}};
  std::vector<float> logits = {2.0f, 2.0f, 2.0f};
  ApplyPenalties(params, counts, absl::MakeSpan(logits));
  // t=0: 2 - (1 - 1.5) = 2.5; t=2: 2 - (1 - 0.0625) = 1.0625
  EXPECT_EQ(logits, (std::vector<float>{2.5f, 2.0f, 1.0625f}));
}

TEST(PenaltiesTest, OffByDefaultAndIgnoresOutOfRangeTokens) {
  SamplingParams params;
  EXPECT_FALSE(PenaltiesEnabled(params));
  std::vector<float> logits = {1.0f, -1.0f};
  ApplyPenalties(params, {{0, 5.0f}, {1, 5.0f}}, absl::MakeSpan(logits));
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -1.0f}));

  params.presence_penalty = 1.0f;
  EXPECT_TRUE(PenaltiesEnabled(params));
  ApplyPenalties(params, {{-1, 1.0f}, {2, 1.0f}, {7, 1.0f}, {1, 0.0f}}, absl::MakeSpan(logits));
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -1.0f}));  // zero count, ids outside [0, 2)
}

TEST(PenaltiesTest, DecayThenAddOne) {
  Counts counts;
  UpdatePenaltyCounts(0.5f, 3, &counts);
  EXPECT_EQ(counts, (Counts{{3, 1.0f}}));
  UpdatePenaltyCounts(0.5f, 3, &counts);
  EXPECT_EQ(counts, (Counts{{3, 1.5f}}));
  UpdatePenaltyCounts(0.5f, 5, &counts);
  EXPECT_EQ(counts, (Counts{{3, 0.75f}, {5, 1.0f}}));
  UpdatePenaltyCounts(0.5f, 3, &counts);
  EXPECT_EQ(counts, (Counts{{3, 1.375f}, {5, 0.5f}}));

  // The RWKV default: 1, then 1 * 0.996 + 1, then that * 0.996 + 1.
  Counts rwkv;
  for (int i = 0; i < 3; ++i) UpdatePenaltyCounts(0.996f, 7, &rwkv);
  EXPECT_NEAR(rwkv[7], 1.0 + 0.996 + 0.996 * 0.996, 1e-6);

  // Decay 0 remembers only the last token: other counts are erased.
  UpdatePenaltyCounts(0.0f, 9, &counts);
  EXPECT_EQ(counts, (Counts{{9, 1.0f}}));

  // Decay 1 never forgets.
  Counts forever;
  for (int i = 0; i < 4; ++i) UpdatePenaltyCounts(1.0f, i % 2, &forever);
  EXPECT_EQ(forever, (Counts{{0, 2.0f}, {1, 2.0f}}));
}

TEST(PenaltiesTest, CountsThatUnderflowAreErased) {
  Counts counts = {{1, 1e-45f}};  // the smallest denormal
  UpdatePenaltyCounts(0.25f, 2, &counts);
  EXPECT_EQ(counts, (Counts{{2, 1.0f}}));
}

// Greedy sampling through the Sampler, worked by hand: logits never change
// but penalties with decay 0.5 steer the choice.
//   step 1: no counts: argmax 2.0 -> 1; counts {1: 1}
//   step 2: l1 = 2 - (0.25 + 0.5) = 1.25 < 1.8 -> 2; counts {1: 0.5, 2: 1}
//   step 3: l1 = 2 - 0.5 = 1.5, l2 = 1.8 - 0.75 = 1.05 -> 1; counts {1: 1.25, 2: 0.5}
//   step 4: l1 = 2 - 0.875 = 1.125, l2 = 1.8 - 0.5 = 1.3 -> 2; counts {1: 0.625, 2: 1.25}
//   step 5: l1 = 2 - 0.5625 = 1.4375, l2 = 1.8 - 0.875 = 0.925 -> 1
//           counts {1: 1.3125, 2: 0.625}
TEST(PenaltiesTest, SamplerAppliesPenaltiesWithDecayStepByStep) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.presence_penalty = 0.25f;
  params.frequency_penalty = 0.5f;
  params.penalty_decay = 0.5f;
  absl::StatusOr<Sampler> sampler = Sampler::Create(params, 4);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  const std::vector<float> logits = {0.0f, 2.0f, 1.8f, 1.0f};
  std::vector<int> tokens;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<int> token = sampler->Next(logits);
    ASSERT_TRUE(token.ok()) << token.status();
    tokens.push_back(*token);
  }
  EXPECT_EQ(tokens, (std::vector<int>{1, 2, 1, 2, 1}));
  EXPECT_EQ(sampler->state().counts, (Counts{{1, 1.3125f}, {2, 0.625f}}));
  EXPECT_EQ(sampler->state().position, 5u);
}

//   step 1: argmax 1.5 -> 1
//   step 2: l1 = 1.5 / 2 = 0.75 < 1.0 -> 0
//   step 3: l0 = 0.5, l1 = 0.75 -> 1
//   step 4: l0 = 0.5, l1 = 0.75 -> 1
// and the negative logit -0.5 is never sampled.
TEST(PenaltiesTest, SamplerAppliesRepetitionPenalty) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.repetition_penalty = 2.0f;
  absl::StatusOr<Sampler> sampler = Sampler::Create(params, 3);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  const std::vector<float> logits = {1.0f, 1.5f, -0.5f};
  std::vector<int> tokens;
  tokens.reserve(4);
  for (int i = 0; i < 4; ++i) tokens.push_back(*sampler->Next(logits));
  EXPECT_EQ(tokens, (std::vector<int>{1, 0, 1, 1}));
}

}  // namespace
}  // namespace gander::engine
