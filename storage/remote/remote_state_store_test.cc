// The remote store against a real in-process server (127.0.0.1:0) whose
// store is the in-memory model or the RocksDB store:
//  - random sequences of every operation, valid and invalid, give the same
//    results (status codes and full contents) as the in-memory model called
//    directly, on a shared FakeClock (the server's clock is the one that
//    counts);
//  - multi-MiB checkpoints travel in several chunks, bit-exact, both ways;
//  - the store's errors arrive with their code and message;
//  - a server that goes away is UNAVAILABLE at once, a slow one
//    DEADLINE_EXCEEDED, a corrupt download DATA_LOSS;
//  - several clients racing on one stream: the store's compare-and-set holds.
//
// Knob: GANDER_REMOTE_DIFF_OPS operations per sequence (default 2000).
#include "storage/remote/remote_state_store.h"

#include <atomic>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "service/store/in_process_store_server.h"
#include "storage/fake_clock.h"
#include "storage/memory_state_store.h"
#include "storage/remote/wire.h"
#include "storage/rocksdb_state_store.h"
#include "storage/store_differential.h"
#include "storage/store_test_util.h"

namespace gander::storage {
namespace {

using absl::StatusCode;
using service::InProcessStoreServer;

constexpr int kRetainedVersions = 3;

// ---------------------------------------------------------------------------
// A server over a memory or RocksDB store, and a client connected to it.

enum class Backend { kMemory, kRocksDb };

std::unique_ptr<StateStore> OpenBackend(Backend backend, Clock* clock) {
  StoreOptions base{kRetainedVersions, clock};
  if (backend == Backend::kMemory) return NewMemoryStateStore(base);
  RocksDbStoreOptions options;
  options.base = base;
  options.sync = false;  // durability is the RocksDB store's own tests' business
  auto store = OpenRocksDbStateStore(NewTestDir("remote-rocksdb"), options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

std::unique_ptr<StateStore> Connect(const std::string& target,
                                    absl::Duration timeout = absl::Seconds(30)) {
  RemoteStoreOptions options;
  options.target = target;
  options.call_timeout = timeout;
  auto store = ConnectRemoteStateStore(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

class RemoteStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    backend_ = OpenBackend(GetParam(), &clock_);
    ASSERT_NE(backend_, nullptr);
    auto server = InProcessStoreServer::Start(backend_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    remote_ = Connect(server_->target());
    ASSERT_NE(remote_, nullptr);
  }
  void TearDown() override {
    remote_.reset();
    if (server_ != nullptr) server_->Shutdown();
  }

  uint64_t Acquire(const std::string& id, const std::string& owner = "worker-a") {
    auto lease = remote_->AcquireLease(id, owner, absl::Seconds(30));
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? lease->epoch : 0;
  }

  FakeClock clock_;
  std::unique_ptr<StateStore> backend_;
  std::unique_ptr<InProcessStoreServer> server_;
  std::unique_ptr<StateStore> remote_;
};

// ---------------------------------------------------------------------------
// Random sequences: the remote store (through the server) vs the in-memory
// model called directly (store_differential.h).

TEST_P(RemoteStoreTest, AgreesWithTheInMemoryModel) {
  const int ops = EnvInt("GANDER_REMOTE_DIFF_OPS", 2000);
  DifferentialOptions options;
  options.subject_name = "remote";
  options.retained_versions = kRetainedVersions;
  // Now and then several chunks (a chunk is 1 MiB), sometimes exactly a
  // whole number of them.
  options.large_payload_one_in = 25;
  options.large_payload_size = [](Rng& rng) -> size_t {
    if (rng() % 3 == 0) return 2 * wire::kMaxChunkBytes;
    return wire::kMaxChunkBytes + 1 + rng() % (2 << 20);
  };
  StoreDifferential run(GetParam() == Backend::kMemory ? 11 : 12, remote_.get(), &clock_, options);
  for (int i = 0; i < ops; ++i) {
    if (!run.Step(i)) return;
    if (i % 300 == 299 && !run.CompareAll()) return;
  }
  EXPECT_TRUE(run.CompareAll());
  std::cout << run.Summary() << std::endl;
  // The sequence exercised the interesting paths, successes included.
  for (const char* op : {"CreateStream", "CreateStreamWithCheckpoint", "Commit", "GetCheckpoint",
                         "ListVersions", "Fork", "DeleteStream", "ListStreams", "AcquireLease",
                         "RenewLease", "ReleaseLease", "DeleteIdleStreams"}) {
    EXPECT_GT(run.Count(op, "OK"), 0) << op;
    EXPECT_GT(run.Count(op, "INVALID_ARGUMENT") + run.Count(op, "NOT_FOUND"), 0) << op;
  }
  for (const char* op : {"Commit", "AcquireLease", "RenewLease", "ReleaseLease"}) {
    EXPECT_GT(run.Count(op, "ABORTED"), 0) << op;
  }
  EXPECT_GT(run.Count("Commit", "OK"), ops / 40);
  EXPECT_GT(run.Count("Fork", "ALREADY_EXISTS"), 0);
  EXPECT_GT(run.Count("DeleteIdleStreams", "deleted some"), 0);
  EXPECT_GT(run.Count("ListStreams", "continued"), 0);
  EXPECT_GT(run.large_payloads(), 5);
}

// ---------------------------------------------------------------------------
// Transfers.

TEST_P(RemoteStoreTest, MultiMebibyteCheckpointsTravelInChunks) {
  std::mt19937_64 rng(5);
  ASSERT_TRUE(remote_->CreateStream({"big", "acme", "m"}).ok());
  const uint64_t epoch = Acquire("big");
  // Several chunks with a short last one, exactly two full chunks, one byte
  // over a chunk, and one byte.
  const std::vector<size_t> sizes = {(7 << 20) / 2 + 123, 2 * wire::kMaxChunkBytes,
                                     wire::kMaxChunkBytes + 1, 1};
  std::vector<std::string> states;
  for (size_t i = 0; i < sizes.size(); ++i) {
    states.push_back(RandomBytes(rng, sizes[i]));
    auto v = remote_->Commit({"big", i, epoch, states.back(), 100 + i});
    ASSERT_TRUE(v.ok()) << sizes[i] << ": " << v.status();
    EXPECT_EQ(*v, i + 1);
  }
  // retained_versions = 3: versions 2..4; each one bit-exact.
  for (uint64_t v = 2; v <= 4; ++v) {
    auto checkpoint = remote_->GetCheckpoint("big", v);
    ASSERT_TRUE(checkpoint.ok()) << v << ": " << checkpoint.status();
    EXPECT_TRUE(checkpoint->bytes == states[v - 1]) << v;
    EXPECT_EQ(checkpoint->info.version, v);
    EXPECT_EQ(checkpoint->info.size_bytes, sizes[v - 1]);
    EXPECT_EQ(checkpoint->info.checkpoint_id, wire::CheckpointIdOf(states[v - 1]));
    EXPECT_EQ(checkpoint->info.token_count, 100 + v - 1);
    // The server's store holds the same.
    auto direct = backend_->GetCheckpoint("big", v);
    ASSERT_TRUE(direct.ok());
    EXPECT_EQ(ToString(*direct), ToString(*checkpoint));
  }
  EXPECT_EQ(CodeOf(remote_->GetCheckpoint("big", 1)), StatusCode::kNotFound);

  // An import of 5 MiB, then a fork of it (no bytes copied, same id).
  const std::string imported = RandomBytes(rng, 5 << 20);
  auto info = remote_->CreateStreamWithCheckpoint({"imp", "acme", "m"}, imported, 7);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->version, 1u);
  ASSERT_TRUE(remote_->Fork("imp", 0, {"imp-fork", "acme", ""}).ok());
  auto forked = remote_->GetCheckpoint("imp-fork", 0);
  ASSERT_TRUE(forked.ok()) << forked.status();
  EXPECT_TRUE(forked->bytes == imported);
  EXPECT_EQ(forked->info.checkpoint_id, wire::CheckpointIdOf(imported));
}

TEST_P(RemoteStoreTest, EmptyCheckpointIsRefusedAndChangesNothing) {
  ASSERT_TRUE(remote_->CreateStream({"s1", "acme", "m"}).ok());
  const uint64_t epoch = Acquire("s1");
  auto commit = remote_->Commit({"s1", 0, epoch, "", 1});
  EXPECT_EQ(CodeOf(commit), StatusCode::kInvalidArgument);
  EXPECT_NE(commit.status().message().find("empty"), absl::string_view::npos) << commit.status();
  // Arguments before existence, as in the interface.
  EXPECT_EQ(CodeOf(remote_->Commit({"missing", 0, epoch, "", 1})), StatusCode::kInvalidArgument);
  EXPECT_EQ(remote_->GetStream("s1")->version, 0u);
  EXPECT_EQ(CodeOf(remote_->CreateStreamWithCheckpoint({"s2", "acme", "m"}, "", 1)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(remote_->GetStream("s2")), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------
// Errors and arguments.

TEST_P(RemoteStoreTest, StoreErrorsArriveWithTheirCodeAndMessage) {
  ASSERT_TRUE(remote_->CreateStream({"s1", "acme", "m"}).ok());
  const auto same = [](const absl::Status& remote, const absl::Status& direct) {
    EXPECT_EQ(remote.code(), direct.code());
    EXPECT_EQ(remote.message(), direct.message());
    EXPECT_FALSE(direct.ok());
  };
  same(remote_->GetStream("nope").status(), backend_->GetStream("nope").status());
  same(remote_->CreateStream({"s1", "acme", "m"}).status(),
       backend_->CreateStream({"s1", "acme", "m"}).status());
  same(remote_->GetStream("x/y").status(), backend_->GetStream("x/y").status());
  const uint64_t epoch = Acquire("s1");
  same(remote_->AcquireLease("s1", "worker-b", absl::Seconds(5)).status(),
       backend_->AcquireLease("s1", "worker-b", absl::Seconds(5)).status());
  same(remote_->Commit({"s1", 3, epoch, "x", 0}).status(),
       backend_->Commit({"s1", 3, epoch, "x", 0}).status());
  same(remote_->ListStreams("acme", 5, "garbage").status(),
       backend_->ListStreams("acme", 5, "garbage").status());
}

TEST_P(RemoteStoreTest, ArgumentsThatCannotBeSentAreInvalid) {
  ASSERT_TRUE(remote_->CreateStream({"s1", "acme", "m"}).ok());
  // Not UTF-8: refused by the client.
  EXPECT_EQ(CodeOf(remote_->GetStream("\xff")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(remote_->CreateStream({"ok", "acme", "\xc3"})), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(remote_->AcquireLease("s1", "\xed\xa0\x80", absl::Seconds(1))),
            StatusCode::kInvalidArgument);
  // UTF-8 but not a name: refused by the store behind the server.
  EXPECT_EQ(CodeOf(remote_->GetStream("caf\xc3\xa9")), StatusCode::kInvalidArgument);
  // Page sizes and TTLs without a wire form.
  EXPECT_EQ(CodeOf(remote_->ListStreams("acme", 0, "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(remote_->ListStreams("acme", -5, "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(remote_->ListStreams("acme", 1001, "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(remote_->AcquireLease("s1", "w", absl::InfiniteDuration())),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(remote_->DeleteIdleStreams(absl::InfiniteDuration())),
            StatusCode::kInvalidArgument);
  // A Fork's model fingerprint is ignored, whatever it holds.
  const uint64_t epoch = Acquire("s1");
  ASSERT_TRUE(remote_->Commit({"s1", 0, epoch, "state", 1}).ok());
  auto fork = remote_->Fork("s1", 0, {"f", "acme", "\xff"});
  ASSERT_TRUE(fork.ok()) << fork.status();
  EXPECT_EQ(fork->model_fingerprint, "m");
}

TEST_P(RemoteStoreTest, LeasesRunOnTheServersClock) {
  ASSERT_TRUE(remote_->CreateStream({"s1", "acme", "m"}).ok());
  auto lease = remote_->AcquireLease("s1", "worker-a", absl::Seconds(30));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->expires, clock_.Now() + absl::Seconds(30));  // the fake clock, not ours
  clock_.Advance(absl::Seconds(10));
  auto renewed = remote_->RenewLease("s1", lease->epoch, absl::Seconds(30));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->epoch, lease->epoch);
  EXPECT_EQ(renewed->expires, clock_.Now() + absl::Seconds(30));
  clock_.Advance(absl::Seconds(30));  // exactly at `expires`: expired
  EXPECT_EQ(CodeOf(remote_->Commit({"s1", 0, lease->epoch, "x", 0})), StatusCode::kAborted);
  auto other = remote_->AcquireLease("s1", "worker-b", absl::Seconds(30));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_GT(other->epoch, lease->epoch);
}

// Several clients, each on its own channel, race on one stream: the store's
// compare-and-set decides, and exactly one commit per version wins.
TEST_P(RemoteStoreTest, RacingClientsCommitEachVersionOnce) {
  ASSERT_TRUE(remote_->CreateStream({"race", "acme", "m"}).ok());
  const uint64_t epoch = Acquire("race");
  constexpr int kClients = 4;
  constexpr int kRounds = 12;
  std::atomic<int> wins{0}, aborted{0}, other{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      std::unique_ptr<StateStore> client = Connect(server_->target());
      if (client == nullptr) return;
      for (int round = 0; round < kRounds; ++round) {
        auto head = client->GetStream("race");
        if (!head.ok()) {
          ++other;
          continue;
        }
        auto v = client->Commit(
            {"race", head->version, epoch, absl::StrCat("client-", c, "-round-", round), 0});
        if (v.ok()) {
          ++wins;
        } else if (v.status().code() == StatusCode::kAborted) {
          ++aborted;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(wins.load() + aborted.load(), kClients * kRounds);
  auto info = remote_->GetStream("race");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->version, static_cast<uint64_t>(wins.load()));
}

INSTANTIATE_TEST_SUITE_P(Backends, RemoteStoreTest,
                         ::testing::Values(Backend::kMemory, Backend::kRocksDb),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kMemory ? "Memory" : "RocksDb";
                         });

// ---------------------------------------------------------------------------
// Transport failures.

// Forwards every call to `base`; tests override what they break.
class ForwardingStore : public StateStore {
 public:
  explicit ForwardingStore(StateStore* base) : base_(base) {}
  absl::StatusOr<StreamInfo> CreateStream(const CreateStreamRequest& r) override {
    return base_->CreateStream(r);
  }
  absl::StatusOr<StreamInfo> GetStream(const std::string& id) override {
    return base_->GetStream(id);
  }
  absl::StatusOr<StreamInfo> CreateStreamWithCheckpoint(const CreateStreamRequest& r,
                                                        const std::string& checkpoint,
                                                        uint64_t token_count) override {
    return base_->CreateStreamWithCheckpoint(r, checkpoint, token_count);
  }
  absl::StatusOr<uint64_t> Commit(const CommitRequest& r) override { return base_->Commit(r); }
  absl::StatusOr<Checkpoint> GetCheckpoint(const std::string& id, uint64_t version) override {
    return base_->GetCheckpoint(id, version);
  }
  absl::StatusOr<std::vector<VersionInfo>> ListVersions(const std::string& id) override {
    return base_->ListVersions(id);
  }
  absl::StatusOr<StreamInfo> Fork(const std::string& source, uint64_t version,
                                  const CreateStreamRequest& r) override {
    return base_->Fork(source, version, r);
  }
  absl::Status DeleteStream(const std::string& id) override { return base_->DeleteStream(id); }
  absl::StatusOr<ListStreamsResult> ListStreams(const std::string& tenant, int page_size,
                                                const std::string& token) override {
    return base_->ListStreams(tenant, page_size, token);
  }
  absl::StatusOr<Lease> AcquireLease(const std::string& id, const std::string& owner,
                                     absl::Duration ttl) override {
    return base_->AcquireLease(id, owner, ttl);
  }
  absl::StatusOr<Lease> RenewLease(const std::string& id, uint64_t epoch,
                                   absl::Duration ttl) override {
    return base_->RenewLease(id, epoch, ttl);
  }
  absl::Status ReleaseLease(const std::string& id, uint64_t epoch) override {
    return base_->ReleaseLease(id, epoch);
  }
  absl::StatusOr<int> DeleteIdleStreams(absl::Duration idle_ttl) override {
    return base_->DeleteIdleStreams(idle_ttl);
  }

 private:
  StateStore* const base_;
};

TEST(RemoteStoreTransport, ServerThatGoesAwayIsUnavailableNotAHang) {
  std::unique_ptr<StateStore> backend = NewMemoryStateStore({});
  auto server = InProcessStoreServer::Start(backend.get());
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<StateStore> remote = Connect((*server)->target(), absl::Seconds(20));
  ASSERT_NE(remote, nullptr);
  ASSERT_TRUE(remote->CreateStream({"s1", "acme", "m"}).ok());
  (*server)->Shutdown();

  const absl::Time start = absl::Now();
  EXPECT_EQ(CodeOf(remote->GetStream("s1")), StatusCode::kUnavailable);
  EXPECT_EQ(CodeOf(remote->Commit({"s1", 0, 1, std::string(3 << 20, 'x'), 0})),
            StatusCode::kUnavailable);
  EXPECT_EQ(CodeOf(remote->GetCheckpoint("s1", 0)), StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "a call waited for a dead server";

  // A client that waits for the connection gives up after connect_timeout.
  RemoteStoreOptions options;
  options.target = (*server)->target();
  options.connect_timeout = absl::Milliseconds(300);
  auto waiting = ConnectRemoteStateStore(options);
  EXPECT_EQ(CodeOf(waiting), StatusCode::kUnavailable);
}

TEST(RemoteStoreTransport, ConnectTimeoutWaitsForALiveServer) {
  std::unique_ptr<StateStore> backend = NewMemoryStateStore({});
  auto server = InProcessStoreServer::Start(backend.get());
  ASSERT_TRUE(server.ok()) << server.status();
  RemoteStoreOptions options;
  options.target = (*server)->target();
  options.connect_timeout = absl::Seconds(10);
  auto remote = ConnectRemoteStateStore(options);
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_TRUE((*remote)->CreateStream({"s1", "acme", "m"}).ok());
}

TEST(RemoteStoreTransport, SlowServerIsDeadlineExceeded) {
  std::unique_ptr<StateStore> memory = NewMemoryStateStore({});
  absl::Notification release;
  class Slow : public ForwardingStore {
   public:
    Slow(StateStore* base, absl::Notification* release)
        : ForwardingStore(base), release_(release) {}
    absl::StatusOr<StreamInfo> GetStream(const std::string& id) override {
      release_->WaitForNotificationWithTimeout(absl::Seconds(10));
      return ForwardingStore::GetStream(id);
    }

   private:
    absl::Notification* release_;
  } slow(memory.get(), &release);
  auto server = InProcessStoreServer::Start(&slow);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<StateStore> remote = Connect((*server)->target(), absl::Milliseconds(300));
  ASSERT_NE(remote, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_EQ(CodeOf(remote->GetStream("s1")), StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  release.Notify();
  EXPECT_EQ(CodeOf(remote->GetStream("s1")), StatusCode::kNotFound);
}

// A server whose downloads do not match their headers: the client discards
// them (DATA_LOSS), never returns the bytes.
TEST(RemoteStoreTransport, CorruptDownloadIsDataLoss) {
  std::unique_ptr<StateStore> memory = NewMemoryStateStore({});
  enum class Damage { kNone, kFlipByte, kLongerHeader, kShorterHeader, kBadId };
  class Corrupting : public ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    absl::StatusOr<Checkpoint> GetCheckpoint(const std::string& id, uint64_t version) override {
      absl::StatusOr<Checkpoint> c = ForwardingStore::GetCheckpoint(id, version);
      if (!c.ok()) return c;
      switch (damage) {
        case Damage::kNone:
          break;
        case Damage::kFlipByte:
          c->bytes[c->bytes.size() / 2] ^= 0x01;
          break;
        case Damage::kLongerHeader:
          c->info.size_bytes += 1;
          break;
        case Damage::kShorterHeader:
          c->info.size_bytes -= 1;
          break;
        case Damage::kBadId:
          c->info.checkpoint_id = "not-an-id";
          break;
      }
      return c;
    }
    std::atomic<Damage> damage{Damage::kNone};
  } corrupting(memory.get());
  auto server = InProcessStoreServer::Start(&corrupting);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<StateStore> remote = Connect((*server)->target());
  ASSERT_NE(remote, nullptr);
  std::mt19937_64 rng(9);
  const std::string state = RandomBytes(rng, (5 << 20) / 2);
  ASSERT_TRUE(remote->CreateStreamWithCheckpoint({"s1", "acme", "m"}, state, 1).ok());
  ASSERT_TRUE(remote->GetCheckpoint("s1", 0).ok());
  for (Damage damage :
       {Damage::kFlipByte, Damage::kLongerHeader, Damage::kShorterHeader, Damage::kBadId}) {
    corrupting.damage = damage;
    auto c = remote->GetCheckpoint("s1", 0);
    EXPECT_EQ(CodeOf(c), StatusCode::kDataLoss) << static_cast<int>(damage) << " " << c.status();
  }
  corrupting.damage = Damage::kNone;
  auto c = remote->GetCheckpoint("s1", 0);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->bytes == state);
}

TEST(RemoteStoreOptions, OutOfRangeIsInvalid) {
  RemoteStoreOptions options;
  EXPECT_EQ(CodeOf(ConnectRemoteStateStore(options)), StatusCode::kInvalidArgument);
  options.target = "127.0.0.1:1";
  options.call_timeout = absl::ZeroDuration();
  EXPECT_EQ(CodeOf(ConnectRemoteStateStore(options)), StatusCode::kInvalidArgument);
  options.call_timeout = absl::Seconds(1);
  options.connect_timeout = absl::Seconds(-1);
  EXPECT_EQ(CodeOf(ConnectRemoteStateStore(options)), StatusCode::kInvalidArgument);
  options.connect_timeout.reset();
  options.max_receive_message_bytes = 1 << 20;
  EXPECT_EQ(CodeOf(ConnectRemoteStateStore(options)), StatusCode::kInvalidArgument);
  options.max_receive_message_bytes = 4 << 20;
  EXPECT_TRUE(ConnectRemoteStateStore(options).ok());  // lazy: nothing listens there
}

}  // namespace
}  // namespace gander::storage
