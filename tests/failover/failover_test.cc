// Failover through the router, with real processes on loopback: a store
// server, three workers sharing it (--lease-ttl=2s) and nginx configured by
// deploy/k8s/base/router (consistent hashing on x-gander-stream-id). Twelve
// streams generate and checkpoint through the router; then
//   1. one worker is killed (SIGKILL) in the middle of its generations:
//      each of its streams resumes through the router on another worker as
//      soon as the dead worker's lease expires, from its last checkpoint,
//      token for token as an uninterrupted stream would continue, while the
//      streams on the other workers keep generating without an error;
//   2. a second worker is stopped as a pod is (SIGTERM): its streams are
//      checkpointed and their leases released, and they resume through the
//      router at once on the last worker, losing nothing.
// Every token every call delivered is checked against reference streams
// generated afterwards with the same seeds and prompts. The times from the
// kill (and from the SIGTERM) to each resumed stream's first token are
// printed (bench/RESULTS.md records them).
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/weights/random_model.h"
#include "gtest/gtest.h"
#include "tests/e2e/client.h"
#include "tests/failover/router_process.h"
#include "tests/testing/server_process.h"

namespace gander::testing {
namespace {

constexpr int kWorkers = 3;
constexpr int kStreams = 12;
// Checkpoint interval: frequent, yet light enough on the shared store that
// lease renewals (2 s TTL) keep up on a loaded two-core machine.
constexpr uint32_t kCheckpointEvery = 128;
// Before the kill every stream has generated at least this many tokens and
// received a durable checkpoint (after kCheckpointEvery tokens) in its call.
constexpr size_t kTokensBeforeKill = 80;
// Tokens a resumed stream generates before the next phase.
constexpr size_t kTokensAfterResume = 24;
constexpr absl::Duration kPhaseTimeout = absl::Seconds(30);

std::vector<uint32_t> PromptOf(int stream) {
  return {static_cast<uint32_t>(3 + stream), static_cast<uint32_t>(100 + 7 * stream),
          static_cast<uint32_t>(500 + stream), 42};
}
uint64_t SeedOf(int stream) { return 1000 + 17 * stream; }

StreamRequest OpenRequest(const std::string& id, uint64_t seed, bool create) {
  StreamRequest r = create ? CreateRequest(id, seed, v1::CHECKPOINT_POLICY_EVERY_N_TOKENS)
                           : ResumeRequest(id, seed);
  r.mutable_open()->set_checkpoint_policy(v1::CHECKPOINT_POLICY_EVERY_N_TOKENS);
  r.mutable_open()->set_every_n_tokens(kCheckpointEvery);
  return r;
}

StreamRequest CancelRequest() {
  StreamRequest r;
  r.mutable_cancel();
  return r;
}

struct Token {
  uint64_t position;
  int id;
  absl::Time at;
};

// One Sessions.Stream call of a stream's life.
struct Call {
  uint64_t start_token_count = 0;  // Opened.token_count
  std::vector<Token> tokens;
  std::vector<std::pair<uint64_t, absl::Time>> checkpoints;  // durable, token_count
  grpc::Status status;
  int refused_aborted = 0;  // open attempts refused with ABORTED before this one
  std::vector<std::string> refused_other;
};

// Drives one stream through the router: generates until Stop(), and when a
// call fails, resumes the stream (retrying refusals) and generates on.
class StreamDriver {
 public:
  StreamDriver(int router_port, int index)
      : router_port_(router_port),
        id_(absl::StrCat("stream-", index)),
        seed_(SeedOf(index)),
        prompt_(PromptOf(index)) {}
  ~StreamDriver() {
    if (thread_.joinable()) thread_.join();
  }

  const std::string& id() const { return id_; }

  // Creates the stream through the router and appends its prompt.
  bool Create() {
    auto call = std::make_unique<StreamCall>(Connect(router_port_), "", id_);
    v1::Opened opened;
    if (!call->Open(OpenRequest(id_, seed_, /*create=*/true), &opened)) return false;
    if (!call->Append(prompt_)) return false;
    absl::MutexLock lock(&mu_);
    calls_.emplace_back();
    current_ = std::move(call);
    return true;
  }

  void Start() {
    {
      absl::MutexLock lock(&mu_);
      finished_ = false;
    }
    thread_ = std::thread([this] {
      Run();
      absl::MutexLock lock(&mu_);
      finished_ = true;
    });
  }

  // Cancels the running generation, half-closes and waits for the end.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (!stop_ && current_ != nullptr && generating_) current_->Send(CancelRequest());
      stop_ = true;
      // A call that does not end on cancel (a test already failing) is
      // cut short.
      if (!mu_.AwaitWithTimeout(absl::Condition(&finished_), absl::Seconds(10)) &&
          current_ != nullptr) {
        current_->context().TryCancel();
      }
    }
    if (thread_.joinable()) thread_.join();
  }

  // Tokens the current call delivered; 0 while the stream is between calls.
  size_t TokensInCurrentCall() {
    absl::MutexLock lock(&mu_);
    return generating_ ? calls_.back().tokens.size() : 0;
  }
  size_t CheckpointsInCurrentCall() {
    absl::MutexLock lock(&mu_);
    return generating_ ? calls_.back().checkpoints.size() : 0;
  }
  size_t CallCount() {
    absl::MutexLock lock(&mu_);
    return calls_.size();
  }
  absl::Time LastTokenAt() {
    absl::MutexLock lock(&mu_);
    for (auto call = calls_.rbegin(); call != calls_.rend(); ++call) {
      if (!call->tokens.empty()) return call->tokens.back().at;
    }
    return absl::InfinitePast();
  }
  std::vector<Call> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::string failure() {
    absl::MutexLock lock(&mu_);
    return failure_;
  }

 private:
  void Fail(const std::string& why) {
    absl::MutexLock lock(&mu_);
    absl::StrAppend(&failure_, failure_.empty() ? "" : "; ", why);
  }

  void Run() {
    std::unique_ptr<StreamCall> call;
    {
      absl::MutexLock lock(&mu_);
      call = std::move(current_);
      current_ = nullptr;
    }
    while (true) {
      if (call == nullptr) {
        call = Resume();
        if (call == nullptr) return;
      }
      StreamCall* raw = call.get();
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        current_ = std::move(call);
        // A failed send means the call already ended: Drive reads why.
        raw->Send(GenerateRequest(1000000));
        generating_ = true;
      }
      const bool clean_end = Drive(raw);
      absl::MutexLock lock(&mu_);
      generating_ = false;
      call = std::move(current_);
      current_ = nullptr;
      if (clean_end) return;
      call = nullptr;
    }
  }

  // Reads the call's events until it ends. True when it ended because
  // Stop() cancelled it (then it is half-closed and finished here).
  bool Drive(StreamCall* call) {
    StreamResponse r;
    bool stopped = false;
    while (!stopped && call->Read(&r)) {
      absl::MutexLock lock(&mu_);
      Call& record = calls_.back();
      if (r.has_token()) {
        // Positions count up without a gap. A resumed call starts at the
        // checkpoint's token count, or one later when the checkpoint holds
        // a sampled token it had not consumed yet (delivered before).
        const uint64_t start = record.start_token_count + prompt_pending();
        const uint64_t position = r.token().position();
        const bool ok = record.tokens.empty()
                            ? position == start || (calls_.size() > 1 && position == start + 1)
                            : position == record.tokens.back().position + 1;
        if (!ok) {
          absl::StrAppend(&failure_, failure_.empty() ? "" : "; ", id_, ": token at position ",
                          position, " after ",
                          record.tokens.empty() ? start : record.tokens.back().position);
        }
        record.tokens.push_back(
            {r.token().position(), static_cast<int>(r.token().token_id()), absl::Now()});
      } else if (r.has_checkpointed()) {
        if (r.checkpointed().durable()) {
          record.checkpoints.emplace_back(r.checkpointed().token_count(), absl::Now());
        }
      } else if (r.has_generation_finished()) {
        // Cancelled by Stop(), or by the worker as it shuts down (then the
        // call ends with UNAVAILABLE, checked by the test).
        if (r.generation_finished().reason() != v1::FINISH_REASON_CANCELLED) {
          absl::StrAppend(&failure_, failure_.empty() ? "" : "; ", id_,
                          ": generation finished, reason ", r.generation_finished().reason());
        }
        stopped = stop_;
      }
    }
    // After Stop(): half-close, collecting what follows (the policy's
    // checkpoint); otherwise the call ended on its own.
    grpc::Status status = stopped ? call->Close() : call->Finish();
    absl::MutexLock lock(&mu_);
    calls_.back().status = status;
    return stopped;
  }

  // The prompt is consumed by the first generation of the created call only.
  uint64_t prompt_pending() const { return calls_.size() == 1 ? prompt_.size() : 0; }

  // Opens the stream again through the router, retrying while the old
  // holder's lease lives (ABORTED) or no worker answers (UNAVAILABLE).
  std::unique_ptr<StreamCall> Resume() {
    int aborted = 0;
    std::vector<std::string> other;
    const absl::Time deadline = absl::Now() + kPhaseTimeout;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return nullptr;
      }
      auto call = std::make_unique<StreamCall>(Connect(router_port_), "", id_);
      v1::Opened opened;
      if (call->Open(OpenRequest(id_, seed_, /*create=*/false), &opened)) {
        absl::MutexLock lock(&mu_);
        calls_.emplace_back();
        calls_.back().start_token_count = opened.token_count();
        calls_.back().refused_aborted = aborted;
        calls_.back().refused_other = other;
        return call;
      }
      const grpc::Status status = call->Finish();
      if (status.error_code() == grpc::StatusCode::ABORTED) {
        ++aborted;
      } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                 status.error_code() == grpc::StatusCode::CANCELLED) {
        // No worker reachable, or one shutting down (which refuses opens
        // with UNAVAILABLE, and cancels a call that arrives as its server
        // stops): try again.
        other.push_back(absl::StrCat(status.error_code(), " ", status.error_message()));
      } else {
        Fail(absl::StrCat(id_, ": resume refused with code ", status.error_code(), ": ",
                          status.error_message()));
        return nullptr;
      }
      absl::SleepFor(absl::Milliseconds(25));
    }
    Fail(absl::StrCat(id_, ": not resumed within ", absl::FormatDuration(kPhaseTimeout)));
    return nullptr;
  }

  const int router_port_;
  const std::string id_;
  const uint64_t seed_;
  const std::vector<uint32_t> prompt_;
  std::thread thread_;
  absl::Mutex mu_;
  std::unique_ptr<StreamCall> current_;
  bool generating_ = false;
  bool stop_ = false;
  bool finished_ = true;  // no thread running
  std::vector<Call> calls_;
  std::string failure_;
};

struct Worker {
  std::unique_ptr<ServerProcess> process;
  int grpc_port = 0;
  int metrics_port = 0;
  bool alive = true;
};

double OpenStreams(const Worker& worker) {
  return MetricValue(HttpGetBody(worker.metrics_port, "/metrics"), "gander_open_streams");
}

// Waits for `done`, polling; false at the timeout.
template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration timeout = kPhaseTimeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return done();
}

std::string Summary(std::vector<double> ms) {
  if (ms.empty()) return "none";
  std::sort(ms.begin(), ms.end());
  return absl::StrCat("min ", static_cast<int>(ms.front()), " ms, median ",
                      static_cast<int>(ms[ms.size() / 2]), " ms, max ", static_cast<int>(ms.back()),
                      " ms over ", ms.size(), " streams");
}

// The reference: a fresh stream with the same seed and prompt, generating
// `count` tokens in one uninterrupted call.
std::vector<int> ReferenceTokens(int router_port, int stream, size_t count) {
  const std::string id = absl::StrCat("reference-", stream);
  StreamCall call(Connect(router_port), "", id);
  EXPECT_TRUE(call.Open(CreateRequest(id, SeedOf(stream))));
  EXPECT_TRUE(call.Append(PromptOf(stream)));
  bool ok = false;
  std::vector<int> tokens = call.Generate(GenerateRequest(count), true, &ok);
  EXPECT_TRUE(ok) << id;
  EXPECT_TRUE(call.Close().ok()) << id;
  return tokens;
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_path_ = TmpPath("failover_model.safetensors");
    engine::RandomModelSpec spec;
    // Small, with a large vocabulary: cheap states (135 KB) and checkpoints,
    // a few hundred tokens per second per stream on two cores.
    spec.layers = 2;
    spec.embd = 256;
    spec.vocab = 65536;
    spec.seed = 77;
    ASSERT_TRUE(engine::WriteRandomModel(spec, model_path_, engine::TensorFormat::kSafetensors,
                                         engine::FileDtype::kBF16)
                    .ok());
    store_ = ServerProcess::Start(
        "store-server", {"--listen=127.0.0.1:0", "--data-dir=" + TmpPath("store")}, "store");
    ASSERT_NE(store_, nullptr);
    absl::StatusOr<int> store_port = store_->WaitReady();
    ASSERT_TRUE(store_port.ok()) << store_port.status();
    for (int i = 0; i < kWorkers; ++i) {
      Worker worker;
      worker.process = ServerProcess::Start(
          "serve",
          {"--model=" + model_path_, absl::StrCat("--store=127.0.0.1:", *store_port),
           absl::StrCat("--worker-id=w", i), "--lease-ttl=2s", "--listen=127.0.0.1:0",
           "--metrics-listen=127.0.0.1:0", "--threads=1", "--max-tokens-per-request=1000000",
           "--shutdown-grace=5s"},
          absl::StrCat("worker-", i));
      ASSERT_NE(worker.process, nullptr);
      workers_.push_back(std::move(worker));
    }
    std::vector<int> ports;
    for (Worker& worker : workers_) {
      absl::StatusOr<std::map<std::string, int>> p = worker.process->WaitReadyPorts();
      ASSERT_TRUE(p.ok()) << p.status();
      worker.grpc_port = p->at("grpc_port");
      worker.metrics_port = p->at("metrics_port");
      ports.push_back(worker.grpc_port);
    }
    absl::StatusOr<std::unique_ptr<RouterProcess>> router = RouterProcess::Start(ports);
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = std::move(*router);
  }

  // Index of the worker whose open-stream gauge rose above `before`.
  int WhichWorkerGained(const std::vector<double>& before) {
    int found = -1;
    WaitFor(
        [&] {
          for (int w = 0; w < kWorkers; ++w) {
            if (workers_[w].alive && OpenStreams(workers_[w]) > before[w]) found = w;
          }
          return found >= 0;
        },
        absl::Seconds(10));
    return found;
  }
  std::vector<double> Gauges() {
    std::vector<double> gauges;
    for (const Worker& worker : workers_) {
      gauges.push_back(worker.alive ? OpenStreams(worker) : 0);
    }
    return gauges;
  }

  std::string model_path_;
  std::unique_ptr<ServerProcess> store_;
  std::vector<Worker> workers_;
  std::unique_ptr<RouterProcess> router_;
};

// What each stream went through, for failure messages.
std::string Describe(std::vector<std::unique_ptr<StreamDriver>>& streams) {
  std::string out;
  for (auto& stream : streams) {
    absl::StrAppend(&out, stream->id(), ":");
    for (const Call& call : stream->Calls()) {
      absl::StrAppend(&out, " [from ", call.start_token_count, ", ", call.tokens.size(),
                      " tokens, ", call.checkpoints.size(), " checkpoints, refused ",
                      call.refused_aborted, " ABORTED ", call.refused_other.size(), " other",
                      call.refused_other.empty() ? "" : " (" + call.refused_other.back() + ")",
                      ", ended ", call.status.error_code(), " ", call.status.error_message(), "]");
    }
    absl::StrAppend(&out, " ", stream->failure(), "\n");
  }
  return out;
}

TEST_F(FailoverTest, StreamsOfAKilledWorkerResumeExactlyThroughTheRouter) {
  // Create the streams one at a time, learning each one's worker from the
  // workers' open-stream gauges.
  std::vector<std::unique_ptr<StreamDriver>> streams;
  // However the test ends, the drivers stop before they are destroyed.
  struct StopAll {
    std::vector<std::unique_ptr<StreamDriver>>* streams;
    ~StopAll() {
      for (auto& stream : *streams) stream->Stop();
    }
  } stop_all{&streams};
  std::vector<int> worker_of(kStreams, -1);
  for (int i = 0; i < kStreams; ++i) {
    const std::vector<double> before = Gauges();
    streams.push_back(std::make_unique<StreamDriver>(router_->grpc_port(), i));
    ASSERT_TRUE(streams.back()->Create()) << "create stream " << i << "\n" << router_->Log();
    worker_of[i] = WhichWorkerGained(before);
    ASSERT_GE(worker_of[i], 0) << "no worker's gander_open_streams rose for stream " << i;
  }
  std::vector<int> per_worker(kWorkers, 0);
  for (int w : worker_of) ++per_worker[w];
  std::printf("streams per worker: %s\n", absl::StrJoin(per_worker, " ").c_str());

  // Affinity: a second call for an open stream reaches the worker that holds
  // it (which refuses it as already open there), not another one.
  {
    StreamCall second(Connect(router_->grpc_port()), "", streams[0]->id());
    EXPECT_FALSE(second.Open(OpenRequest(streams[0]->id(), SeedOf(0), /*create=*/false)));
    const grpc::Status status = second.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "on this worker"))
        << status.error_message();
  }

  const absl::Time started_at = absl::Now();
  for (auto& stream : streams) stream->Start();
  ASSERT_TRUE(WaitFor([&] {
    for (auto& stream : streams) {
      if (stream->TokensInCurrentCall() < kTokensBeforeKill ||
          stream->CheckpointsInCurrentCall() == 0) {
        return false;
      }
    }
    return true;
  })) << "the streams did not all reach "
      << kTokensBeforeKill << " tokens and a durable checkpoint:\n"
      << Describe(streams);

  std::printf("%zu tokens and a checkpoint per stream after %.1f s\n", kTokensBeforeKill,
              absl::ToDoubleSeconds(absl::Now() - started_at));
  // Phase 1: SIGKILL the worker holding the most streams.
  const int victim =
      static_cast<int>(std::max_element(per_worker.begin(), per_worker.end()) - per_worker.begin());
  ASSERT_LT(per_worker[victim], kStreams) << "every stream hashed to one worker";
  const absl::Time killed_at = absl::Now();
  workers_[victim].process->Signal(SIGKILL);
  ASSERT_TRUE(workers_[victim].process->Wait().ok());
  workers_[victim].alive = false;

  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < kStreams; ++i) {
      if (worker_of[i] != victim) continue;
      if (streams[i]->CallCount() < 2 || streams[i]->TokensInCurrentCall() < kTokensAfterResume) {
        return false;
      }
    }
    return true;
  })) << "the killed worker's streams did not all resume:\n"
      << Describe(streams) << router_->Log();
  const absl::Time phase1_done = absl::Now();
  // The other streams kept going all along.
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < kStreams; ++i) {
      if (worker_of[i] != victim && streams[i]->LastTokenAt() <= phase1_done) return false;
    }
    return true;
  })) << "a stream on a surviving worker stopped generating:\n"
      << Describe(streams);

  // Phase 2: SIGTERM the surviving worker with the most open streams, as
  // Kubernetes stops a pod.
  const std::vector<double> gauges = Gauges();
  const int drained =
      static_cast<int>(std::max_element(gauges.begin(), gauges.end()) - gauges.begin());
  const int drained_streams = static_cast<int>(gauges[drained]);
  std::vector<size_t> calls_before_term;
  for (auto& stream : streams) calls_before_term.push_back(stream->CallCount());
  const absl::Time term_at = absl::Now();
  workers_[drained].process->Signal(SIGTERM);
  absl::StatusOr<int> exit = workers_[drained].process->Wait();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << workers_[drained].process->Log();
  workers_[drained].alive = false;
  std::vector<int> moved_by_term;
  ASSERT_TRUE(WaitFor([&] {
    moved_by_term.clear();
    for (int i = 0; i < kStreams; ++i) {
      if (streams[i]->CallCount() == calls_before_term[i]) continue;
      moved_by_term.push_back(i);
      if (streams[i]->TokensInCurrentCall() < kTokensAfterResume) return false;
    }
    return static_cast<int>(moved_by_term.size()) == drained_streams;
  })) << "the drained worker's "
      << drained_streams << " streams did not all resume:\n"
      << Describe(streams) << router_->Log();

  for (auto& stream : streams) stream->Stop();
  for (auto& stream : streams) EXPECT_EQ(stream->failure(), "");

  // The reference continuations, generated afterwards on the last worker.
  std::vector<std::vector<Call>> calls;
  std::vector<size_t> needed(kStreams, 0);
  for (int i = 0; i < kStreams; ++i) {
    calls.push_back(streams[i]->Calls());
    for (const Call& call : calls[i]) {
      for (const Token& token : call.tokens) {
        needed[i] = std::max<size_t>(needed[i], token.position + 1 - PromptOf(i).size());
      }
    }
  }
  std::vector<std::vector<int>> reference(kStreams);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kStreams; ++i) {
      threads.emplace_back(
          [&, i] { reference[i] = ReferenceTokens(router_->grpc_port(), i, needed[i]); });
    }
    for (std::thread& t : threads) t.join();
  }

  std::vector<double> kill_to_token_ms, term_to_token_ms;
  for (int i = 0; i < kStreams; ++i) {
    SCOPED_TRACE(streams[i]->id());
    ASSERT_EQ(reference[i].size(), needed[i]);
    const size_t prompt = PromptOf(i).size();
    // Every delivered token is the reference's token at its position.
    int mismatches = 0;
    for (const Call& call : calls[i]) {
      for (const Token& token : call.tokens) {
        mismatches += reference[i][token.position - prompt] != token.id;
      }
    }
    EXPECT_EQ(mismatches, 0);
    // Together the calls delivered every position once at least: a resumed
    // call starts where the stream's checkpoint left it, never past a token
    // the client has not seen.
    std::vector<bool> seen(needed[i], false);
    for (const Call& call : calls[i]) {
      for (const Token& token : call.tokens) seen[token.position - prompt] = true;
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), false), 0);
    const bool killed = worker_of[i] == victim;
    const bool drained_here =
        std::find(moved_by_term.begin(), moved_by_term.end(), i) != moved_by_term.end();
    ASSERT_EQ(calls[i].size(), 1u + (killed ? 1 : 0) + (drained_here ? 1 : 0));
    // The last call ended cleanly, on Stop().
    EXPECT_TRUE(calls[i].back().status.ok()) << calls[i].back().status.error_message();
    size_t next = 1;
    if (killed) {
      const Call& before = calls[i][0];
      const Call& after = calls[i][next++];
      EXPECT_FALSE(before.status.ok());
      ASSERT_FALSE(before.checkpoints.empty());
      // Nothing acknowledged as checkpointed was lost.
      EXPECT_GE(after.start_token_count, before.checkpoints.back().first);
      // Refused while the dead worker's lease lived.
      EXPECT_GT(after.refused_aborted, 0);
      ASSERT_FALSE(after.tokens.empty());
      kill_to_token_ms.push_back(absl::ToDoubleMilliseconds(after.tokens.front().at - killed_at));
    } else {
      // Not disturbed: the first call went on generating through the kill.
      EXPECT_GT(calls[i][0].tokens.back().at, phase1_done);
    }
    if (drained_here) {
      const Call& before = calls[i][next - 1];
      const Call& after = calls[i][next];
      EXPECT_EQ(before.status.error_code(), grpc::StatusCode::UNAVAILABLE)
          << before.status.error_message();
      // SIGTERM checkpointed the stream, and the next worker took it at
      // once from exactly there (the lease was released).
      ASSERT_FALSE(before.checkpoints.empty());
      EXPECT_GT(before.checkpoints.back().second, term_at);
      EXPECT_EQ(after.start_token_count, before.checkpoints.back().first);
      EXPECT_EQ(after.refused_aborted, 0);
      ASSERT_FALSE(after.tokens.empty());
      term_to_token_ms.push_back(absl::ToDoubleMilliseconds(after.tokens.front().at - term_at));
    }
  }
  std::printf("SIGKILL -> first resumed token: %s (lease TTL 2 s)\n",
              Summary(kill_to_token_ms).c_str());
  std::printf("SIGTERM -> first resumed token: %s\n", Summary(term_to_token_ms).c_str());
  RecordProperty("kill_to_first_token_ms", Summary(kill_to_token_ms));
  RecordProperty("term_to_first_token_ms", Summary(term_to_token_ms));
  EXPECT_EQ(kill_to_token_ms.size(), static_cast<size_t>(per_worker[victim]));
  EXPECT_EQ(term_to_token_ms.size(), static_cast<size_t>(drained_streams));
}

}  // namespace
}  // namespace gander::testing
