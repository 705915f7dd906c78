// The CUDA backend against the CPU Model (the engine's oracle) on random
// models: one token, prefill, mixed batches with eviction and graph replay,
// 1,024-token prompts over several passes, and greedy decoding of a
// 0.1B-shaped model. fp32 weights agree to 1e-4 (max error over the std of
// the reference), fp16 weights to 1e-2. Without a GPU the GPU cases skip
// and the no-device error path is checked instead.
#include "engine/cuda/cuda_backend.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model.h"
#include "engine/testing/random_weights.h"
#include "engine/testing/relative_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::cuda {
namespace {

using ::gander::engine::testing::MaxErrorOverStd;
using ::testing::HasSubstr;

ModelWeights RandomWeights(const RandomModelSpec& spec, const std::string& name) {
  absl::StatusOr<ModelWeights> weights = testing::RandomFp32Weights(spec, name);
  EXPECT_TRUE(weights.ok()) << weights.status();
  return weights.ok() ? *std::move(weights) : ModelWeights();
}

RandomModelSpec SmallSpec() {
  RandomModelSpec spec;
  spec.layers = 3;
  spec.embd = 128;
  spec.head_size = 64;
  spec.vocab = 300;
  spec.seed = 21;
  return spec;
}

TEST(CudaBackendSetup, OptionsAreCheckedFirst) {
  RandomModelSpec spec = SmallSpec();
  spec.head_size = 32;
  const ModelWeights odd = RandomWeights(spec, "cuda_head32");
  EXPECT_EQ(CreateCudaBackend(odd, {}).status().code(), absl::StatusCode::kInvalidArgument);
  const ModelWeights weights = RandomWeights(SmallSpec(), "cuda_options");
  CudaBackendOptions options;
  options.slots = 0;
  EXPECT_EQ(CreateCudaBackend(weights, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CudaBackendSetup, NoDeviceIsAPreciseError) {
  if (CudaDeviceAvailable().ok()) GTEST_SKIP() << "a CUDA device is present";
  const ModelWeights weights = RandomWeights(SmallSpec(), "cuda_nodevice");
  absl::StatusOr<std::unique_ptr<Backend>> backend = CreateCudaBackend(weights, {});
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr("cudaGetDeviceCount"));
  EXPECT_THAT(backend.status().message(), HasSubstr("cudaError"));
}

struct Case {
  CudaWeightType type;
  double tolerance;
};

class CudaBackendTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (absl::Status s = CudaDeviceAvailable(); !s.ok()) {
      GTEST_SKIP() << "skipped: no CUDA device (" << s.message() << ")";
    }
    weights_ = RandomWeights(SmallSpec(), "cuda_small");
    auto model = Model::Create(weights_, /*threads=*/0);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
  }

  std::unique_ptr<Backend> MakeBackend(int slots, int max_rows) {
    CudaBackendOptions options;
    options.weight_type = GetParam().type;
    options.slots = slots;
    options.max_rows = max_rows;
    options.graph_capture_after = 2;
    absl::StatusOr<std::unique_ptr<Backend>> backend = CreateCudaBackend(weights_, options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? *std::move(backend) : nullptr;
  }

  // Runs the same batch on the GPU and the CPU; expects logits to agree.
  void RunBoth(Backend* gpu, const std::vector<std::vector<int>>& tokens,
               std::vector<RecurrentState*> gpu_states, std::vector<RecurrentState*> cpu_states,
               const std::string& what) {
    const int V = model_->config().vocab;
    std::vector<Backend::Segment> g, c;
    for (size_t s = 0; s < tokens.size(); ++s) {
      g.push_back({tokens[s], gpu_states[s]});
      c.push_back({tokens[s], cpu_states[s]});
    }
    std::vector<float> gl(tokens.size() * V), cl(tokens.size() * V);
    ASSERT_TRUE(gpu->Run(g, absl::MakeSpan(gl)).ok()) << what;
    ASSERT_TRUE(model_->Run(c, absl::MakeSpan(cl)).ok()) << what;
    for (size_t s = 0; s < tokens.size(); ++s) {
      const double err = MaxErrorOverStd(absl::MakeConstSpan(gl).subspan(s * V, V),
                                         absl::MakeConstSpan(cl).subspan(s * V, V));
      EXPECT_LE(err, GetParam().tolerance) << what << ", segment " << s;
    }
  }

  void ExpectSameState(Backend* gpu, RecurrentState* gpu_state, const RecurrentState& cpu_state,
                       const std::string& what) {
    ASSERT_TRUE(gpu->Release(gpu_state).ok()) << what;
    EXPECT_LE(MaxErrorOverStd(gpu_state->floats(), cpu_state.floats()), GetParam().tolerance)
        << what;
  }

  ModelWeights weights_;
  std::unique_ptr<Model> model_;
};

TEST_P(CudaBackendTest, OneTokenAndPrefill) {
  auto gpu = MakeBackend(4, 64);
  ASSERT_NE(gpu, nullptr);
  RecurrentState a = model_->NewState(), ca = model_->NewState();
  RunBoth(gpu.get(), {{17}}, {&a}, {&ca}, "T=1");
  std::vector<int> prompt;
  for (int t = 0; t < 50; ++t) prompt.push_back((t * 31 + 7) % 300);
  RunBoth(gpu.get(), {prompt}, {&a}, {&ca}, "T=50");
  ExpectSameState(gpu.get(), &a, ca, "state after T=1 + T=50");
}

// 6 streams over 3 slots: mixed prefill and decode batches, eviction and
// reload, repeated decode sizes (graph capture, then replay).
TEST_P(CudaBackendTest, MixedBatchesWithEvictionAndGraphs) {
  auto gpu = MakeBackend(/*slots=*/3, /*max_rows=*/40);
  ASSERT_NE(gpu, nullptr);
  constexpr int kStreams = 6;
  std::vector<RecurrentState> g(kStreams, model_->NewState()), c(kStreams, model_->NewState());
  std::mt19937 rng(9);
  for (int step = 0; step < 40; ++step) {
    const int first = (step / 8) % kStreams;  // a group of 3 streams for 8 steps
    std::vector<std::vector<int>> tokens;
    std::vector<RecurrentState*> gs, cs;
    for (int i = 0; i < 3; ++i) {
      const int s = (first + i * 2) % kStreams;
      std::vector<int> seg;
      const int length = step % 8 == 0 ? 1 + rng() % 30 : 1;  // prefill, then decode
      for (int t = 0; t < length; ++t) seg.push_back(rng() % 300);
      tokens.push_back(seg);
      gs.push_back(&g[s]);
      cs.push_back(&c[s]);
    }
    RunBoth(gpu.get(), tokens, gs, cs, absl::StrCat("step ", step));
  }
  for (int s = 0; s < kStreams; ++s) {
    ExpectSameState(gpu.get(), &g[s], c[s], absl::StrCat("stream ", s));
  }
}

// A 1,024-token prompt runs as passes of 256 rows; the state after it and
// 16 decode steps matches.
TEST_P(CudaBackendTest, LongPromptOverSeveralPasses) {
  auto gpu = MakeBackend(2, 256);
  ASSERT_NE(gpu, nullptr);
  RecurrentState a = model_->NewState(), ca = model_->NewState();
  std::vector<int> prompt;
  for (int t = 0; t < 1024; ++t) prompt.push_back((t * 131 + 5) % 300);
  RunBoth(gpu.get(), {prompt}, {&a}, {&ca}, "T=1024");
  for (int i = 0; i < 16; ++i) RunBoth(gpu.get(), {{i * 3 % 300}}, {&a}, {&ca}, "decode");
  ExpectSameState(gpu.get(), &a, ca, "state after 1,040 tokens");
}

INSTANTIATE_TEST_SUITE_P(Weights, CudaBackendTest,
                         ::testing::Values(Case{CudaWeightType::kF32, 1e-4},
                                           Case{CudaWeightType::kF16, 1e-2}),
                         [](const auto& info) {
                           return info.param.type == CudaWeightType::kF32 ? "fp32" : "fp16";
                         });

// Greedy decoding of a random model shaped like the released 0.1B (L=12,
// C=768, V=65536) in fp32 gives the CPU's tokens for 256 steps.
TEST(CudaBackendGreedy, RandomPointOneBMatchesCpuFor256Steps) {
  if (absl::Status s = CudaDeviceAvailable(); !s.ok()) {
    GTEST_SKIP() << "skipped: no CUDA device (" << s.message() << ")";
  }
  RandomModelSpec spec;
  spec.layers = 12;
  spec.embd = 768;
  spec.vocab = 65536;
  spec.seed = 1;
  const ModelWeights weights = RandomWeights(spec, "cuda_0.1b");
  auto model = Model::Create(weights, 0);
  ASSERT_TRUE(model.ok());
  CudaBackendOptions options;
  options.weight_type = CudaWeightType::kF32;
  options.slots = 1;
  options.max_rows = 64;
  auto gpu = CreateCudaBackend(weights, options);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  const int V = spec.vocab;
  RecurrentState g = (*model)->NewState(), c = (*model)->NewState();
  std::vector<float> gl(V), cl(V);
  std::vector<int> gt = {0}, ct = {0};
  for (int step = 0; step < 256; ++step) {
    std::vector<Backend::Segment> gs = {{gt, &g}}, cs = {{ct, &c}};
    ASSERT_TRUE((*gpu)->Run(gs, absl::MakeSpan(gl)).ok());
    ASSERT_TRUE((*model)->Run(cs, absl::MakeSpan(cl)).ok());
    const int gnext = std::max_element(gl.begin(), gl.end()) - gl.begin();
    const int cnext = std::max_element(cl.begin(), cl.end()) - cl.begin();
    std::vector<float> sorted = cl;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
    ASSERT_EQ(gnext, cnext) << "step " << step << "; the CPU's top-2 logit gap is "
                            << sorted[0] - sorted[1];
    gt = {gnext};
    ct = {cnext};
  }
  EXPECT_TRUE((*gpu)->Release(&g).ok());
}

}  // namespace
}  // namespace gander::engine::cuda
