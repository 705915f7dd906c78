// The StateStore contract (storage/state_store.h), operation by operation
// and error by error, run against both implementations: the in-memory model
// and the RocksDB store. (The differential test checks that they agree on
// long random sequences; this one checks that they are right.)
#include "storage/state_store.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/fake_clock.h"
#include "storage/memory_state_store.h"
#include "storage/rocksdb_state_store.h"
#include "storage/store_test_util.h"
#include "xxhash.h"

namespace gander::storage {
namespace {

using absl::StatusCode;

enum class Kind { kMemory, kRocksDb };

class StateStoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override { store_ = Open(3); }

  std::unique_ptr<StateStore> Open(int retained_versions) {
    StoreOptions options;
    options.retained_versions = retained_versions;
    options.clock = &clock_;
    if (GetParam() == Kind::kMemory) return NewMemoryStateStore(options);
    RocksDbStoreOptions rocks;
    rocks.base = options;
    rocks.sync = false;  // durability is the crash test's business; keep this fast
    auto store = OpenRocksDbStateStore(NewTestDir("contract"), rocks);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  StreamInfo Create(const std::string& id, const std::string& tenant = "acme") {
    auto info = store_->CreateStream({id, tenant, "model-1"});
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : StreamInfo();
  }
  uint64_t Acquire(const std::string& id, const std::string& owner = "worker-a",
                   absl::Duration ttl = absl::Seconds(30)) {
    auto lease = store_->AcquireLease(id, owner, ttl);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? lease->epoch : 0;
  }
  absl::StatusOr<uint64_t> Commit(const std::string& id, uint64_t expected, uint64_t epoch,
                                  const std::string& bytes, uint64_t tokens = 0) {
    return store_->Commit({id, expected, epoch, bytes, tokens});
  }

  FakeClock clock_;
  std::unique_ptr<StateStore> store_;
};

std::string HexXxh128(const std::string& bytes) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(bytes.data(), bytes.size()));
  std::string hex;
  for (unsigned char c : canonical.digest) {
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 15];
  }
  return hex;
}

TEST_P(StateStoreTest, CreateAndGet) {
  const absl::Time now = clock_.Now();
  StreamInfo info = Create("s1");
  EXPECT_EQ(info.id, "s1");
  EXPECT_EQ(info.tenant, "acme");
  EXPECT_EQ(info.model_fingerprint, "model-1");
  EXPECT_EQ(info.version, 0u);
  EXPECT_EQ(info.token_count, 0u);
  EXPECT_EQ(info.parent_id, "");
  EXPECT_EQ(info.created, now);
  EXPECT_EQ(info.updated, now);
  auto got = store_->GetStream("s1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ToString(*got), ToString(info));
  EXPECT_EQ(CodeOf(store_->GetStream("s2")), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->CreateStream({"s1", "other", "m"})), StatusCode::kAlreadyExists);
  auto versions = store_->ListVersions("s1");
  ASSERT_TRUE(versions.ok());
  EXPECT_TRUE(versions->empty());
}

TEST_P(StateStoreTest, RejectsMalformedNames) {
  const std::string long_name(129, 'a');
  EXPECT_TRUE(store_->CreateStream({std::string(128, 'a'), "t", "m"}).ok());
  EXPECT_TRUE(store_->CreateStream({"A-z.0_9:x", "t", std::string(256, 'f')}).ok());
  for (const CreateStreamRequest& bad : std::vector<CreateStreamRequest>{
           {"", "t", "m"},
           {long_name, "t", "m"},
           {"a/b", "t", "m"},
           {std::string("a\0b", 3), "t", "m"},
           {"a b", "t", "m"},
           {"ok", "", "m"},
           {"ok", "t t", "m"},
           {"ok", long_name, "m"},
           {"ok", "t", ""},
           {"ok", "t", std::string(257, 'f')},
       }) {
    EXPECT_EQ(CodeOf(store_->CreateStream(bad)), StatusCode::kInvalidArgument) << bad.id;
    EXPECT_EQ(CodeOf(store_->CreateStreamWithCheckpoint(bad, "x", 1)), StatusCode::kInvalidArgument)
        << bad.id;
  }
  EXPECT_EQ(CodeOf(store_->GetStream("")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->GetStream("bad/id")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("bad/id", 0)), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->ListVersions("bad/id")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->DeleteStream("bad/id")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->AcquireLease("ok", "bad owner", absl::Seconds(1))),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->Fork("bad/id", 0, {"f", "t", ""})), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->Fork("ok", 0, {"f", "", ""})), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->ListStreams("bad tenant", 10, "")), StatusCode::kInvalidArgument);
  // Arguments are checked before existence.
  EXPECT_EQ(CodeOf(store_->Commit({"missing", 0, 1, "", 0})), StatusCode::kInvalidArgument);
}

TEST_P(StateStoreTest, CommitNeedsTheLiveLeaseAndTheHead) {
  Create("s1");
  EXPECT_EQ(CodeOf(Commit("s1", 0, 1, "state")), StatusCode::kAborted);  // no lease at all
  const uint64_t epoch = Acquire("s1");
  EXPECT_EQ(CodeOf(Commit("s1", 0, epoch + 1, "state")), StatusCode::kAborted);
  EXPECT_EQ(CodeOf(Commit("s1", 0, 0, "state")), StatusCode::kAborted);
  EXPECT_EQ(CodeOf(Commit("s1", 1, epoch, "state")), StatusCode::kAborted);  // ahead of head
  EXPECT_EQ(CodeOf(Commit("s1", 0, epoch, "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(Commit("nope", 0, epoch, "state")), StatusCode::kNotFound);

  clock_.Advance(absl::Seconds(1));
  auto v1 = Commit("s1", 0, epoch, "state-1", 10);
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, 1u);
  EXPECT_EQ(CodeOf(Commit("s1", 0, epoch, "state-1b")), StatusCode::kAborted);  // stale
  auto v2 = Commit("s1", 1, epoch, "state-2", 20);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*v2, 2u);

  auto info = store_->GetStream("s1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->version, 2u);
  EXPECT_EQ(info->token_count, 20u);
  EXPECT_EQ(info->updated, clock_.Now());
  EXPECT_EQ(info->created, clock_.Now() - absl::Seconds(1));

  // The lease expires exactly at `expires`.
  clock_.Advance(absl::Seconds(29));
  EXPECT_EQ(CodeOf(Commit("s1", 2, epoch, "state-3")), StatusCode::kAborted);
  // A failed commit changed nothing.
  info = store_->GetStream("s1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->version, 2u);
}

TEST_P(StateStoreTest, GetCheckpointHeadAndRetainedVersions) {
  Create("s1");
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("s1", 0)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("s1", 1)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("nope", 0)), StatusCode::kNotFound);
  const uint64_t epoch = Acquire("s1");
  Rng rng(1);
  std::vector<std::string> states;
  for (int v = 1; v <= 5; ++v) {
    states.push_back(RandomBytes(rng, 100 + v));
    clock_.Advance(absl::Milliseconds(v));
    ASSERT_TRUE(Commit("s1", v - 1, epoch, states.back(), v * 7).ok());
  }
  // retained_versions = 3: versions 3, 4, 5.
  auto versions = store_->ListVersions("s1");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const VersionInfo& v = (*versions)[i];
    EXPECT_EQ(v.version, 3u + i);
    EXPECT_EQ(v.checkpoint_id, HexXxh128(states[2 + i]));
    EXPECT_EQ(v.token_count, (3u + i) * 7);
    EXPECT_EQ(v.size_bytes, states[2 + i].size());
  }
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("s1", 1)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("s1", 2)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("s1", 6)), StatusCode::kNotFound);
  for (uint64_t v : {0u, 3u, 4u, 5u}) {
    auto checkpoint = store_->GetCheckpoint("s1", v);
    ASSERT_TRUE(checkpoint.ok()) << v << ": " << checkpoint.status();
    const uint64_t number = v == 0 ? 5 : v;
    EXPECT_EQ(checkpoint->bytes, states[number - 1]);
    EXPECT_EQ(ToString(checkpoint->info), ToString((*versions)[number - 3]));
  }
}

TEST_P(StateStoreTest, CreateStreamWithCheckpoint) {
  auto info = store_->CreateStreamWithCheckpoint({"imp", "acme", "model-2"}, "imported", 99);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->version, 1u);
  EXPECT_EQ(info->token_count, 99u);
  EXPECT_EQ(info->model_fingerprint, "model-2");
  auto checkpoint = store_->GetCheckpoint("imp", 1);
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(checkpoint->bytes, "imported");
  EXPECT_EQ(checkpoint->info.token_count, 99u);
  EXPECT_EQ(CodeOf(store_->CreateStreamWithCheckpoint({"imp", "acme", "m"}, "x", 1)),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeOf(store_->CreateStreamWithCheckpoint({"imp2", "acme", "m"}, "", 1)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->GetStream("imp2")), StatusCode::kNotFound);
  // It continues like any stream.
  const uint64_t epoch = Acquire("imp");
  EXPECT_EQ(CodeOf(Commit("imp", 0, epoch, "x")), StatusCode::kAborted);
  EXPECT_TRUE(Commit("imp", 1, epoch, "next").ok());
}

TEST_P(StateStoreTest, ForkSharesTheCheckpointAndIsIndependent) {
  Create("src", "acme");
  const uint64_t epoch = Acquire("src");
  ASSERT_TRUE(Commit("src", 0, epoch, "one", 1).ok());
  ASSERT_TRUE(Commit("src", 1, epoch, "two", 2).ok());
  clock_.Advance(absl::Seconds(5));

  auto head_fork = store_->Fork("src", 0, {"f-head", "globex", "ignored"});
  ASSERT_TRUE(head_fork.ok()) << head_fork.status();
  EXPECT_EQ(head_fork->tenant, "globex");
  EXPECT_EQ(head_fork->model_fingerprint, "model-1");
  EXPECT_EQ(head_fork->version, 1u);
  EXPECT_EQ(head_fork->token_count, 2u);
  EXPECT_EQ(head_fork->parent_id, "src");
  EXPECT_EQ(head_fork->parent_version, 2u);
  EXPECT_EQ(head_fork->created, clock_.Now());
  auto old_fork = store_->Fork("src", 1, {"f-old", "acme", ""});
  ASSERT_TRUE(old_fork.ok()) << old_fork.status();
  EXPECT_EQ(old_fork->parent_version, 1u);
  EXPECT_EQ(old_fork->token_count, 1u);

  // Forking refreshes the source's `updated`, nothing else.
  auto src = store_->GetStream("src");
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(src->updated, clock_.Now());
  EXPECT_EQ(src->version, 2u);

  auto a = store_->GetCheckpoint("f-head", 0);
  auto b = store_->GetCheckpoint("src", 2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->bytes, "two");
  EXPECT_EQ(a->info.checkpoint_id, b->info.checkpoint_id);
  EXPECT_EQ(a->info.version, 1u);
  auto c = store_->GetCheckpoint("f-old", 1);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->bytes, "one");

  // Independent from here on.
  const uint64_t fork_epoch = Acquire("f-head", "worker-b");
  ASSERT_TRUE(Commit("f-head", 1, fork_epoch, "fork-two", 3).ok());
  auto src_head = store_->GetCheckpoint("src", 0);
  ASSERT_TRUE(src_head.ok());
  EXPECT_EQ(src_head->bytes, "two");

  // Errors, in their documented order.
  EXPECT_EQ(CodeOf(store_->Fork("nope", 0, {"x", "acme", ""})), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->Fork("src", 0, {"f-old", "acme", ""})), StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeOf(store_->Fork("src", 0, {"src", "acme", ""})), StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeOf(store_->Fork("nope", 0, {"f-old", "acme", ""})), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->Fork("src", 3, {"x", "acme", ""})), StatusCode::kNotFound);
  Create("empty");
  EXPECT_EQ(CodeOf(store_->Fork("empty", 0, {"x", "acme", ""})), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetStream("x")), StatusCode::kNotFound);
}

TEST_P(StateStoreTest, ForkOfADroppedVersionIsNotFound) {
  Create("src");
  const uint64_t epoch = Acquire("src");
  for (int v = 1; v <= 4; ++v) {
    ASSERT_TRUE(Commit("src", v - 1, epoch, absl::StrCat("state-", v)).ok());
  }
  EXPECT_EQ(CodeOf(store_->Fork("src", 1, {"x", "acme", ""})), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Fork("src", 2, {"x", "acme", ""}).ok());
}

TEST_P(StateStoreTest, RetentionKeepsAForksSharedCheckpoint) {
  Create("src");
  const uint64_t epoch = Acquire("src");
  ASSERT_TRUE(Commit("src", 0, epoch, "first").ok());
  ASSERT_TRUE(store_->Fork("src", 1, {"fork", "acme", ""}).ok());
  for (int v = 2; v <= 6; ++v) {
    ASSERT_TRUE(Commit("src", v - 1, epoch, absl::StrCat("state-", v)).ok());
  }
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("src", 1)), StatusCode::kNotFound);
  auto kept = store_->GetCheckpoint("fork", 1);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->bytes, "first");
}

TEST_P(StateStoreTest, DeleteStream) {
  Create("s1");
  const uint64_t epoch = Acquire("s1");
  ASSERT_TRUE(Commit("s1", 0, epoch, "shared").ok());
  ASSERT_TRUE(store_->Fork("s1", 0, {"child", "acme", ""}).ok());
  ASSERT_TRUE(store_->DeleteStream("s1").ok());
  EXPECT_EQ(CodeOf(store_->GetStream("s1")), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetCheckpoint("s1", 0)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->ListVersions("s1")), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->DeleteStream("s1")), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->ReleaseLease("s1", epoch)), StatusCode::kNotFound);
  // The fork keeps the shared checkpoint and still names its parent.
  auto child = store_->GetCheckpoint("child", 0);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(child->bytes, "shared");
  EXPECT_EQ(store_->GetStream("child")->parent_id, "s1");
  // The id can be reused; the new stream starts empty, without the old lease.
  StreamInfo again = Create("s1");
  EXPECT_EQ(again.version, 0u);
  EXPECT_EQ(CodeOf(Commit("s1", 0, epoch, "x")), StatusCode::kAborted);
  const uint64_t new_epoch = Acquire("s1", "worker-z");
  EXPECT_GT(new_epoch, epoch);
}

TEST_P(StateStoreTest, ListStreamsPaginates) {
  std::vector<std::string> acme;
  for (int i = 0; i < 7; ++i) {
    const std::string id = absl::StrCat("s", i);
    Create(id, "acme");
    acme.push_back(id);
    Create(absl::StrCat("t", i), "globex");
  }
  Create("a0", "globex");
  for (int page_size : {1, 2, 3, 7, 8, 1000}) {
    std::vector<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      auto page = store_->ListStreams("acme", page_size, token);
      ASSERT_TRUE(page.ok()) << page.status();
      ASSERT_LE(page->streams.size(), static_cast<size_t>(page_size));
      for (const StreamInfo& s : page->streams) {
        EXPECT_EQ(s.tenant, "acme");
        seen.push_back(s.id);
      }
      token = page->next_page_token;
      ++pages;
      ASSERT_LT(pages, 20);
    } while (!token.empty());
    EXPECT_EQ(seen, acme) << page_size;
    EXPECT_EQ(pages, (7 + page_size - 1) / page_size) << page_size;  // no empty last page
  }
  auto none = store_->ListStreams("nobody", 5, "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->streams.empty());
  EXPECT_EQ(none->next_page_token, "");

  auto first = store_->ListStreams("acme", 2, "");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->streams.size(), 2u);
  // Streams deleted and created between pages: the token names the last id.
  ASSERT_TRUE(store_->DeleteStream("s1").ok());
  ASSERT_TRUE(store_->DeleteStream("s2").ok());
  Create("s10", "acme");
  auto second = store_->ListStreams("acme", 2, first->next_page_token);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->streams.size(), 2u);
  EXPECT_EQ(second->streams[0].id, "s10");
  EXPECT_EQ(second->streams[1].id, "s3");

  EXPECT_EQ(CodeOf(store_->ListStreams("globex", 2, first->next_page_token)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->ListStreams("acme", 2, "garbage!")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->ListStreams("acme", 2, "AAAA")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->ListStreams("acme", 0, "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->ListStreams("acme", 1001, "")), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->ListStreams("acme", -1, "")), StatusCode::kInvalidArgument);
}

TEST_P(StateStoreTest, LeaseLifecycle) {
  Create("s1");
  Create("s2");
  EXPECT_EQ(CodeOf(store_->AcquireLease("nope", "w", absl::Seconds(1))), StatusCode::kNotFound);
  for (absl::Duration bad : {absl::ZeroDuration(), absl::Seconds(-1),
                             absl::Hours(24) + absl::Nanoseconds(1), absl::InfiniteDuration()}) {
    EXPECT_EQ(CodeOf(store_->AcquireLease("s1", "w", bad)), StatusCode::kInvalidArgument);
    EXPECT_EQ(CodeOf(store_->RenewLease("s1", 1, bad)), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(store_->AcquireLease("s2", "w", absl::Hours(24)).ok());

  auto a = store_->AcquireLease("s1", "worker-a", absl::Seconds(10));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->stream_id, "s1");
  EXPECT_EQ(a->owner, "worker-a");
  EXPECT_EQ(a->expires, clock_.Now() + absl::Seconds(10));
  EXPECT_EQ(CodeOf(store_->AcquireLease("s1", "worker-b", absl::Seconds(10))),
            StatusCode::kAborted);

  // Renew extends, same epoch.
  clock_.Advance(absl::Seconds(9));
  auto renewed = store_->RenewLease("s1", a->epoch, absl::Seconds(10));
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_EQ(renewed->epoch, a->epoch);
  EXPECT_EQ(renewed->expires, clock_.Now() + absl::Seconds(10));
  EXPECT_EQ(CodeOf(store_->RenewLease("s1", a->epoch + 1, absl::Seconds(10))),
            StatusCode::kAborted);
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(CodeOf(store_->AcquireLease("s1", "worker-b", absl::Seconds(10))),
            StatusCode::kAborted);

  // Expired: renew fails, someone else takes over with a higher epoch, and
  // the old epoch is fenced.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(CodeOf(store_->RenewLease("s1", a->epoch, absl::Seconds(10))), StatusCode::kAborted);
  auto b = store_->AcquireLease("s1", "worker-b", absl::Seconds(10));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_GT(b->epoch, a->epoch);
  EXPECT_EQ(CodeOf(Commit("s1", 0, a->epoch, "x")), StatusCode::kAborted);
  EXPECT_EQ(CodeOf(store_->ReleaseLease("s1", a->epoch)), StatusCode::kAborted);
  EXPECT_TRUE(Commit("s1", 0, b->epoch, "x").ok());

  // The same owner re-acquiring gets a new epoch that fences its old one.
  auto b2 = store_->AcquireLease("s1", "worker-b", absl::Seconds(10));
  ASSERT_TRUE(b2.ok());
  EXPECT_GT(b2->epoch, b->epoch);
  EXPECT_EQ(CodeOf(Commit("s1", 1, b->epoch, "y")), StatusCode::kAborted);
  EXPECT_TRUE(Commit("s1", 1, b2->epoch, "y").ok());

  // Release frees it at once; releasing again is ABORTED.
  EXPECT_TRUE(store_->ReleaseLease("s1", b2->epoch).ok());
  EXPECT_EQ(CodeOf(store_->ReleaseLease("s1", b2->epoch)), StatusCode::kAborted);
  EXPECT_EQ(CodeOf(store_->RenewLease("s1", b2->epoch, absl::Seconds(1))), StatusCode::kAborted);
  EXPECT_EQ(CodeOf(Commit("s1", 2, b2->epoch, "z")), StatusCode::kAborted);
  auto c = store_->AcquireLease("s1", "worker-c", absl::Seconds(10));
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->epoch, b2->epoch);

  // An expired lease nobody took over can still be released.
  clock_.Advance(absl::Seconds(11));
  EXPECT_TRUE(store_->ReleaseLease("s1", c->epoch).ok());
}

TEST_P(StateStoreTest, EpochsAreUniqueAcrossStreams) {
  std::set<uint64_t> epochs;
  for (int i = 0; i < 5; ++i) {
    const std::string id = absl::StrCat("s", i);
    Create(id);
    auto lease = store_->AcquireLease(id, "w", absl::Seconds(1));
    ASSERT_TRUE(lease.ok());
    EXPECT_GT(lease->epoch, 0u);
    EXPECT_TRUE(epochs.insert(lease->epoch).second);
    ASSERT_TRUE(store_->DeleteStream(id).ok());
    Create(id);
    lease = store_->AcquireLease(id, "w", absl::Seconds(1));
    ASSERT_TRUE(lease.ok());
    EXPECT_TRUE(epochs.insert(lease->epoch).second);
    EXPECT_EQ(lease->epoch, *epochs.rbegin());
  }
}

TEST_P(StateStoreTest, DeleteIdleStreams) {
  Create("old");
  Create("leased");
  Create("expired-lease");
  Create("lease-ends-now");
  Create("committed");
  const uint64_t epoch = Acquire("committed", "w", absl::Hours(1));
  ASSERT_GT(Acquire("lease-ends-now", "w", absl::Hours(1)), 0u);
  clock_.Advance(absl::Minutes(30));
  ASSERT_TRUE(Commit("committed", 0, epoch, "x").ok());
  ASSERT_TRUE(store_->ReleaseLease("committed", epoch).ok());
  Acquire("leased", "w", absl::Hours(2));
  Acquire("expired-lease", "w", absl::Minutes(1));
  clock_.Advance(absl::Minutes(30));  // t = 60 min
  EXPECT_EQ(CodeOf(store_->DeleteIdleStreams(absl::Seconds(-1))), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(store_->DeleteIdleStreams(absl::InfiniteDuration())),
            StatusCode::kInvalidArgument);
  // Idle for >= 1 h: old (created at 0), expired-lease (created at 0, lease
  // expired at 31 min). leased: lease live. committed: updated at 30 min.
  // lease-ends-now: leased until 60 min, i.e. expired just now.
  auto deleted = store_->DeleteIdleStreams(absl::Hours(1));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 3);
  EXPECT_EQ(CodeOf(store_->GetStream("old")), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetStream("expired-lease")), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(store_->GetStream("lease-ends-now")), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetStream("leased").ok());
  EXPECT_TRUE(store_->GetStream("committed").ok());
  // Exactly at the boundary: updated == now - idle_ttl is idle.
  auto none = store_->DeleteIdleStreams(absl::Minutes(31));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  auto one = store_->DeleteIdleStreams(absl::Minutes(30));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1);
  EXPECT_EQ(CodeOf(store_->GetStream("committed")), StatusCode::kNotFound);
  // 0 deletes every unleased stream.
  Create("fresh");
  auto all = store_->DeleteIdleStreams(absl::ZeroDuration());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 1);
  EXPECT_TRUE(store_->GetStream("leased").ok());
}

TEST_P(StateStoreTest, ForkKeepsTheSourceFromIdleExpiry) {
  Create("base");
  const uint64_t epoch = Acquire("base");
  ASSERT_TRUE(Commit("base", 0, epoch, "prompt").ok());
  ASSERT_TRUE(store_->ReleaseLease("base", epoch).ok());
  clock_.Advance(absl::Minutes(50));
  ASSERT_TRUE(store_->Fork("base", 0, {"child", "acme", ""}).ok());
  clock_.Advance(absl::Minutes(20));
  auto deleted = store_->DeleteIdleStreams(absl::Hours(1));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  EXPECT_TRUE(store_->GetStream("base").ok());
}

TEST_P(StateStoreTest, TimesAreTruncatedToMicroseconds) {
  clock_.Advance(absl::Nanoseconds(1500));
  const absl::Time truncated = absl::FromUnixMicros(absl::ToUnixMicros(clock_.Now()));
  ASSERT_NE(truncated, clock_.Now());
  StreamInfo info = Create("s1");
  EXPECT_EQ(info.created, truncated);
  auto lease = store_->AcquireLease("s1", "w", absl::Nanoseconds(1999));
  ASSERT_TRUE(lease.ok());
  // Expiry is the (truncated) recorded now plus ttl, truncated again.
  EXPECT_EQ(lease->expires,
            absl::FromUnixMicros(absl::ToUnixMicros(truncated + absl::Nanoseconds(1999))));
}

TEST_P(StateStoreTest, DeduplicatesIdenticalCheckpoints) {
  Create("a");
  Create("b");
  const uint64_t ea = Acquire("a");
  const uint64_t eb = Acquire("b");
  ASSERT_TRUE(Commit("a", 0, ea, "same").ok());
  ASSERT_TRUE(Commit("b", 0, eb, "same").ok());
  ASSERT_TRUE(Commit("a", 1, ea, "same").ok());  // the head again
  ASSERT_TRUE(store_->DeleteStream("b").ok());
  for (uint64_t v : {1u, 2u}) {
    auto c = store_->GetCheckpoint("a", v);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->bytes, "same");
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, StateStoreTest, ::testing::Values(Kind::kMemory, Kind::kRocksDb),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kMemory ? "Memory" : "RocksDb";
                         });

}  // namespace
}  // namespace gander::storage
