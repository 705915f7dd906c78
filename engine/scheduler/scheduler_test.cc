#include "engine/scheduler/scheduler.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "engine/model.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/random_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

constexpr int kVocab = 128;

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/scheduler_test_model.safetensors");
    RandomModelSpec spec;
    spec.layers = 2;
    spec.embd = 64;
    spec.head_size = 32;
    spec.vocab = kVocab;
    spec.seed = 11;
    ASSERT_TRUE(WriteRandomModel(spec, path, TensorFormat::kSafetensors, FileDtype::kF32).ok());
    LoadOptions options;
    options.type = WeightType::kF32;
    auto model = Model::Load(path, options, /*threads=*/1);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = model->release();
    // One ASCII character per id 1..127.
    std::string vocab;
    for (int id = 1; id < kVocab; ++id) absl::StrAppendFormat(&vocab, "%d b'\\x%02x' 1\n", id, id);
    auto tokenizer = Tokenizer::FromString(vocab);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = new Tokenizer(*std::move(tokenizer));
  }

  StreamContext NewContext(std::vector<int> input) {
    StreamContext context;
    context.state = model_->NewState();
    context.pending = std::move(input);
    return context;
  }

  // The tokens a stream generates alone, with the plain serial loop.
  std::vector<int> Serial(const std::vector<int>& prompt, const SamplingParams& params) {
    RecurrentState state = model_->NewState();
    std::vector<float> logits(kVocab);
    EXPECT_TRUE(model_->Prefill(prompt, &state, absl::MakeSpan(logits)).ok());
    auto sampler = Sampler::Create(params, kVocab);
    std::vector<int> out;
    for (int i = 0; i < params.max_tokens; ++i) {
      const int token = *sampler->Next(logits);
      out.push_back(token);
      if (i + 1 < params.max_tokens) {
        EXPECT_TRUE(model_->Step(token, &state, absl::MakeSpan(logits)).ok());
      }
    }
    return out;
  }

  static std::vector<int> Prompt(int length, int salt) {
    std::vector<int> tokens;
    for (int i = 0; i < length; ++i) tokens.push_back(1 + (i * 37 + salt * 11) % (kVocab - 1));
    return tokens;
  }

  // Runs one generation to its end; returns the tokens.
  struct Outcome {
    std::vector<int> tokens;
    std::string text;
    GenerationResult result;
  };
  struct Pending {
    Outcome outcome;
    absl::Notification done;
  };
  static GenerationRequest Request(StreamContext* context, const SamplingParams& params,
                                   Pending* pending) {
    GenerationRequest request;
    request.context = context;
    request.params = params;
    request.on_token = [pending](TokenEvent event) {
      pending->outcome.tokens.push_back(event.token);
      pending->outcome.text += event.text;
    };
    request.on_done = [pending](GenerationResult result) {
      pending->outcome.result = std::move(result);
      pending->done.Notify();
    };
    return request;
  }

  static Model* model_;
  static Tokenizer* tokenizer_;
};

Model* SchedulerTest::model_ = nullptr;
Tokenizer* SchedulerTest::tokenizer_ = nullptr;

SchedulerOptions SmallOptions() {
  SchedulerOptions options;
  options.max_running = 4;
  options.max_queued = 8;
  options.prefill_chunk = 16;
  options.max_step_tokens = 24;
  return options;
}

// Concurrent streams with prompts longer and shorter than a chunk, more
// streams than running slots, different settings: each gets exactly the
// tokens it gets alone.
TEST_F(SchedulerTest, BatchedStreamsEqualSerialRuns) {
  int steps = 0, max_rows = 0;
  SchedulerOptions options = SmallOptions();
  options.on_step = [&](const SchedulerOptions::StepStats& s) {
    ++steps;
    max_rows = std::max(max_rows, s.rows);
  };
  auto scheduler = Scheduler::Create(model_, tokenizer_, options);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  constexpr int kStreams = 7;
  std::vector<StreamContext> contexts;
  std::vector<SamplingParams> params(kStreams);
  std::vector<Pending> pending(kStreams);
  for (int s = 0; s < kStreams; ++s) {
    contexts.push_back(NewContext(Prompt(3 + s * 9, s)));
    params[s].temperature = s % 3 == 0 ? 0.0f : 0.8f;
    params[s].top_k = s % 2 ? 20 : 0;
    params[s].seed = 100 + s;
    params[s].presence_penalty = s % 2 ? 0.5f : 0.0f;
    params[s].max_tokens = 10 + s;
  }
  // The serial runs use the model before the scheduler's loop does (a Model
  // is used by one thread at a time).
  std::vector<std::vector<int>> expected;
  for (int s = 0; s < kStreams; ++s) expected.push_back(Serial(Prompt(3 + s * 9, s), params[s]));
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_TRUE((*scheduler)->Submit(Request(&contexts[s], params[s], &pending[s])).ok());
  }
  for (int s = 0; s < kStreams; ++s) {
    pending[s].done.WaitForNotification();
    const Outcome& o = pending[s].outcome;
    ASSERT_TRUE(o.result.status.ok()) << o.result.status;
    EXPECT_EQ(o.result.reason, FinishReason::kMaxTokens);
    EXPECT_EQ(o.tokens, expected[s]) << "stream " << s;
    // The last token is pending, everything else consumed.
    EXPECT_EQ(contexts[s].pending, std::vector<int>{o.tokens.back()});
    EXPECT_EQ(contexts[s].token_count, 3u + s * 9 + o.tokens.size() - 1);
    EXPECT_EQ(contexts[s].sampler.position, o.tokens.size());
  }
  EXPECT_LE(max_rows, options.max_step_tokens);
  EXPECT_GT(steps, 0);
}

// Two generations in a row (the second feeding the first's last token)
// equal one long generation.
TEST_F(SchedulerTest, ConsecutiveGenerationsContinueExactly) {
  auto scheduler = Scheduler::Create(model_, tokenizer_, SmallOptions());
  ASSERT_TRUE(scheduler.ok());
  SamplingParams params;
  params.seed = 5;
  params.max_tokens = 30;
  const std::vector<int> whole = Serial(Prompt(20, 1), params);

  StreamContext context = NewContext(Prompt(20, 1));
  params.max_tokens = 12;
  Pending first, second;
  ASSERT_TRUE((*scheduler)->Submit(Request(&context, params, &first)).ok());
  first.done.WaitForNotification();
  // A copy taken between generations (what a checkpoint stores) continues
  // the same way as the original.
  StreamContext copy = context;
  params.max_tokens = 18;
  ASSERT_TRUE((*scheduler)->Submit(Request(&copy, params, &second)).ok());
  second.done.WaitForNotification();
  std::vector<int> joined = first.outcome.tokens;
  joined.insert(joined.end(), second.outcome.tokens.begin(), second.outcome.tokens.end());
  EXPECT_EQ(joined, whole);
}

TEST_F(SchedulerTest, CancelMidPrefillKeepsUnconsumedInput) {
  SchedulerOptions options = SmallOptions();
  options.prefill_chunk = 1;
  options.max_step_tokens = 5;
  auto scheduler = Scheduler::Create(model_, tokenizer_, options);
  ASSERT_TRUE(scheduler.ok());
  StreamContext context = NewContext(Prompt(400, 2));
  SamplingParams params;
  params.max_tokens = 5;
  Pending pending;
  auto handle = (*scheduler)->Submit(Request(&context, params, &pending));
  ASSERT_TRUE(handle.ok());
  (*handle)->Cancel();
  pending.done.WaitForNotification();
  EXPECT_TRUE(pending.outcome.result.status.ok());
  EXPECT_EQ(pending.outcome.result.reason, FinishReason::kCancelled);
  EXPECT_TRUE(pending.outcome.tokens.empty());
  // Nothing lost: consumed + still pending = the whole input, in order.
  EXPECT_EQ(context.token_count + context.pending.size(), 400u);
  const std::vector<int> prompt = Prompt(400, 2);
  EXPECT_TRUE(std::equal(context.pending.begin(), context.pending.end(),
                         prompt.end() - static_cast<long>(context.pending.size())));
  EXPECT_LT(context.token_count, 400u);
}

TEST_F(SchedulerTest, DeadlineEndsTheGeneration) {
  auto scheduler = Scheduler::Create(model_, tokenizer_, SmallOptions());
  ASSERT_TRUE(scheduler.ok());
  StreamContext context = NewContext(Prompt(4, 3));
  SamplingParams params;
  params.max_tokens = 1000000;
  Pending pending;
  GenerationRequest request = Request(&context, params, &pending);
  request.deadline = absl::Now() + absl::Milliseconds(50);
  ASSERT_TRUE((*scheduler)->Submit(std::move(request)).ok());
  pending.done.WaitForNotification();
  EXPECT_EQ(pending.outcome.result.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(context.pending.size(), 1u);  // the last sampled token
}

TEST_F(SchedulerTest, FullQueueIsResourceExhausted) {
  SchedulerOptions options = SmallOptions();
  options.max_running = 1;
  options.max_queued = 1;
  options.max_step_tokens = 17;
  auto scheduler = Scheduler::Create(model_, tokenizer_, options);
  ASSERT_TRUE(scheduler.ok());
  std::vector<StreamContext> contexts;
  for (int i = 0; i < 3; ++i) contexts.push_back(NewContext(Prompt(4, i)));
  SamplingParams params;
  params.max_tokens = 1000000;
  Pending a, b, c;
  auto ha = (*scheduler)->Submit(Request(&contexts[0], params, &a));
  auto hb = (*scheduler)->Submit(Request(&contexts[1], params, &b));
  ASSERT_TRUE(ha.ok());
  ASSERT_TRUE(hb.ok());
  auto hc = (*scheduler)->Submit(Request(&contexts[2], params, &c));
  EXPECT_EQ(hc.status().code(), absl::StatusCode::kResourceExhausted);
  (*ha)->Cancel();
  (*hb)->Cancel();
  a.done.WaitForNotification();
  b.done.WaitForNotification();
  // The loop updates its counts right after the step that ended them.
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while ((*scheduler)->stats().running + (*scheduler)->stats().queued > 0 &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ((*scheduler)->stats().running + (*scheduler)->stats().queued, 0);
  // Slots freed: a new generation is admitted again.
  Pending d;
  auto hd = (*scheduler)->Submit(Request(&contexts[2], params, &d));
  ASSERT_TRUE(hd.ok());
  (*hd)->Cancel();
  d.done.WaitForNotification();
}

TEST_F(SchedulerTest, StopTokenAndStopString) {
  auto scheduler = Scheduler::Create(model_, tokenizer_, SmallOptions());
  ASSERT_TRUE(scheduler.ok());
  SamplingParams params;
  params.seed = 9;
  params.max_tokens = 40;
  const std::vector<int> free = Serial(Prompt(10, 4), params);

  // Stop at the 6th token's id (its first occurrence).
  params.stop_token_ids = {free[5]};
  StreamContext a = NewContext(Prompt(10, 4));
  Pending pa;
  ASSERT_TRUE((*scheduler)->Submit(Request(&a, params, &pa)).ok());
  pa.done.WaitForNotification();
  const auto first = std::find(free.begin(), free.end(), free[5]) - free.begin();
  EXPECT_EQ(pa.outcome.result.reason, FinishReason::kStopToken);
  EXPECT_EQ(pa.outcome.tokens, std::vector<int>(free.begin(), free.begin() + first + 1));

  // Stop at the text of tokens 3 and 4: the text before it is delivered.
  params.stop_token_ids.clear();
  std::string text;
  for (int t : free) text += static_cast<char>(t);
  const std::string stop = text.substr(3, 2);
  params.stop_strings = {stop};
  StreamContext b = NewContext(Prompt(10, 4));
  Pending pb;
  ASSERT_TRUE((*scheduler)->Submit(Request(&b, params, &pb)).ok());
  pb.done.WaitForNotification();
  EXPECT_EQ(pb.outcome.result.reason, FinishReason::kStopString);
  EXPECT_EQ(pb.outcome.text + pb.outcome.result.trailing_text, text.substr(0, text.find(stop)));
}

TEST_F(SchedulerTest, SnapshotsEveryNTokensContinueExactly) {
  auto scheduler = Scheduler::Create(model_, tokenizer_, SmallOptions());
  ASSERT_TRUE(scheduler.ok());
  SamplingParams params;
  params.seed = 77;
  params.max_tokens = 20;
  StreamContext context = NewContext(Prompt(9, 5));
  std::vector<StreamContext> snapshots;
  Pending pending;
  GenerationRequest request = Request(&context, params, &pending);
  request.snapshot_every = 7;
  request.on_snapshot = [&](StreamContext c) { snapshots.push_back(std::move(c)); };
  ASSERT_TRUE((*scheduler)->Submit(std::move(request)).ok());
  pending.done.WaitForNotification();
  ASSERT_EQ(snapshots.size(), 2u);  // after tokens 7 and 14
  // Resuming from the snapshot after 7 tokens gives tokens 8..20.
  params.max_tokens = 13;
  Pending resumed;
  ASSERT_TRUE((*scheduler)->Submit(Request(&snapshots[0], params, &resumed)).ok());
  resumed.done.WaitForNotification();
  EXPECT_EQ(resumed.outcome.tokens,
            std::vector<int>(pending.outcome.tokens.begin() + 7, pending.outcome.tokens.end()));
}

TEST_F(SchedulerTest, LogprobsAreNormalizedAndSorted) {
  auto scheduler = Scheduler::Create(model_, tokenizer_, SmallOptions());
  ASSERT_TRUE(scheduler.ok());
  StreamContext context = NewContext(Prompt(5, 6));
  SamplingParams params;
  params.temperature = 0;
  params.max_tokens = 3;
  std::vector<TokenEvent> events;
  absl::Notification done;
  GenerationRequest request;
  request.context = &context;
  request.params = params;
  request.top_logprobs = 5;
  request.on_token = [&](TokenEvent e) { events.push_back(std::move(e)); };
  request.on_done = [&](GenerationResult) { done.Notify(); };
  ASSERT_TRUE((*scheduler)->Submit(std::move(request)).ok());
  done.WaitForNotification();
  ASSERT_EQ(events.size(), 3u);
  for (const TokenEvent& e : events) {
    ASSERT_TRUE(e.logprob.has_value());
    ASSERT_EQ(e.top_logprobs.size(), 5u);
    // Greedy: the token is the most likely one.
    EXPECT_EQ(e.top_logprobs[0].first, e.token);
    EXPECT_FLOAT_EQ(*e.logprob, e.top_logprobs[0].second);
    EXPECT_LT(*e.logprob, 0.0f);
    for (size_t i = 1; i < 5; ++i)
      EXPECT_LE(e.top_logprobs[i].second, e.top_logprobs[i - 1].second);
  }
}

TEST_F(SchedulerTest, BadRequestsAreRejected) {
  auto scheduler = Scheduler::Create(model_, nullptr, SmallOptions());
  ASSERT_TRUE(scheduler.ok());
  SamplingParams params;
  params.max_tokens = 3;
  Pending p;
  StreamContext empty = NewContext({});
  EXPECT_EQ((*scheduler)->Submit(Request(&empty, params, &p)).status().code(),
            absl::StatusCode::kInvalidArgument);
  StreamContext bad = NewContext({1, kVocab});
  EXPECT_EQ((*scheduler)->Submit(Request(&bad, params, &p)).status().code(),
            absl::StatusCode::kInvalidArgument);
  StreamContext ok = NewContext({1, 2});
  params.stop_strings = {"x"};
  EXPECT_EQ((*scheduler)->Submit(Request(&ok, params, &p)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  params.stop_strings.clear();
  params.top_p = 2;
  EXPECT_EQ((*scheduler)->Submit(Request(&ok, params, &p)).status().code(),
            absl::StatusCode::kInvalidArgument);
  SchedulerOptions options = SmallOptions();
  options.max_step_tokens = options.max_running;
  EXPECT_EQ(Scheduler::Create(model_, nullptr, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gander::engine
