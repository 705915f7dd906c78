// Generation is a pure function of (model, inputs, sampling settings, seed):
// a stream restored mid-generation from its serialized bytes (recurrent
// state + sampler state + the sampled token not yet consumed) continues
// with exactly the tokens of the uninterrupted run; a fork with the same
// seed reproduces them and a fork with another seed diverges.
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/sampler/sampler.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

constexpr char kModel[] = "tests/fixtures/rwkv7/tiny_bf16.safetensors";
constexpr int kSteps = 60;

SamplingParams Params(uint64_t seed) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_p = 0.9f;
  params.presence_penalty = 0.3f;
  params.frequency_penalty = 0.3f;
  params.seed = seed;
  return params;
}

// What a checkpoint of a generating stream holds, as bytes.
struct Saved {
  std::string state;    // RecurrentState floats
  std::string sampler;  // SamplerState::Serialize()
  int pending = -1;     // sampled, not yet run through the model
};

class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Model>> model = Model::Load(kModel);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    logits_.resize(model_->config().vocab);
  }

  // Runs the prompt, then samples `steps` tokens; when save_at >= 0, saves
  // the stream just after sampling token number save_at.
  std::vector<int> Generate(uint64_t seed, int steps, int save_at = -1, Saved* saved = nullptr) {
    RecurrentState state = model_->NewState();
    EXPECT_TRUE(model_->Prefill({5, 17, 42, 99, 7}, &state, absl::MakeSpan(logits_)).ok());
    absl::StatusOr<Sampler> sampler = Sampler::Create(Params(seed), model_->config().vocab);
    EXPECT_TRUE(sampler.ok());
    std::vector<int> tokens;
    for (int i = 0; i < steps; ++i) {
      absl::StatusOr<int> token = sampler->Next(logits_);
      EXPECT_TRUE(token.ok());
      tokens.push_back(*token);
      if (i == save_at) {
        const auto bytes = state.bytes();
        saved->state.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        saved->sampler = sampler->state().Serialize();
        saved->pending = *token;
      }
      EXPECT_TRUE(model_->Step(*token, &state, absl::MakeSpan(logits_)).ok());
    }
    return tokens;
  }

  // Rebuilds a stream from `saved` and samples `steps` more tokens.
  std::vector<int> Resume(const Saved& saved, uint64_t seed, int steps) {
    RecurrentState state = model_->NewState();
    EXPECT_EQ(saved.state.size(), state.floats().size() * sizeof(float));
    std::memcpy(state.floats().data(), saved.state.data(), saved.state.size());
    absl::StatusOr<SamplerState> sampler_state = SamplerState::Deserialize(saved.sampler);
    EXPECT_TRUE(sampler_state.ok()) << sampler_state.status();
    absl::StatusOr<Sampler> sampler =
        Sampler::Create(Params(seed), model_->config().vocab, *sampler_state);
    EXPECT_TRUE(sampler.ok());
    EXPECT_TRUE(model_->Step(saved.pending, &state, absl::MakeSpan(logits_)).ok());
    std::vector<int> tokens;
    for (int i = 0; i < steps; ++i) {
      absl::StatusOr<int> token = sampler->Next(logits_);
      EXPECT_TRUE(token.ok());
      tokens.push_back(*token);
      EXPECT_TRUE(model_->Step(*token, &state, absl::MakeSpan(logits_)).ok());
    }
    return tokens;
  }

  std::unique_ptr<Model> model_;
  std::vector<float> logits_;
};

TEST_F(GenerationTest, SameSeedSameTokens) {
  const std::vector<int> a = Generate(11, kSteps);
  EXPECT_EQ(a, Generate(11, kSteps));
  // Sampling, not a constant: the run is not one token repeated.
  EXPECT_GT(std::set<int>(a.begin(), a.end()).size(), 5u);
}

TEST_F(GenerationTest, RestoredMidGenerationContinuesExactly) {
  const std::vector<int> whole = Generate(11, kSteps);
  for (int save_at : {0, 9, 31}) {
    SCOPED_TRACE(save_at);
    Saved saved;
    const std::vector<int> head = Generate(11, save_at + 1, save_at, &saved);
    const std::vector<int> tail = Resume(saved, 11, kSteps - save_at - 1);
    std::vector<int> joined = head;
    joined.insert(joined.end(), tail.begin(), tail.end());
    EXPECT_EQ(joined, whole);
  }
}

TEST_F(GenerationTest, ForkWithSameSeedReproducesAndOtherSeedDiverges) {
  Saved saved;
  Generate(11, 20, 19, &saved);
  const std::vector<int> a = Resume(saved, 11, 30);
  const std::vector<int> b = Resume(saved, 11, 30);
  const std::vector<int> c = Resume(saved, 12, 30);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace gander::engine
