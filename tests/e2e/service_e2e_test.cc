// End-to-end: real `gander serve` and `gander store-server` processes on
// loopback, driven over gRPC. Streaming generation, fork independence,
// kill -9 and resume, and a stream moving between two workers that share a
// store server, each checked token for token against an uninterrupted run.
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/weights/random_model.h"
#include "gtest/gtest.h"
#include "tests/e2e/client.h"
#include "tests/testing/server_process.h"

namespace gander::testing {
namespace {

const std::vector<uint32_t> kPrompt = {11, 22, 33, 44, 55, 66, 77};

class ServiceE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_path_ = new std::string(TmpPath("e2e_model.safetensors"));
    engine::RandomModelSpec spec;
    spec.layers = 2;
    spec.embd = 128;
    spec.vocab = 1024;
    spec.seed = 21;
    ASSERT_TRUE(engine::WriteRandomModel(spec, *model_path_, engine::TensorFormat::kSafetensors,
                                         engine::FileDtype::kBF16)
                    .ok());
  }

  // A worker with the embedded store in `data_dir`, or on `store`.
  std::unique_ptr<ServerProcess> StartWorker(const std::string& name,
                                             std::vector<std::string> args) {
    args.push_back("--model=" + *model_path_);
    args.push_back("--listen=127.0.0.1:0");
    args.push_back("--threads=1");
    auto worker = ServerProcess::Start("serve", args, name);
    EXPECT_NE(worker, nullptr);
    return worker;
  }

  static std::string* model_path_;
};

std::string* ServiceE2eTest::model_path_ = nullptr;

// The reference: one uninterrupted call doing two generations.
std::vector<std::vector<int>> Reference(int port, const std::string& id, uint64_t seed) {
  StreamCall call(Connect(port));
  EXPECT_TRUE(call.Open(CreateRequest(id, seed)));
  EXPECT_TRUE(call.Append(kPrompt));
  bool ok1 = false, ok2 = false;
  std::vector<int> first = call.Generate(GenerateRequest(12), true, &ok1);
  std::vector<int> second = call.Generate(GenerateRequest(12), true, &ok2);
  EXPECT_TRUE(ok1 && ok2);
  EXPECT_TRUE(call.Close().ok());
  return {first, second};
}

TEST_F(ServiceE2eTest, StreamingGenerationAndForkIndependence) {
  auto worker = StartWorker("fork", {"--data-dir=" + TmpPath("fork-data")});
  absl::StatusOr<int> port = worker->WaitReady();
  ASSERT_TRUE(port.ok()) << port.status();

  // Tokens arrive one event each, positions counting up, then the
  // generation ends and a durable checkpoint follows.
  {
    StreamCall call(Connect(*port));
    v1::Opened opened;
    ASSERT_TRUE(call.Open(CreateRequest("base", 5), &opened));
    EXPECT_EQ(opened.stream_id(), "base");
    ASSERT_TRUE(call.Append(kPrompt));
    ASSERT_TRUE(call.Send(GenerateRequest(10)));
    StreamResponse r;
    uint64_t expected_position = kPrompt.size();
    int tokens = 0;
    while (call.Read(&r) && r.has_token()) {
      EXPECT_EQ(r.token().position(), expected_position++);
      ++tokens;
    }
    EXPECT_EQ(tokens, 10);
    ASSERT_TRUE(r.has_generation_finished());
    EXPECT_EQ(r.generation_finished().reason(), v1::FINISH_REASON_MAX_TOKENS);
    ASSERT_TRUE(call.Read(&r));
    ASSERT_TRUE(r.has_checkpointed());
    EXPECT_EQ(r.checkpointed().version(), 1u);
    EXPECT_TRUE(r.checkpointed().durable());
    EXPECT_TRUE(call.Close().ok());
  }

  // Alone: each branch's continuation, forked at version 1.
  auto branch_alone = [&](const std::string& id, uint64_t seed, uint32_t extra) {
    StreamCall call(Connect(*port));
    EXPECT_TRUE(call.Open(ForkRequest("base", 1, id, seed)));
    EXPECT_TRUE(call.Append({extra}));
    bool ok = false;
    std::vector<int> tokens = call.Generate(GenerateRequest(16), true, &ok);
    EXPECT_TRUE(ok);
    EXPECT_TRUE(call.Close().ok());
    return tokens;
  };
  const std::vector<int> a_alone = branch_alone("a-alone", 100, 7);
  const std::vector<int> b_alone = branch_alone("b-alone", 200, 9);
  EXPECT_NE(a_alone, b_alone);

  // Together, interleaved on one worker: neither disturbs the other.
  StreamCall a(Connect(*port)), b(Connect(*port));
  ASSERT_TRUE(a.Open(ForkRequest("base", 1, "a", 100)));
  ASSERT_TRUE(b.Open(ForkRequest("base", 1, "b", 200)));
  ASSERT_TRUE(a.Append({7}));
  ASSERT_TRUE(b.Append({9}));
  std::vector<int> a_tokens, b_tokens;
  std::thread ta([&] {
    bool ok = false;
    a_tokens = a.Generate(GenerateRequest(16), true, &ok);
    EXPECT_TRUE(ok);
  });
  bool ok = false;
  b_tokens = b.Generate(GenerateRequest(16), true, &ok);
  EXPECT_TRUE(ok);
  ta.join();
  EXPECT_TRUE(a.Close().ok());
  EXPECT_TRUE(b.Close().ok());
  EXPECT_EQ(a_tokens, a_alone);
  EXPECT_EQ(b_tokens, b_alone);

  // The source is untouched by its forks: still at version 1.
  StreamCall source(Connect(*port));
  v1::Opened opened;
  ASSERT_TRUE(source.Open(ResumeRequest("base", 5), &opened));
  EXPECT_EQ(opened.version(), 1u);
  EXPECT_TRUE(source.Close().ok());
}

TEST_F(ServiceE2eTest, KillNineMidGenerationThenResumeContinuesExactly) {
  const std::string data = TmpPath("kill-data");
  auto worker = StartWorker("kill-1", {"--data-dir=" + data, "--worker-id=w-kill"});
  absl::StatusOr<int> port = worker->WaitReady();
  ASSERT_TRUE(port.ok()) << port.status();
  const std::vector<std::vector<int>> reference = Reference(*port, "ref", 42);

  // The same stream, killed in the middle of its second generation.
  {
    StreamCall call(Connect(*port));
    ASSERT_TRUE(call.Open(CreateRequest("victim", 42)));
    ASSERT_TRUE(call.Append(kPrompt));
    bool ok = false;
    uint64_t version = 0;
    EXPECT_EQ(call.Generate(GenerateRequest(12), true, &ok, &version), reference[0]);
    ASSERT_TRUE(ok);
    ASSERT_EQ(version, 1u);  // acknowledged: must survive
    ASSERT_TRUE(call.Send(GenerateRequest(100000)));
    StreamResponse r;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(call.Read(&r));
    worker->Signal(SIGKILL);
    ASSERT_TRUE(worker->Wait().ok());
    call.context().TryCancel();
  }

  // Restarted on the same data directory with the same worker id (so it
  // takes its own leases back at once), the stream resumes at its last
  // acknowledged checkpoint and continues exactly.
  auto restarted = StartWorker("kill-2", {"--data-dir=" + data, "--worker-id=w-kill"});
  port = restarted->WaitReady();
  ASSERT_TRUE(port.ok()) << port.status();
  StreamCall call(Connect(*port));
  v1::Opened opened;
  ASSERT_TRUE(call.Open(ResumeRequest("victim", 42), &opened));
  EXPECT_EQ(opened.version(), 1u);
  bool ok = false;
  EXPECT_EQ(call.Generate(GenerateRequest(12), true, &ok), reference[1]);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(call.Close().ok());
}

TEST_F(ServiceE2eTest, StreamMovesBetweenWorkersSharingAStoreServer) {
  auto store = ServerProcess::Start(
      "store-server", {"--listen=127.0.0.1:0", "--data-dir=" + TmpPath("shared-store")}, "store");
  ASSERT_NE(store, nullptr);
  absl::StatusOr<int> store_port = store->WaitReady();
  ASSERT_TRUE(store_port.ok()) << store_port.status();
  const std::string store_flag = absl::StrCat("--store=127.0.0.1:", *store_port);
  auto worker_a = StartWorker("move-a", {store_flag, "--worker-id=a", "--lease-ttl=2s"});
  auto worker_b = StartWorker("move-b", {store_flag, "--worker-id=b", "--lease-ttl=2s"});
  absl::StatusOr<int> port_a = worker_a->WaitReady();
  absl::StatusOr<int> port_b = worker_b->WaitReady();
  ASSERT_TRUE(port_a.ok()) << port_a.status();
  ASSERT_TRUE(port_b.ok()) << port_b.status();
  const std::vector<std::vector<int>> reference = Reference(*port_a, "ref", 8);

  // First generation on A; the call stays open (A holds the lease).
  StreamCall on_a(Connect(*port_a));
  ASSERT_TRUE(on_a.Open(CreateRequest("mover", 8)));
  ASSERT_TRUE(on_a.Append(kPrompt));
  bool ok = false;
  EXPECT_EQ(on_a.Generate(GenerateRequest(12), true, &ok), reference[0]);
  ASSERT_TRUE(ok);
  // While A has it open, B refuses it: ABORTED.
  {
    StreamCall on_b(Connect(*port_b));
    EXPECT_FALSE(on_b.Open(ResumeRequest("mover", 8)));
    grpc::Status status = on_b.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
  }
  // Closed on A, it opens on B and continues exactly.
  ASSERT_TRUE(on_a.Close().ok());
  {
    StreamCall on_b(Connect(*port_b));
    v1::Opened opened;
    ASSERT_TRUE(on_b.Open(ResumeRequest("mover", 8), &opened));
    EXPECT_EQ(opened.version(), 1u);
    EXPECT_EQ(on_b.Generate(GenerateRequest(12), true, &ok), reference[1]);
    EXPECT_TRUE(ok);
    EXPECT_TRUE(on_b.Close().ok());
  }

  // Take-over: a worker that dies holding a lease blocks the stream only
  // until the lease expires (2 s here).
  {
    StreamCall on_a2(Connect(*port_a));
    ASSERT_TRUE(on_a2.Open(ResumeRequest("mover", 8)));
    worker_a->Signal(SIGKILL);
    ASSERT_TRUE(worker_a->Wait().ok());
    on_a2.context().TryCancel();
  }
  const absl::Time killed = absl::Now();
  bool opened_on_b = false;
  int aborted = 0;
  while (absl::Now() - killed < absl::Seconds(20) && !opened_on_b) {
    StreamCall on_b(Connect(*port_b));
    opened_on_b = on_b.Open(ResumeRequest("mover", 8));
    if (opened_on_b) {
      EXPECT_TRUE(on_b.Close().ok());
    } else {
      grpc::Status status = on_b.Finish();
      ASSERT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
      ++aborted;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  EXPECT_TRUE(opened_on_b);
  EXPECT_GT(aborted, 0);  // it was refused while the dead worker's lease lived
}

// A pod's shutdown path: SIGTERM makes a worker checkpoint its open streams
// (even under an on-request policy) and release their leases before it
// exits; another worker resumes them at once with every delivered token.
TEST_F(ServiceE2eTest, SigtermCheckpointsOpenStreamsAndReleasesTheirLeases) {
  auto store = ServerProcess::Start("store-server",
                                    {"--listen=127.0.0.1:0", "--data-dir=" + TmpPath("term-store")},
                                    "term-store");
  ASSERT_NE(store, nullptr);
  absl::StatusOr<int> store_port = store->WaitReady();
  ASSERT_TRUE(store_port.ok()) << store_port.status();
  const std::string store_flag = absl::StrCat("--store=127.0.0.1:", *store_port);
  // A long lease: only a release lets B in at once.
  auto worker_a = StartWorker("term-a", {store_flag, "--worker-id=a", "--lease-ttl=60s"});
  auto worker_b = StartWorker("term-b", {store_flag, "--worker-id=b", "--lease-ttl=60s"});
  absl::StatusOr<int> port_a = worker_a->WaitReady();
  absl::StatusOr<int> port_b = worker_b->WaitReady();
  ASSERT_TRUE(port_a.ok() && port_b.ok());

  StreamCall on_a(Connect(*port_a));
  ASSERT_TRUE(on_a.Open(CreateRequest("pod", 31, v1::CHECKPOINT_POLICY_ON_REQUEST)));
  ASSERT_TRUE(on_a.Append(kPrompt));
  ASSERT_TRUE(on_a.Send(GenerateRequest(100000)));
  std::vector<int> delivered;
  StreamResponse r;
  while (delivered.size() < 8 && on_a.Read(&r)) {
    if (r.has_token()) delivered.push_back(static_cast<int>(r.token().token_id()));
  }
  worker_a->Signal(SIGTERM);
  bool checkpointed = false;
  uint64_t checkpoint_tokens = 0;
  while (on_a.Read(&r)) {
    if (r.has_token()) delivered.push_back(static_cast<int>(r.token().token_id()));
    if (r.has_checkpointed()) {
      checkpointed = r.checkpointed().durable();
      checkpoint_tokens = r.checkpointed().token_count();
    }
  }
  grpc::Status status = on_a.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_TRUE(checkpointed);
  absl::StatusOr<int> exit = worker_a->Wait();
  ASSERT_TRUE(exit.ok());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << worker_a->Log();
  // Every delivered token is in the checkpoint (the last one still pending).
  EXPECT_EQ(checkpoint_tokens, kPrompt.size() + delivered.size() - 1);

  // B opens it at once (the lease was released, not left to expire) and
  // continues exactly as a stream that generated those tokens would.
  StreamCall reference(Connect(*port_b));
  ASSERT_TRUE(reference.Open(CreateRequest("pod-reference", 31)));
  ASSERT_TRUE(reference.Append(kPrompt));
  bool ok = false;
  EXPECT_EQ(reference.Generate(GenerateRequest(delivered.size()), true, &ok), delivered);
  const std::vector<int> expected = reference.Generate(GenerateRequest(10), true, &ok);
  EXPECT_TRUE(reference.Close().ok());

  StreamCall on_b(Connect(*port_b));
  v1::Opened opened;
  ASSERT_TRUE(on_b.Open(ResumeRequest("pod", 31), &opened));
  EXPECT_EQ(opened.token_count(), checkpoint_tokens);
  EXPECT_EQ(on_b.Generate(GenerateRequest(10), false, &ok), expected);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(on_b.Close().ok());
}

}  // namespace
}  // namespace gander::testing
