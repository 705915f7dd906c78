// The device forward program (the sequence the CUDA backend runs), executed
// with CPU loops over "device" buffers and slots, against the CPU Model:
// mixed prefill/decode batches over several passes, with slot eviction.
// Agreement is to float32 rounding (not bitwise: the loops sum in other
// orders than the Model's kernels).
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/device/device_backend.h"
#include "engine/device/host_forward_ops.h"
#include "engine/model.h"
#include "engine/testing/random_weights.h"
#include "engine/testing/relative_error.h"
#include "gtest/gtest.h"

namespace gander::engine::device {
namespace {

using ::gander::engine::testing::MaxErrorOverStd;

constexpr double kTolerance = 1e-5;

ModelWeights Weights(int layers, int embd, int vocab, uint64_t seed) {
  RandomModelSpec spec;
  spec.layers = layers;
  spec.embd = embd;
  spec.head_size = 32;
  spec.vocab = vocab;
  spec.seed = seed;
  absl::StatusOr<ModelWeights> weights =
      testing::RandomFp32Weights(spec, absl::StrCat("forward_program_", seed));
  EXPECT_TRUE(weights.ok()) << weights.status();
  return weights.ok() ? *std::move(weights) : ModelWeights();
}

TEST(ForwardProgramTest, MatchesTheCpuModelOverMixedBatches) {
  const ModelWeights weights = Weights(/*layers=*/3, /*embd=*/64, /*vocab=*/80, /*seed=*/5);
  auto model = Model::Create(weights, /*threads=*/1);
  ASSERT_TRUE(model.ok()) << model.status();
  auto executor = HostForwardExecutor::Create(weights, /*slots=*/3, /*max_rows=*/7);
  ASSERT_TRUE(executor.ok()) << executor.status();
  DeviceBackend backend(*std::move(executor), weights.fingerprint, "host", "fp32");

  constexpr int kStreams = 5;
  const int V = weights.config.vocab;
  std::vector<RecurrentState> dev(kStreams, (*model)->NewState());
  std::vector<RecurrentState> cpu(kStreams, (*model)->NewState());
  std::mt19937 rng(17);
  for (int step = 0; step < 60; ++step) {
    std::vector<int> order(kStreams);
    for (int i = 0; i < kStreams; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    const int batch = 1 + rng() % 3;
    std::vector<std::vector<int>> tokens(batch);
    std::vector<Backend::Segment> ds, cs;
    for (int b = 0; b < batch; ++b) {
      const int length = step % 5 == 0 ? 1 + rng() % 15 : 1;
      for (int t = 0; t < length; ++t) tokens[b].push_back(rng() % V);
      ds.push_back({tokens[b], &dev[order[b]]});
      cs.push_back({tokens[b], &cpu[order[b]]});
    }
    std::vector<float> dl(batch * V), cl(batch * V);
    ASSERT_TRUE(backend.Run(ds, absl::MakeSpan(dl)).ok());
    ASSERT_TRUE((*model)->Run(cs, absl::MakeSpan(cl)).ok());
    for (int b = 0; b < batch; ++b) {
      ASSERT_LE(MaxErrorOverStd(absl::MakeConstSpan(dl).subspan(b * V, V),
                                absl::MakeConstSpan(cl).subspan(b * V, V)),
                kTolerance)
          << "step " << step << " segment " << b;
    }
  }
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_TRUE(backend.Release(&dev[s]).ok());
    EXPECT_LE(MaxErrorOverStd(dev[s].floats(), cpu[s].floats()), kTolerance) << "stream " << s;
  }
}

TEST(ForwardProgramTest, RefusesNonFp32Weights) {
  ModelWeights weights = Weights(1, 64, 16, 6);
  weights.type = WeightType::kBF16;
  EXPECT_EQ(HostForwardExecutor::Create(weights, 1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gander::engine::device
