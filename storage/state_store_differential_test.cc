// Acceptance 1: long random sequences of every StateStore operation, valid
// and invalid, run against the in-memory model and the RocksDB store
// (store_differential.h); every result (status code and full contents) must
// be identical. The RocksDB store is closed and reopened at random points,
// so what it returns after a reopen is what it persisted. Leases expire and
// idle streams age through a shared FakeClock.
//
// Knobs (environment): GANDER_STORE_DIFF_OPS operations per seed (default
// 1500), GANDER_STORE_DIFF_SEEDS number of seeds (default 4).
#include <iostream>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "storage/fake_clock.h"
#include "storage/rocksdb_state_store.h"
#include "storage/store_differential.h"
#include "storage/store_test_util.h"

namespace gander::storage {
namespace {

constexpr int kRetainedVersions = 3;

class DifferentialTest : public ::testing::TestWithParam<int> {};

TEST_P(DifferentialTest, MemoryAndRocksDbAgree) {
  const int ops = EnvInt("GANDER_STORE_DIFF_OPS", 1500);
  const uint64_t seed = static_cast<uint64_t>(GetParam()) * 7919 + 1;
  FakeClock clock;
  RocksDbStoreOptions rocksdb_options;
  rocksdb_options.base = {kRetainedVersions, &clock};
  // One seed in two syncs every write; the other exercises sync = false.
  rocksdb_options.sync = seed % 2 == 0;
  rocksdb_options.use_blob_files = seed % 3 != 1;
  const std::string path = NewTestDir("differential");
  std::unique_ptr<RocksDbStateStore> rocksdb;
  int opens = 0;
  const auto open = [&]() -> absl::StatusOr<StateStore*> {
    rocksdb.reset();  // closes the database
    absl::StatusOr<std::unique_ptr<RocksDbStateStore>> store =
        OpenRocksDbStateStore(path, rocksdb_options);
    if (!store.ok()) return store.status();
    rocksdb = std::move(*store);
    ++opens;
    return rocksdb.get();
  };
  absl::StatusOr<StateStore*> first = open();
  ASSERT_TRUE(first.ok()) << first.status();

  DifferentialOptions options;
  options.subject_name = "rocksdb";
  options.retained_versions = kRetainedVersions;
  options.stream_count = 14;
  options.tenants = {"acme", "globex", "initech"};
  options.repeated_payloads = 12;
  // Large enough to be a blob file value.
  options.large_payload_one_in = 60;
  options.large_payload_size = [](Rng& rng) -> size_t { return (64 << 10) + rng() % 1000; };
  options.reopen = open;
  options.check = [&] { return rocksdb->CheckConsistency(); };
  StoreDifferential run(seed, *first, &clock, options);
  for (int i = 0; i < ops; ++i) {
    if (!run.Step(i)) return;
    if (i % 250 == 249 && !run.CompareAll()) return;
  }
  EXPECT_TRUE(run.CompareAll());
  std::cout << run.Summary() << "\nopens: " << opens << std::endl;
  // The sequence really exercised the interesting paths, successes included.
  EXPECT_GT(opens, 1);
  EXPECT_EQ(run.Count("Reopen", "OK"), opens - 1);
  for (const char* op : {"CreateStream", "CreateStreamWithCheckpoint", "Commit", "GetCheckpoint",
                         "ListVersions", "Fork", "DeleteStream", "ListStreams", "AcquireLease",
                         "RenewLease", "ReleaseLease", "DeleteIdleStreams"}) {
    EXPECT_GT(run.Count(op, "OK"), 0) << op;
  }
  for (const char* op : {"Commit", "AcquireLease", "RenewLease", "ReleaseLease"}) {
    EXPECT_GT(run.Count(op, "ABORTED"), 0) << op;
  }
  EXPECT_GT(run.Count("Commit", "OK"), ops / 40);
  EXPECT_GT(run.Count("GetCheckpoint", "NOT_FOUND"), 0);
  EXPECT_GT(run.Count("Fork", "ALREADY_EXISTS"), 0);
  EXPECT_GT(run.Count("Fork", "OK"), ops / 100);
  EXPECT_GT(run.Count("DeleteIdleStreams", "deleted some"), 0);
  EXPECT_GT(run.Count("ListStreams", "continued"), 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, DifferentialTest,
                         ::testing::Range(0, EnvInt("GANDER_STORE_DIFF_SEEDS", 4)));

}  // namespace
}  // namespace gander::storage
