// The Sessions service in process: a real gRPC server on loopback over a
// memory store and a small random model, driven through the generated stub.
#include "service/worker/worker.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model.h"
#include "engine/scheduler/scheduler.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/random_model.h"
#include "gander/v1/sessions.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/memory_state_store.h"

namespace gander::service {
namespace {

using ::gander::v1::StreamRequest;
using ::gander::v1::StreamResponse;
using ::testing::HasSubstr;

constexpr int kVocab = 96;

class WorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/worker_test_model.safetensors");
    engine::RandomModelSpec spec;
    spec.layers = 2;
    spec.embd = 64;
    spec.head_size = 32;
    spec.vocab = kVocab;
    spec.seed = 3;
    ASSERT_TRUE(engine::WriteRandomModel(spec, path, engine::TensorFormat::kSafetensors,
                                         engine::FileDtype::kF32)
                    .ok());
    engine::LoadOptions options;
    options.type = engine::WeightType::kF32;
    model_ = engine::Model::Load(path, options, /*threads=*/1)->release();
  }

  void StartServer(WorkerOptions options = {}, const engine::Tokenizer* tokenizer = nullptr) {
    store_ = storage::NewMemoryStateStore({});
    engine::SchedulerOptions scheduler_options;
    scheduler_options.max_running = 8;
    scheduler_options.max_queued = 4;
    scheduler_options.prefill_chunk = 16;
    scheduler_options.max_step_tokens = 32;
    scheduler_ = *engine::Scheduler::Create(model_, tokenizer, scheduler_options);
    options.worker_id = "w1";
    worker_ = std::make_unique<Worker>(
        model_, tokenizer, scheduler_.get(), store_.get(),
        [](const grpc::ServerContextBase& context) -> absl::StatusOr<Caller> {
          auto it = context.client_metadata().find("x-test-tenant");
          if (it == context.client_metadata().end() || it->second.empty()) {
            return absl::UnauthenticatedError("no tenant");
          }
          return Caller{std::string(it->second.data(), it->second.size()), false, 3, 0};
        },
        options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(worker_->sessions_service());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Sessions::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (worker_) worker_->Shutdown(absl::Now() + absl::Seconds(5));
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    worker_.reset();
    scheduler_.reset();
  }

  // One call: sends `requests` (then half-closes unless keep_open) and
  // collects every event until the server ends the call.
  struct Call {
    std::vector<StreamResponse> events;
    grpc::Status status;
    std::vector<int> Tokens() const {
      std::vector<int> out;
      for (const auto& e : events) {
        if (e.has_token()) out.push_back(static_cast<int>(e.token().token_id()));
      }
      return out;
    }
    const StreamResponse* Find(StreamResponse::EventCase c, int nth = 0) const {
      for (const auto& e : events) {
        if (e.event_case() == c && nth-- == 0) return &e;
      }
      return nullptr;
    }
  };
  Call Run(const std::vector<StreamRequest>& requests, const std::string& tenant = "t1") {
    grpc::ClientContext context;
    context.AddMetadata("x-test-tenant", tenant);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto stream = stub_->Stream(&context);
    for (const auto& r : requests) stream->Write(r);
    stream->WritesDone();
    Call call;
    StreamResponse response;
    while (stream->Read(&response)) call.events.push_back(response);
    call.status = stream->Finish();
    return call;
  }

  static StreamRequest Create(const std::string& id, uint64_t seed = 1,
                              v1::CheckpointPolicy policy = v1::CHECKPOINT_POLICY_UNSPECIFIED) {
    StreamRequest r;
    r.mutable_open()->mutable_create()->set_stream_id(id);
    r.mutable_open()->set_seed(seed);
    r.mutable_open()->set_checkpoint_policy(policy);
    return r;
  }
  static StreamRequest Resume(const std::string& id, uint64_t seed = 1) {
    StreamRequest r;
    r.mutable_open()->mutable_resume()->set_stream_id(id);
    r.mutable_open()->set_seed(seed);
    return r;
  }
  static StreamRequest Fork(const std::string& source, const std::string& id, uint64_t seed,
                            uint64_t version = 0) {
    StreamRequest r;
    r.mutable_open()->mutable_fork()->set_version(version);
    r.mutable_open()->mutable_fork()->set_source_stream_id(source);
    r.mutable_open()->mutable_fork()->set_stream_id(id);
    r.mutable_open()->set_seed(seed);
    return r;
  }
  static StreamRequest Append(std::vector<uint32_t> ids) {
    StreamRequest r;
    for (uint32_t id : ids) r.mutable_append_input()->mutable_token_ids()->add_ids(id);
    return r;
  }
  static StreamRequest Generate(uint32_t n, float temperature = 1.0f) {
    StreamRequest r;
    r.mutable_generate()->set_max_tokens(n);
    r.mutable_generate()->mutable_sampling()->set_temperature(temperature);
    return r;
  }

  static engine::Model* model_;
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<engine::Scheduler> scheduler_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Sessions::Stub> stub_;
};

engine::Model* WorkerTest::model_ = nullptr;

TEST_F(WorkerTest, GeneratesAndCheckpointsAfterEachGeneration) {
  StartServer();
  Call call = Run({Create("a"), Append({1, 2, 3, 4}), Generate(10), Generate(5)});
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  ASSERT_GE(call.events.size(), 4u);
  EXPECT_EQ(call.events[0].opened().stream_id(), "a");
  EXPECT_EQ(call.events[0].opened().version(), 0u);
  EXPECT_EQ(call.events[1].input_appended().pending_token_count(), 4u);
  EXPECT_EQ(call.Tokens().size(), 15u);
  const StreamResponse* first = call.Find(StreamResponse::kCheckpointed, 0);
  const StreamResponse* second = call.Find(StreamResponse::kCheckpointed, 1);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->checkpointed().version(), 1u);
  EXPECT_EQ(second->checkpointed().version(), 2u);
  EXPECT_TRUE(second->checkpointed().durable());
  // 4 prompt tokens + 15 generated, the last one still pending.
  EXPECT_EQ(second->checkpointed().token_count(), 18u);
  EXPECT_EQ(call.Find(StreamResponse::kGenerationFinished, 1)->generation_finished().reason(),
            v1::FINISH_REASON_MAX_TOKENS);
  // Positions count every consumed token.
  EXPECT_EQ(call.Find(StreamResponse::kToken, 0)->token().position(), 4u);
  EXPECT_EQ(worker_->open_streams(), 0);
}

TEST_F(WorkerTest, ResumeContinuesExactlyAndForksAreIndependent) {
  StartServer();
  // Reference: one uninterrupted call.
  Call whole = Run({Create("ref", 7), Append({5, 6, 7}), Generate(8), Generate(8)});
  ASSERT_TRUE(whole.status.ok());
  // The same in two calls, resumed in between.
  Call part1 = Run({Create("s", 7), Append({5, 6, 7}), Generate(8)});
  ASSERT_TRUE(part1.status.ok());
  Call part2 = Run({Resume("s", 7), Generate(8)});
  ASSERT_TRUE(part2.status.ok()) << part2.status.error_message();
  EXPECT_EQ(part2.events[0].opened().version(), 1u);
  std::vector<int> joined = part1.Tokens();
  for (int t : part2.Tokens()) joined.push_back(t);
  EXPECT_EQ(joined, whole.Tokens());

  // Two forks of "s" at version 1 with different seeds diverge; the same
  // seed as the original reproduces part2; the source is untouched.
  Call fork_a = Run({Fork("s", "s-a", 7, 1), Generate(8)});
  Call fork_b = Run({Fork("s", "s-b", 99, 1), Generate(8)});
  ASSERT_TRUE(fork_a.status.ok()) << fork_a.status.error_message();
  ASSERT_TRUE(fork_b.status.ok());
  EXPECT_EQ(fork_a.Tokens(), part2.Tokens());
  EXPECT_NE(fork_b.Tokens(), part2.Tokens());
  absl::StatusOr<storage::StreamInfo> source = store_->GetStream("s");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(source->version, 2u);
}

TEST_F(WorkerTest, EvictedStatesComeBackTransparently) {
  WorkerOptions options;
  options.max_resident_streams = 1;
  StartServer(options);
  Call reference = Run({Create("r", 3), Append({9, 8}), Generate(6), Generate(6)});
  ASSERT_TRUE(reference.status.ok());

  // Two streams open at once, interleaved: each eviction of one brings the
  // other back.
  grpc::ClientContext ca, cb;
  ca.AddMetadata("x-test-tenant", "t1");
  cb.AddMetadata("x-test-tenant", "t1");
  auto a = stub_->Stream(&ca);
  auto b = stub_->Stream(&cb);
  StreamResponse r;
  auto turn = [&](decltype(a)& s, const StreamRequest& request, size_t events) {
    s->Write(request);
    std::vector<int> tokens;
    for (size_t i = 0; i < events; ++i) {
      EXPECT_TRUE(s->Read(&r));
      if (r.has_token()) tokens.push_back(static_cast<int>(r.token().token_id()));
    }
    return tokens;
  };
  turn(a, Create("x", 3, v1::CHECKPOINT_POLICY_ON_REQUEST), 1);
  turn(a, Append({9, 8}), 1);
  std::vector<int> xa = turn(a, Generate(6), 7);
  turn(b, Create("y", 3, v1::CHECKPOINT_POLICY_ON_REQUEST), 1);
  turn(b, Append({9, 8}), 1);
  std::vector<int> yb = turn(b, Generate(6), 7);
  std::vector<int> xa2 = turn(a, Generate(6), 7);
  std::vector<int> yb2 = turn(b, Generate(6), 7);
  a->WritesDone();
  b->WritesDone();
  while (a->Read(&r)) {
  }
  while (b->Read(&r)) {
  }
  EXPECT_TRUE(a->Finish().ok());
  EXPECT_TRUE(b->Finish().ok());
  xa.insert(xa.end(), xa2.begin(), xa2.end());
  yb.insert(yb.end(), yb2.begin(), yb2.end());
  EXPECT_EQ(xa, reference.Tokens());
  EXPECT_EQ(yb, reference.Tokens());
  // Eviction committed the changed states (the policy alone would not).
  EXPECT_GE(store_->GetStream("x")->version, 1u);
  EXPECT_LE(worker_->resident_streams(), 1);
}

TEST_F(WorkerTest, BadRequestsEndTheCallWithPreciseStatuses) {
  StartServer();
  auto code = [&](const std::vector<StreamRequest>& requests, const std::string& tenant = "t1") {
    return Run(requests, tenant).status.error_code();
  };
  EXPECT_EQ(code({Append({1})}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({Create("c1"), Create("c2")}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({Resume("nope")}), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(code({Create("bad id!")}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({Create("c3"), Append({kVocab})}), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({Create("c4"), Generate(3)}), grpc::StatusCode::FAILED_PRECONDITION);
  StreamRequest text;
  text.mutable_append_input()->set_text("hi");
  EXPECT_EQ(code({Create("c5"), text}), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(code({Create("c3")}), grpc::StatusCode::ALREADY_EXISTS);
  // Another tenant's stream does not exist for the caller.
  EXPECT_EQ(code({Resume("c3")}, "t2"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(code({Fork("c3", "c3-f", 0)}, "t2"), grpc::StatusCode::NOT_FOUND);
  StreamRequest other_tenant = Create("c6");
  other_tenant.mutable_open()->mutable_create()->set_tenant("t2");
  EXPECT_EQ(code({other_tenant}), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Run({Create("c7")}, "").status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  StreamRequest every_n = Create("c8", 1, v1::CHECKPOINT_POLICY_EVERY_N_TOKENS);
  EXPECT_EQ(code({every_n}), grpc::StatusCode::INVALID_ARGUMENT);
  StreamRequest sampling = Generate(3);
  sampling.mutable_generate()->mutable_sampling()->set_top_p(2);
  EXPECT_EQ(code({Create("c9"), Append({1}), sampling}), grpc::StatusCode::INVALID_ARGUMENT);
  // Nothing leaked.
  EXPECT_EQ(worker_->open_streams(), 0);
}

TEST_F(WorkerTest, SecondOpenOfAnOpenStreamIsAborted) {
  StartServer();
  ASSERT_TRUE(Run({Create("busy")}).status.ok());
  grpc::ClientContext context;
  context.AddMetadata("x-test-tenant", "t1");
  auto holder = stub_->Stream(&context);
  holder->Write(Resume("busy"));
  StreamResponse r;
  ASSERT_TRUE(holder->Read(&r));
  Call second = Run({Resume("busy")});
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(second.status.error_message(), HasSubstr("already open"));
  holder->WritesDone();
  while (holder->Read(&r)) {
  }
  EXPECT_TRUE(holder->Finish().ok());
  // Once closed it opens again.
  EXPECT_TRUE(Run({Resume("busy")}).status.ok());
}

TEST_F(WorkerTest, CancelEndsTheGenerationAndTheStreamGoesOn) {
  StartServer();
  grpc::ClientContext context;
  context.AddMetadata("x-test-tenant", "t1");
  auto stream = stub_->Stream(&context);
  stream->Write(Create("cx", 1, v1::CHECKPOINT_POLICY_ON_REQUEST));
  stream->Write(Append({1, 2}));
  stream->Write(Generate(100000));
  StreamResponse r;
  int tokens = 0;
  while (stream->Read(&r) && !r.has_token()) {
  }
  ++tokens;
  StreamRequest cancel;
  cancel.mutable_cancel();
  stream->Write(cancel);
  StreamRequest checkpoint;
  checkpoint.mutable_checkpoint_now();
  stream->Write(checkpoint);
  stream->WritesDone();
  v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED;
  uint64_t version = 0, consumed = 0;
  while (stream->Read(&r)) {
    if (r.has_token()) ++tokens;
    if (r.has_generation_finished()) {
      reason = r.generation_finished().reason();
      consumed = r.generation_finished().token_count();
    }
    if (r.has_checkpointed()) version = r.checkpointed().version();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(reason, v1::FINISH_REASON_CANCELLED);
  EXPECT_EQ(version, 1u);
  EXPECT_EQ(consumed, 2u + tokens - 1);
}

TEST_F(WorkerTest, ClientCancellationReleasesTheStream) {
  StartServer();
  {
    grpc::ClientContext context;
    context.AddMetadata("x-test-tenant", "t1");
    auto stream = stub_->Stream(&context);
    stream->Write(Create("gone"));
    stream->Write(Append({1}));
    stream->Write(Generate(100000));
    StreamResponse r;
    while (stream->Read(&r) && !r.has_token()) {
    }
    context.TryCancel();
    while (stream->Read(&r)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (worker_->open_streams() > 0 && absl::Now() < give_up)
    absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(worker_->open_streams(), 0);
  // Nothing was committed (the policy's checkpoint never came), and the
  // stream reopens at once.
  Call again = Run({Resume("gone")});
  EXPECT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.events[0].opened().version(), 0u);
}

// Token bytes need not form valid UTF-8 (here every id is one raw byte, so
// a random model emits lone continuation bytes); the text sent is always
// valid UTF-8, or the call could not be serialized at all.
TEST_F(WorkerTest, TokenTextIsAlwaysValidUtf8) {
  std::string vocab;
  for (int id = 1; id < kVocab; ++id) {
    absl::StrAppend(&vocab, id, " b'\\x", absl::Hex(0x40 + id, absl::kZeroPad2), "' 1\n");
  }
  absl::StatusOr<engine::Tokenizer> tokenizer = engine::Tokenizer::FromString(vocab);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  StartServer({}, &*tokenizer);
  Call call = Run({Create("utf8"), Append({1, 2, 3}), Generate(200)});
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  std::string text;
  for (const auto& e : call.events) {
    if (e.has_token()) text += e.token().text();
  }
  EXPECT_EQ(call.Tokens().size(), 200u);
  EXPECT_EQ(engine::ReplaceInvalidUtf8(text), text);
  EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);  // some bytes were replaced
}

TEST_F(WorkerTest, TenantStreamLimit) {
  StartServer();  // the test tenants may hold 3 open streams
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReaderWriter<StreamRequest, StreamResponse>>> streams;
  StreamResponse r;
  for (int i = 0; i < 3; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->AddMetadata("x-test-tenant", "t1");
    streams.push_back(stub_->Stream(contexts.back().get()));
    streams.back()->Write(Create(absl::StrCat("lim", i)));
    ASSERT_TRUE(streams.back()->Read(&r));
  }
  EXPECT_EQ(Run({Create("lim3")}).status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Run({Create("other")}, "t2").status.ok());
  for (auto& s : streams) {
    s->WritesDone();
    while (s->Read(&r)) {
    }
    EXPECT_TRUE(s->Finish().ok());
  }
}

}  // namespace
}  // namespace gander::service
