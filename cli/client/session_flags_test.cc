#include "cli/client/session_flags.h"

#include <string>
#include <vector>

#include "cli/flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

using ::testing::ElementsAre;

// Parses `args` (after the command name) into a FlagSet with the session
// and sampling flags.
FlagSet Parse(std::vector<std::string> args) {
  FlagSet flags("chat");
  AddSessionFlags(flags);
  AddSamplingFlags(flags);
  args.insert(args.begin(), "chat");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  const absl::Status parsed = flags.Parse(static_cast<int>(argv.size()), argv.data());
  EXPECT_TRUE(parsed.ok()) << parsed;
  return flags;
}

TEST(ParseCheckpointPolicyTest, KnownNames) {
  EXPECT_EQ(*ParseCheckpointPolicy("after-generation"), v1::CHECKPOINT_POLICY_AFTER_GENERATION);
  EXPECT_EQ(*ParseCheckpointPolicy("every-n"), v1::CHECKPOINT_POLICY_EVERY_N_TOKENS);
  EXPECT_EQ(*ParseCheckpointPolicy("on-close"), v1::CHECKPOINT_POLICY_ON_CLOSE);
  EXPECT_EQ(*ParseCheckpointPolicy("on-request"), v1::CHECKPOINT_POLICY_ON_REQUEST);
  EXPECT_EQ(*ParseCheckpointPolicy(""), v1::CHECKPOINT_POLICY_UNSPECIFIED);
  EXPECT_EQ(ParseCheckpointPolicy("always").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseCodecTest, KnownNames) {
  EXPECT_EQ(*ParseCodec("raw"), v1::STATE_CODEC_RAW);
  EXPECT_EQ(*ParseCodec("lossless"), v1::STATE_CODEC_LOSSLESS);
  EXPECT_EQ(*ParseCodec("bf16"), v1::STATE_CODEC_BF16);
  EXPECT_EQ(*ParseCodec("int8"), v1::STATE_CODEC_INT8);
  EXPECT_EQ(*ParseCodec("default"), v1::STATE_CODEC_UNSPECIFIED);
  EXPECT_EQ(ParseCodec("fp8").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseTokenIdsTest, CommaList) {
  EXPECT_THAT(*ParseTokenIds("0, 1,4294967295"), ElementsAre(0u, 1u, 4294967295u));
  EXPECT_TRUE(ParseTokenIds("")->empty());
  EXPECT_EQ(ParseTokenIds("1,,2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTokenIds("-1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTokenIds("4294967296").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SetOpenOptionsFromFlagsTest, Defaults) {
  FlagSet flags = Parse({});
  v1::Open open;
  ASSERT_TRUE(SetOpenOptionsFromFlags(flags, &open).ok());
  EXPECT_EQ(open.seed(), 0u);
  EXPECT_EQ(open.checkpoint_policy(), v1::CHECKPOINT_POLICY_AFTER_GENERATION);
  EXPECT_EQ(open.every_n_tokens(), 0u);
  EXPECT_EQ(open.codec(), v1::STATE_CODEC_UNSPECIFIED);
}

TEST(SetOpenOptionsFromFlagsTest, EveryNNeedsItsInterval) {
  v1::Open open;
  FlagSet ok = Parse({"--checkpoint=every-n", "--every-n-tokens=64", "--seed=18446744073709551615",
                      "--codec=int8"});
  ASSERT_TRUE(SetOpenOptionsFromFlags(ok, &open).ok());
  EXPECT_EQ(open.checkpoint_policy(), v1::CHECKPOINT_POLICY_EVERY_N_TOKENS);
  EXPECT_EQ(open.every_n_tokens(), 64u);
  EXPECT_EQ(open.seed(), 18446744073709551615ull);
  EXPECT_EQ(open.codec(), v1::STATE_CODEC_INT8);
  EXPECT_EQ(SetOpenOptionsFromFlags(Parse({"--checkpoint=every-n"}), &open).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      SetOpenOptionsFromFlags(Parse({"--checkpoint=every-n", "--every-n-tokens=0"}), &open).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetOpenOptionsFromFlags(Parse({"--every-n-tokens=5"}), &open).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SetOpenOptionsFromFlags(Parse({"--seed=-1"}), &open).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SamplingFromFlagsTest, UnsetFlagsLeaveFieldsUnset) {
  absl::StatusOr<v1::SamplingSettings> s = SamplingFromFlags(Parse({}));
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->has_temperature());
  EXPECT_FALSE(s->has_top_k());
  EXPECT_FALSE(s->has_top_p());
  EXPECT_FALSE(s->has_min_p());
  EXPECT_FALSE(s->has_repetition_penalty());
  EXPECT_FALSE(s->has_penalty_decay());
}

TEST(SamplingFromFlagsTest, GivenFlagsAreSet) {
  absl::StatusOr<v1::SamplingSettings> s = SamplingFromFlags(Parse(
      {"--temperature=0", "--top-k=40", "--top-p=0.9", "--min-p=0.05", "--presence-penalty=-0.5",
       "--frequency-penalty=0.25", "--repetition-penalty=1.1", "--penalty-decay=1"}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->has_temperature());
  EXPECT_EQ(s->temperature(), 0.0f);
  EXPECT_EQ(s->top_k(), 40u);
  EXPECT_FLOAT_EQ(s->top_p(), 0.9f);
  EXPECT_FLOAT_EQ(s->min_p(), 0.05f);
  EXPECT_FLOAT_EQ(s->presence_penalty(), -0.5f);
  EXPECT_FLOAT_EQ(s->frequency_penalty(), 0.25f);
  EXPECT_FLOAT_EQ(s->repetition_penalty(), 1.1f);
  EXPECT_FLOAT_EQ(s->penalty_decay(), 1.0f);
}

TEST(SamplingFromFlagsTest, OutOfRangeValuesAreRefused) {
  for (const char* arg :
       {"--temperature=-0.1", "--temperature=nan", "--temperature=inf", "--top-p=0", "--top-p=1.5",
        "--min-p=1", "--repetition-penalty=0", "--penalty-decay=1.01", "--top-k=-1",
        "--presence-penalty=inf", "--frequency-penalty=x"}) {
    absl::StatusOr<v1::SamplingSettings> s = SamplingFromFlags(Parse({arg}));
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << arg;
  }
}

TEST(NamesTest, FinishReasons) {
  EXPECT_STREQ(FinishReasonName(v1::FINISH_REASON_MAX_TOKENS), "max tokens");
  EXPECT_STREQ(FinishReasonName(v1::FINISH_REASON_CANCELLED), "cancelled");
  EXPECT_STREQ(FinishReasonName(v1::FINISH_REASON_STOP_STRING), "stop string");
  EXPECT_STREQ(FinishReasonName(v1::FINISH_REASON_STOP_TOKEN), "stop token");
  EXPECT_STREQ(CheckpointPolicyName(v1::CHECKPOINT_POLICY_ON_CLOSE), "on-close");
}

}  // namespace
}  // namespace gander::cli::client
