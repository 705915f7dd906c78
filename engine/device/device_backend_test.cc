// DeviceBackend over HostExecutor (the CPU Model behind the executor
// interface) against the CPU Model run directly: slot placement, eviction
// write-back, chunking into passes, Sync/Release and failure handling must
// give bitwise the Model's logits and states.
#include "engine/device/device_backend.h"

#include <memory>
#include <random>
#include <vector>

#include "absl/synchronization/notification.h"
#include "engine/device/host_executor.h"
#include "engine/model.h"
#include "engine/scheduler/scheduler.h"
#include "engine/testing/random_weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::device {
namespace {

constexpr int kVocab = 96;

class DeviceBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    RandomModelSpec spec;
    spec.layers = 2;
    spec.embd = 64;
    spec.head_size = 32;
    spec.vocab = kVocab;
    spec.seed = 7;
    absl::StatusOr<ModelWeights> weights = testing::RandomFp32Weights(spec, "device_backend");
    ASSERT_TRUE(weights.ok()) << weights.status();
    auto model = Model::Create(*std::move(weights), /*threads=*/1);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = model->release();
  }

  // A backend of `slots` slots and passes of at most `max_rows` rows; its
  // executor stays reachable through executor_.
  std::unique_ptr<DeviceBackend> MakeBackend(int slots, int max_rows) {
    auto executor = std::make_unique<HostExecutor>(model_, slots, max_rows);
    executor_ = executor.get();
    return std::make_unique<DeviceBackend>(std::move(executor), model_->fingerprint(), "host",
                                           "fp32");
  }

  static bool SameFloats(absl::Span<const float> a, absl::Span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  }

  static Model* model_;
  HostExecutor* executor_ = nullptr;
};

Model* DeviceBackendTest::model_ = nullptr;

// Random batches over 8 streams with 3 slots and passes of 5 rows: streams
// are evicted and reloaded, long segments are cut across passes, some
// streams are synced or released in between. Logits and states stay bitwise
// those of the Model run directly on twin states.
TEST_F(DeviceBackendTest, RandomBatchesMatchTheModelBitwise) {
  auto backend = MakeBackend(/*slots=*/3, /*max_rows=*/5);
  constexpr int kStreams = 8;
  std::vector<RecurrentState> states(kStreams, model_->NewState());
  std::vector<RecurrentState> twins(kStreams, model_->NewState());
  std::mt19937 rng(3);
  int runs = 0, syncs = 0, releases = 0;
  for (int step = 0; step < 150; ++step) {
    std::vector<int> order(kStreams);
    for (int i = 0; i < kStreams; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    const int batch = 1 + rng() % 3;
    std::vector<std::vector<int>> tokens(batch);
    std::vector<Backend::Segment> segments, twin_segments;
    for (int b = 0; b < batch; ++b) {
      const int length = (rng() % 4 == 0) ? 1 + rng() % 12 : 1;
      for (int t = 0; t < length; ++t) tokens[b].push_back(rng() % kVocab);
    }
    for (int b = 0; b < batch; ++b) {
      segments.push_back({tokens[b], &states[order[b]]});
      twin_segments.push_back({tokens[b], &twins[order[b]]});
    }
    std::vector<float> logits(batch * kVocab), expected(batch * kVocab);
    ASSERT_TRUE(backend->Run(segments, absl::MakeSpan(logits)).ok());
    ASSERT_TRUE(model_->Run(twin_segments, absl::MakeSpan(expected)).ok());
    ASSERT_TRUE(SameFloats(logits, expected)) << "step " << step;
    ++runs;
    const int pick = order[rng() % kStreams];
    switch (rng() % 6) {
      case 0:
        ASSERT_TRUE(backend->Sync(&states[pick]).ok());
        ASSERT_TRUE(SameFloats(states[pick].floats(), twins[pick].floats())) << "step " << step;
        ++syncs;
        break;
      case 1:
        ASSERT_TRUE(backend->Release(&states[pick]).ok());
        ASSERT_TRUE(SameFloats(states[pick].floats(), twins[pick].floats())) << "step " << step;
        ++releases;
        break;
      default:
        break;
    }
    ASSERT_LE(backend->resident(), 3);
  }
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(backend->Release(&states[i]).ok());
    EXPECT_TRUE(SameFloats(states[i].floats(), twins[i].floats())) << "stream " << i;
  }
  EXPECT_EQ(backend->resident(), 0);
  EXPECT_GT(executor_->stores(), 10);    // evictions and syncs copied states out
  EXPECT_GT(executor_->passes(), runs);  // some batches needed several passes
  EXPECT_GT(syncs + releases, 10);
}

TEST_F(DeviceBackendTest, BadArgumentsTouchNothing) {
  auto backend = MakeBackend(2, 8);
  RecurrentState a = model_->NewState();
  std::vector<int> bad = {kVocab};
  std::vector<float> logits(kVocab);
  std::vector<Backend::Segment> segments = {{bad, &a}};
  EXPECT_EQ(backend->Run(segments, absl::MakeSpan(logits)).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<int> ok = {1};
  std::vector<float> short_logits(kVocab - 1);
  segments = {{ok, &a}};
  EXPECT_EQ(backend->Run(segments, absl::MakeSpan(short_logits)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(executor_->loads(), 0);
  EXPECT_EQ(backend->resident(), 0);
}

TEST_F(DeviceBackendTest, MoreStreamsThanSlotsIsResourceExhausted) {
  auto backend = MakeBackend(2, 8);
  std::vector<RecurrentState> states(3, model_->NewState());
  std::vector<int> token = {1};
  std::vector<Backend::Segment> segments;
  for (auto& s : states) segments.push_back({token, &s});
  std::vector<float> logits(3 * kVocab);
  EXPECT_EQ(backend->Run(segments, absl::MakeSpan(logits)).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(backend->resident(), 0);
  for (auto& s : states) EXPECT_TRUE(backend->Release(&s).ok());
}

// A failed pass loses the stream whose newest state was on the device
// (DATA_LOSS on Release, Run refuses it until released) and keeps the one
// that had only just been loaded (its host state is unchanged).
TEST_F(DeviceBackendTest, FailedForwardLosesOnlyDeviceOnlyStates) {
  auto backend = MakeBackend(4, 8);
  RecurrentState warm = model_->NewState(), fresh = model_->NewState();
  std::vector<int> prompt = {3, 4, 5};
  std::vector<float> logits(kVocab), logits2(2 * kVocab);
  std::vector<Backend::Segment> first = {{prompt, &warm}};
  ASSERT_TRUE(backend->Run(first, absl::MakeSpan(logits)).ok());
  const RecurrentState fresh_before = fresh;

  executor_->FailForwardAt(1);
  std::vector<int> one = {7};
  std::vector<Backend::Segment> both = {{one, &warm}, {one, &fresh}};
  const absl::Status failed = backend->Run(both, absl::MakeSpan(logits2));
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(backend->Run(first, absl::MakeSpan(logits)).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(backend->Sync(&warm).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(backend->Release(&warm).code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(backend->Release(&fresh).ok());
  EXPECT_TRUE(SameFloats(fresh.floats(), fresh_before.floats()));
  EXPECT_EQ(backend->resident(), 0);

  // Released, the lost stream's object can start over from a restored state.
  RecurrentState restored = model_->NewState();
  warm = restored;
  ASSERT_TRUE(backend->Run(first, absl::MakeSpan(logits)).ok());
  RecurrentState twin = model_->NewState();
  std::vector<float> expected(kVocab);
  std::vector<Backend::Segment> twin_first = {{prompt, &twin}};
  ASSERT_TRUE(model_->Run(twin_first, absl::MakeSpan(expected)).ok());
  EXPECT_TRUE(SameFloats(logits, expected));
  EXPECT_TRUE(backend->Release(&warm).ok());
}

TEST_F(DeviceBackendTest, FailedLoadKeepsHostStates) {
  auto backend = MakeBackend(2, 8);
  RecurrentState a = model_->NewState();
  const RecurrentState before = a;
  executor_->FailLoadAt(1);
  std::vector<int> prompt = {1, 2};
  std::vector<float> logits(kVocab);
  std::vector<Backend::Segment> segments = {{prompt, &a}};
  EXPECT_EQ(backend->Run(segments, absl::MakeSpan(logits)).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(backend->resident(), 0);
  EXPECT_TRUE(backend->Release(&a).ok());
  EXPECT_TRUE(SameFloats(a.floats(), before.floats()));
  EXPECT_TRUE(backend->Run(segments, absl::MakeSpan(logits)).ok());
  EXPECT_TRUE(backend->Release(&a).ok());
}

TEST_F(DeviceBackendTest, FailedEvictionLosesTheEvictedStream) {
  auto backend = MakeBackend(1, 8);
  RecurrentState a = model_->NewState(), b = model_->NewState();
  std::vector<int> prompt = {1, 2};
  std::vector<float> logits(kVocab);
  std::vector<Backend::Segment> run_a = {{prompt, &a}}, run_b = {{prompt, &b}};
  ASSERT_TRUE(backend->Run(run_a, absl::MakeSpan(logits)).ok());
  executor_->FailStoreAt(1);  // a's write-back when b takes the only slot
  EXPECT_EQ(backend->Run(run_b, absl::MakeSpan(logits)).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(backend->Release(&a).code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(backend->Release(&b).ok());
}

// The scheduler over DeviceBackend (2 slots, so 4 streams evict each other
// between steps; generation ends release the states) gives every stream
// the tokens the scheduler over the CPU Model gives it.
TEST_F(DeviceBackendTest, SchedulerOverDeviceBackendMatchesCpu) {
  auto run_all = [&](Backend* backend) {
    SchedulerOptions options;
    options.max_running = 2;
    options.max_queued = 8;
    options.prefill_chunk = 8;
    options.max_step_tokens = 12;
    auto scheduler = Scheduler::Create(backend, nullptr, options);
    EXPECT_TRUE(scheduler.ok()) << scheduler.status();
    constexpr int kStreams = 4;
    std::vector<StreamContext> contexts(kStreams);
    std::vector<std::vector<int>> out(kStreams);
    std::vector<absl::Notification> done(kStreams);
    std::vector<absl::Status> status(kStreams);
    for (int round = 0; round < 2; ++round) {
      std::vector<absl::Notification> round_done(kStreams);
      for (int s = 0; s < kStreams; ++s) {
        if (round == 0) {
          contexts[s].state = model_->NewState();
          for (int t = 0; t < 5 + 7 * s; ++t) contexts[s].pending.push_back(1 + (t * 13 + s) % 90);
        }
        GenerationRequest request;
        request.context = &contexts[s];
        request.params.max_tokens = 6;
        request.params.temperature = 0;
        request.on_token = [&out, s](TokenEvent e) { out[s].push_back(e.token); };
        request.on_done = [&round_done, &status, s](GenerationResult r) {
          status[s] = r.status;
          round_done[s].Notify();
        };
        EXPECT_TRUE((*scheduler)->Submit(std::move(request)).ok());
      }
      for (auto& n : round_done) n.WaitForNotification();
      for (auto& st : status) EXPECT_TRUE(st.ok()) << st;
    }
    std::vector<std::vector<float>> final_states;
    for (auto& c : contexts)
      final_states.emplace_back(c.state.floats().begin(), c.state.floats().end());
    return std::make_pair(out, final_states);
  };
  auto backend = MakeBackend(/*slots=*/2, /*max_rows=*/12);
  const auto device = run_all(backend.get());
  const auto cpu = run_all(model_);
  EXPECT_EQ(device.first, cpu.first);
  EXPECT_TRUE(device.second == cpu.second);  // released states are the host's again
  EXPECT_EQ(backend->resident(), 0);
}

// A state the backend cannot hand back fails its generation with INTERNAL
// (the context must not be checkpointed) instead of returning a stale state
// as if it were current.
TEST_F(DeviceBackendTest, SchedulerReportsAStateThatCannotBeTakenBack) {
  auto backend = MakeBackend(/*slots=*/2, /*max_rows=*/16);
  SchedulerOptions options;
  options.max_running = 2;
  options.prefill_chunk = 8;
  options.max_step_tokens = 12;
  auto scheduler = Scheduler::Create(backend.get(), nullptr, options);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  StreamContext context;
  context.state = model_->NewState();
  context.pending = {1, 2, 3};
  executor_->FailStoreAt(1);  // the copy-back at the generation's end
  absl::Notification done;
  GenerationResult result;
  GenerationRequest request;
  request.context = &context;
  request.params.max_tokens = 3;
  request.params.temperature = 0;
  request.on_token = [](TokenEvent) {};
  request.on_done = [&](GenerationResult r) {
    result = std::move(r);
    done.Notify();
  };
  ASSERT_TRUE((*scheduler)->Submit(std::move(request)).ok());
  done.WaitForNotification();
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status.message(), ::testing::HasSubstr("could not be taken back"));
  EXPECT_EQ(backend->resident(), 0);
}

}  // namespace
}  // namespace gander::engine::device
