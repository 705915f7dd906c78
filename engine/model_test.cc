// The CPU engine against the independent float64 reference
// (tests/reference/rwkv7_reference.py, fixtures in tests/fixtures/rwkv7/),
// and the three entry points (Step, Prefill, DecodeBatch) against each other.
//
// Accuracy is measured as max|got - want| / std(want) over a whole output
// (logits [V] or a state): it must stay within 1e-5.
#include "engine/model.h"

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/npy.h"
#include "engine/testing/relative_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

constexpr char kFixtures[] = "tests/fixtures/rwkv7/";
constexpr double kTolerance = 1e-5;

std::vector<float> ReadFloats(const std::string& name) {
  absl::StatusOr<NpyArray> array = ReadNpy(kFixtures + name);
  EXPECT_TRUE(array.ok()) << array.status();
  if (!array.ok()) return {};
  auto floats = array->floats();
  return {floats.begin(), floats.end()};
}

std::vector<int> ReadTokens(const std::string& name) {
  absl::StatusOr<NpyArray> array = ReadNpy(kFixtures + name);
  EXPECT_TRUE(array.ok()) << array.status();
  if (!array.ok()) return {};
  auto ints = array->ints();
  return {ints.begin(), ints.end()};
}

// Sizes must match; the metric itself is shared with the CLI's tests.
double RelativeError(absl::Span<const float> got, absl::Span<const float> want) {
  EXPECT_EQ(got.size(), want.size());
  return testing::MaxErrorOverStd(got, want);
}

std::unique_ptr<Model> LoadFixtureModel(const std::string& file, WeightType type) {
  LoadOptions options;
  options.type = type;
  absl::StatusOr<std::unique_ptr<Model>> model = Model::Load(kFixtures + file, options);
  EXPECT_TRUE(model.ok()) << file << ": " << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

struct ModelCase {
  std::string name;  // fixture model name, e.g. "tiny_fp32"
  std::string file;
  WeightType type;
};

void PrintTo(const ModelCase& c, std::ostream* os) {
  *os << c.file << (c.type == WeightType::kF32 ? " as f32" : " as bf16");
}

class ReferenceTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    model_ = LoadFixtureModel(GetParam().file, GetParam().type);
    ASSERT_NE(model_, nullptr);
  }
  std::string Path(const std::string& suffix) const { return GetParam().name + "." + suffix; }
  bool Exists(const std::string& suffix) const { return ReadNpy(kFixtures + Path(suffix)).ok(); }

  std::unique_ptr<Model> model_;
};

// Tokens one at a time through Step, as `gander eval` does.
TEST_P(ReferenceTest, StepMatchesReference) {
  for (const char* length : {"t1", "t100", "t1200"}) {
    SCOPED_TRACE(length);
    const std::vector<int> tokens = ReadTokens(Path(absl::StrCat(length, ".tokens.npy")));
    RecurrentState state = model_->NewState();
    std::vector<float> logits(model_->config().vocab);
    for (int token : tokens) ASSERT_TRUE(model_->Step(token, &state, absl::MakeSpan(logits)).ok());
    EXPECT_LE(RelativeError(logits, ReadFloats(Path(absl::StrCat(length, ".last_logits.npy")))),
              kTolerance);
    const std::string state_file = absl::StrCat(length, ".final_state.npy");
    if (Exists(state_file)) {
      EXPECT_LE(RelativeError(state.floats(), ReadFloats(Path(state_file))), kTolerance);
    }
  }
}

// The whole sequence as one Prefill, with every position's logits.
TEST_P(ReferenceTest, PrefillMatchesReference) {
  const std::vector<int> tokens = ReadTokens(Path("t100.tokens.npy"));
  const std::vector<float> want = ReadFloats(Path("t100.all_logits.npy"));
  const int vocab = model_->config().vocab;
  RecurrentState state = model_->NewState();
  std::vector<float> logits(tokens.size() * vocab);
  ASSERT_TRUE(model_->Prefill(tokens, &state, absl::MakeSpan(logits), /*all_logits=*/true).ok());
  for (size_t t = 0; t < tokens.size(); ++t) {
    SCOPED_TRACE(absl::StrCat("position ", t));
    ASSERT_LE(RelativeError(absl::MakeConstSpan(logits).subspan(t * vocab, vocab),
                            absl::MakeConstSpan(want).subspan(t * vocab, vocab)),
              kTolerance);
  }
  if (Exists("t100.final_state.npy")) {
    EXPECT_LE(RelativeError(state.floats(), ReadFloats(Path("t100.final_state.npy"))), kTolerance);
  }

  const std::vector<int> long_tokens = ReadTokens(Path("t1200.tokens.npy"));
  RecurrentState long_state = model_->NewState();
  std::vector<float> last(vocab);
  ASSERT_TRUE(model_->Prefill(long_tokens, &long_state, absl::MakeSpan(last)).ok());
  EXPECT_LE(RelativeError(last, ReadFloats(Path("t1200.last_logits.npy"))), kTolerance);
  if (Exists("t1200.final_state.npy")) {
    EXPECT_LE(RelativeError(long_state.floats(), ReadFloats(Path("t1200.final_state.npy"))),
              kTolerance);
  }
}

// Four streams of different lengths decoded together: each step batches the
// streams that still have tokens.
TEST_P(ReferenceTest, DecodeBatchMatchesReference) {
  std::vector<std::vector<int>> streams;
  for (int b = 0; b < 4; ++b) {
    streams.push_back(ReadTokens(Path(absl::StrCat("batch.stream", b, ".tokens.npy"))));
  }
  const int vocab = model_->config().vocab;
  std::vector<RecurrentState> states(streams.size(), model_->NewState());
  std::vector<std::vector<float>> last(streams.size(), std::vector<float>(vocab));
  for (size_t pos = 0;; ++pos) {
    std::vector<int> tokens, which;
    std::vector<RecurrentState*> batch;
    for (size_t b = 0; b < streams.size(); ++b) {
      if (pos < streams[b].size()) {
        tokens.push_back(streams[b][pos]);
        batch.push_back(&states[b]);
        which.push_back(static_cast<int>(b));
      }
    }
    if (tokens.empty()) break;
    std::vector<float> logits(tokens.size() * vocab);
    ASSERT_TRUE(model_->DecodeBatch(tokens, batch, absl::MakeSpan(logits)).ok());
    for (size_t i = 0; i < which.size(); ++i) {
      std::copy(logits.begin() + i * vocab, logits.begin() + (i + 1) * vocab,
                last[which[i]].begin());
    }
  }
  const std::vector<float> want = ReadFloats(Path("batch.last_logits.npy"));
  for (size_t b = 0; b < streams.size(); ++b) {
    SCOPED_TRACE(absl::StrCat("stream ", b));
    EXPECT_LE(RelativeError(last[b], absl::MakeConstSpan(want).subspan(b * vocab, vocab)),
              kTolerance);
  }
  if (Exists("batch.final_state.npy")) {
    const std::vector<float> want_states = ReadFloats(Path("batch.final_state.npy"));
    const size_t n = model_->config().StateFloats();
    for (size_t b = 0; b < streams.size(); ++b) {
      SCOPED_TRACE(absl::StrCat("stream ", b));
      EXPECT_LE(
          RelativeError(states[b].floats(), absl::MakeConstSpan(want_states).subspan(b * n, n)),
          kTolerance);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, ReferenceTest,
    ::testing::Values(ModelCase{"tiny_fp32", "tiny_fp32.safetensors", WeightType::kF32},
                      ModelCase{"tiny_bf16", "tiny_bf16.safetensors", WeightType::kBF16},
                      ModelCase{"tiny_bf16", "tiny_bf16.safetensors", WeightType::kF32},
                      ModelCase{"tiny_bf16", "tiny_bf16.pth", WeightType::kBF16}),
    [](const ::testing::TestParamInfo<ModelCase>& info) {
      return absl::StrCat(info.param.name, "_",
                          info.param.file.substr(info.param.file.rfind('.') + 1), "_",
                          info.param.type == WeightType::kF32 ? "f32" : "bf16");
    });

// The same tensors from .pth and .safetensors: identical fingerprint and
// bit-identical logits.
TEST(ModelFormats, PthAndSafetensorsAgreeExactly) {
  auto pth = LoadFixtureModel("tiny_bf16.pth", WeightType::kBF16);
  auto safetensors = LoadFixtureModel("tiny_bf16.safetensors", WeightType::kBF16);
  ASSERT_NE(pth, nullptr);
  ASSERT_NE(safetensors, nullptr);
  EXPECT_EQ(pth->fingerprint(), safetensors->fingerprint());
  EXPECT_FALSE(pth->fingerprint().empty());
  const std::vector<int> tokens = ReadTokens("tiny_bf16.t100.tokens.npy");
  std::vector<float> a(pth->config().vocab), b(a.size());
  RecurrentState sa = pth->NewState(), sb = safetensors->NewState();
  ASSERT_TRUE(pth->Prefill(tokens, &sa, absl::MakeSpan(a)).ok());
  ASSERT_TRUE(safetensors->Prefill(tokens, &sb, absl::MakeSpan(b)).ok());
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::equal(sa.floats().begin(), sa.floats().end(), sb.floats().begin()));
}

class ConsistencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = LoadFixtureModel("tiny_fp32.safetensors", WeightType::kF32);
    ASSERT_NE(model_, nullptr);
    tokens_ = ReadTokens("tiny_fp32.t100.tokens.npy");
  }
  std::unique_ptr<Model> model_;
  std::vector<int> tokens_;
};

// Prefill of T tokens equals T single steps (to float32 rounding).
TEST_F(ConsistencyTest, PrefillEqualsSteps) {
  const int vocab = model_->config().vocab;
  RecurrentState stepped = model_->NewState(), prefilled = model_->NewState();
  std::vector<float> step_logits(vocab), all(tokens_.size() * vocab);
  ASSERT_TRUE(model_->Prefill(tokens_, &prefilled, absl::MakeSpan(all), true).ok());
  for (size_t t = 0; t < tokens_.size(); ++t) {
    ASSERT_TRUE(model_->Step(tokens_[t], &stepped, absl::MakeSpan(step_logits)).ok());
    ASSERT_LE(RelativeError(step_logits, absl::MakeConstSpan(all).subspan(t * vocab, vocab)), 1e-6)
        << "position " << t;
  }
  EXPECT_LE(RelativeError(prefilled.floats(), stepped.floats()), 1e-6);
}

// Prefill in chunks continues exactly where the previous chunk left off.
TEST_F(ConsistencyTest, ChunkedPrefillEqualsWhole) {
  const int vocab = model_->config().vocab;
  RecurrentState whole = model_->NewState(), chunked = model_->NewState();
  std::vector<float> a(vocab), b(vocab);
  ASSERT_TRUE(model_->Prefill(tokens_, &whole, absl::MakeSpan(a)).ok());
  const absl::Span<const int> all(tokens_);
  ASSERT_TRUE(model_->Prefill(all.subspan(0, 37), &chunked, absl::MakeSpan(b)).ok());
  ASSERT_TRUE(model_->Prefill(all.subspan(37, 1), &chunked, absl::MakeSpan(b)).ok());
  ASSERT_TRUE(model_->Prefill(all.subspan(38), &chunked, absl::MakeSpan(b)).ok());
  // Bitwise: every row's arithmetic is the same however the tokens are
  // chunked, so a scheduler may chunk a prefill as it likes.
  EXPECT_EQ(b, a);
  EXPECT_TRUE(std::equal(chunked.floats().begin(), chunked.floats().end(), whole.floats().begin()));
}

// A batch of B streams equals B single-stream decodes, whatever the batch
// neighbours.
TEST_F(ConsistencyTest, BatchEqualsSingles) {
  constexpr int kStreams = 5;
  const int vocab = model_->config().vocab;
  std::vector<RecurrentState> batched(kStreams, model_->NewState());
  std::vector<RecurrentState> single(kStreams, model_->NewState());
  std::vector<RecurrentState*> ptrs;
  for (auto& s : batched) ptrs.push_back(&s);
  std::vector<float> batch_logits(kStreams * vocab), one(vocab);
  for (int step = 0; step < 20; ++step) {
    std::vector<int> tokens(kStreams);
    for (int b = 0; b < kStreams; ++b) tokens[b] = tokens_[(step * 7 + b * 13) % tokens_.size()];
    ASSERT_TRUE(model_->DecodeBatch(tokens, ptrs, absl::MakeSpan(batch_logits)).ok());
    for (int b = 0; b < kStreams; ++b) {
      ASSERT_TRUE(model_->Step(tokens[b], &single[b], absl::MakeSpan(one)).ok());
      ASSERT_LE(RelativeError(one, absl::MakeConstSpan(batch_logits).subspan(b * vocab, vocab)),
                1e-6)
          << "step " << step << " stream " << b;
    }
  }
  for (int b = 0; b < kStreams; ++b) {
    EXPECT_LE(RelativeError(batched[b].floats(), single[b].floats()), 1e-6);
  }
}

// Run mixes prefill chunks and decodes of different streams in one batch;
// each stream's logits and state are bitwise what it gets alone (the
// scheduler's determinism rests on this).
TEST_F(ConsistencyTest, MixedRunIsBitwiseEqualToEachStreamAlone) {
  const int vocab = model_->config().vocab;
  const absl::Span<const int> all(tokens_);
  // Stream 0 prefills 40 tokens, stream 1 decodes one, stream 2 prefills 7.
  const std::vector<absl::Span<const int>> inputs = {all.subspan(0, 40), all.subspan(50, 1),
                                                     all.subspan(60, 7)};
  std::vector<RecurrentState> mixed(3, model_->NewState()), alone(3, model_->NewState());
  // Give the streams different histories first.
  std::vector<float> scratch(vocab);
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i <= s; ++i) {
      ASSERT_TRUE(model_->Step(tokens_[i + 3], &mixed[s], absl::MakeSpan(scratch)).ok());
      ASSERT_TRUE(model_->Step(tokens_[i + 3], &alone[s], absl::MakeSpan(scratch)).ok());
    }
  }
  std::vector<Model::Segment> segments;
  for (int s = 0; s < 3; ++s) segments.push_back({inputs[s], &mixed[s]});
  std::vector<float> mixed_logits(3 * vocab);
  ASSERT_TRUE(model_->Run(segments, absl::MakeSpan(mixed_logits)).ok());
  for (int s = 0; s < 3; ++s) {
    std::vector<float> one(vocab);
    ASSERT_TRUE(model_->Prefill(inputs[s], &alone[s], absl::MakeSpan(one)).ok());
    EXPECT_TRUE(std::equal(one.begin(), one.end(), mixed_logits.begin() + s * vocab))
        << "stream " << s;
    EXPECT_TRUE(
        std::equal(alone[s].floats().begin(), alone[s].floats().end(), mixed[s].floats().begin()))
        << "stream " << s;
  }
  // Bad segments are rejected before anything runs.
  const RecurrentState before = mixed[0];
  std::vector<Model::Segment> bad = {{inputs[0], &mixed[0]}, {{}, &mixed[1]}};
  EXPECT_EQ(model_->Run(bad, absl::MakeSpan(scratch.data(), 2 * vocab)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> two(2 * vocab);
  bad = {{inputs[0], &mixed[0]}, {inputs[1], &mixed[0]}};
  EXPECT_EQ(model_->Run(bad, absl::MakeSpan(two)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      std::equal(before.floats().begin(), before.floats().end(), mixed[0].floats().begin()));
}

TEST_F(ConsistencyTest, BadInputIsRejectedAndStateUntouched) {
  const int vocab = model_->config().vocab;
  RecurrentState state = model_->NewState();
  std::vector<float> logits(vocab);
  ASSERT_TRUE(model_->Prefill({1, 2, 3}, &state, absl::MakeSpan(logits)).ok());
  const RecurrentState before = state;
  auto unchanged = [&] {
    return std::equal(state.floats().begin(), state.floats().end(), before.floats().begin());
  };

  absl::Status s = model_->Step(vocab, &state, absl::MakeSpan(logits));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("outside the vocabulary"));
  EXPECT_EQ(model_->Step(-1, &state, absl::MakeSpan(logits)).code(),
            absl::StatusCode::kInvalidArgument);
  // A bad token late in a prefill must not leave the earlier tokens applied.
  EXPECT_EQ(model_->Prefill({1, 2, vocab + 5}, &state, absl::MakeSpan(logits)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model_->Prefill({}, &state, absl::MakeSpan(logits)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> short_logits(vocab - 1);
  EXPECT_EQ(model_->Step(1, &state, absl::MakeSpan(short_logits)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(unchanged());

  // A state shaped for another model.
  ModelConfig other = model_->config();
  other.layers += 1;
  RecurrentState foreign(other);
  s = model_->Step(1, &foreign, absl::MakeSpan(logits));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("another model"));

  // The same state twice in one batch.
  std::vector<RecurrentState*> twice = {&state, &state};
  std::vector<float> two(2 * vocab);
  EXPECT_EQ(model_->DecodeBatch({1, 2}, twice, absl::MakeSpan(two)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(unchanged());
}

}  // namespace
}  // namespace gander::engine
