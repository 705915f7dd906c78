#include "engine/sampler/sampling_params.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

constexpr int kVocab = 100;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(SamplingParamsTest, DefaultsAreValidAndDocumented) {
  SamplingParams params;
  EXPECT_TRUE(params.Validate(kVocab).ok());
  EXPECT_EQ(params.temperature, 1.0f);
  EXPECT_EQ(params.top_k, 0);
  EXPECT_EQ(params.top_p, 1.0f);
  EXPECT_EQ(params.min_p, 0.0f);
  EXPECT_EQ(params.presence_penalty, 0.0f);
  EXPECT_EQ(params.frequency_penalty, 0.0f);
  EXPECT_EQ(params.repetition_penalty, 1.0f);
  EXPECT_EQ(params.penalty_decay, 0.996f);
  EXPECT_EQ(params.max_tokens, 0);
}

TEST(SamplingParamsTest, EdgesOfRangesAreValid) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.top_k = 1000000;
  params.top_p = 1e-6f;
  params.min_p = 0.999f;
  params.presence_penalty = -2.0f;
  params.frequency_penalty = 2.0f;
  params.repetition_penalty = 1e-3f;
  params.penalty_decay = 0.0f;
  params.max_tokens = 1;
  params.stop_token_ids = {0, kVocab - 1};
  params.stop_strings = {"x", std::string(kMaxStopStringBytes, 'y')};
  EXPECT_TRUE(params.Validate(kVocab).ok());
  params.penalty_decay = 1.0f;
  params.stop_strings.assign(kMaxStopStrings, "z");
  EXPECT_TRUE(params.Validate(kVocab).ok());
}

struct BadCase {
  std::string field;  // the message must start with this
  std::function<void(SamplingParams&)> break_it;
};

TEST(SamplingParamsTest, OutOfRangeNamesTheField) {
  const std::vector<BadCase> cases = {
      {"temperature", [](SamplingParams& p) { p.temperature = -0.1f; }},
      {"temperature", [](SamplingParams& p) { p.temperature = kNaN; }},
      {"temperature", [](SamplingParams& p) { p.temperature = kInf; }},
      {"top_k", [](SamplingParams& p) { p.top_k = -1; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 0.0f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = 1.5f; }},
      {"top_p", [](SamplingParams& p) { p.top_p = kNaN; }},
      {"min_p", [](SamplingParams& p) { p.min_p = -0.1f; }},
      {"min_p", [](SamplingParams& p) { p.min_p = 1.0f; }},
      {"min_p", [](SamplingParams& p) { p.min_p = kNaN; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = kNaN; }},
      {"presence_penalty", [](SamplingParams& p) { p.presence_penalty = -kInf; }},
      {"frequency_penalty", [](SamplingParams& p) { p.frequency_penalty = kInf; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = 0.0f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = -1.0f; }},
      {"repetition_penalty", [](SamplingParams& p) { p.repetition_penalty = kNaN; }},
      {"penalty_decay", [](SamplingParams& p) { p.penalty_decay = 1.01f; }},
      {"penalty_decay", [](SamplingParams& p) { p.penalty_decay = -0.5f; }},
      {"penalty_decay", [](SamplingParams& p) { p.penalty_decay = kNaN; }},
      {"max_tokens", [](SamplingParams& p) { p.max_tokens = -1; }},
      {"stop_token_ids[1]",
       [](SamplingParams& p) {
         p.stop_token_ids = {3, kVocab};
       }},
      {"stop_token_ids[0]", [](SamplingParams& p) { p.stop_token_ids = {-1}; }},
      {"stop_strings[1]",
       [](SamplingParams& p) {
         p.stop_strings = {"ok", ""};
       }},
      {"stop_strings[0]",
       [](SamplingParams& p) { p.stop_strings = {std::string(kMaxStopStringBytes + 1, 'a')}; }},
      {"stop_strings:", [](SamplingParams& p) { p.stop_strings.assign(kMaxStopStrings + 1, "a"); }},
  };
  for (const BadCase& c : cases) {
    SamplingParams params;
    c.break_it(params);
    const absl::Status status = params.Validate(kVocab);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_TRUE(absl::StartsWith(status.message(), c.field)) << status.message();
  }
}

TEST(SamplingParamsTest, VocabSizeMustBePositive) {
  const absl::Status status = SamplingParams().Validate(0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "vocab_size")) << status.message();
}

}  // namespace
}  // namespace gander::engine
