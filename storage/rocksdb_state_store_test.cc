// What only the RocksDB store does: persistence across reopen, content-
// addressed and reference-counted checkpoint blobs (forks share, deletes
// leave no orphans), the consistency check, opening errors, corruption of
// every kind of stored value (always DATA_LOSS, never wrong data) and racing
// writers (one winner per version, no lost acknowledged commit).
// The operation-by-operation contract is state_store_test.cc.
#include "storage/rocksdb_state_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/fake_clock.h"
#include "storage/memory_state_store.h"
#include "storage/rocksdb_layout.h"
#include "storage/store_internal.h"
#include "storage/store_test_util.h"

namespace gander::storage {
namespace {

using absl::StatusCode;

// The database opened directly, with the store's column families.
class RawDb {
 public:
  explicit RawDb(const std::string& path, const RocksDbStoreOptions& options = {}) {
    internal::DbConfig config = internal::MakeDbConfig(options);
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s =
        rocksdb::DB::Open(config.db, path, config.column_families, &handles_, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
  }
  ~RawDb() {
    if (db_ == nullptr) return;
    for (auto* h : handles_) EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
    EXPECT_TRUE(db_->Close().ok());
  }
  std::vector<std::pair<std::string, std::string>> All(int cf) {
    std::vector<std::pair<std::string, std::string>> out;
    if (db_ == nullptr) return out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[cf]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
    EXPECT_TRUE(it->status().ok());
    return out;
  }
  void Put(int cf, const std::string& key, const std::string& value) {
    if (db_ == nullptr) return;
    EXPECT_TRUE(db_->Put(rocksdb::WriteOptions(), handles_[cf], key, value).ok());
  }
  void Delete(int cf, const std::string& key) {
    if (db_ == nullptr) return;
    EXPECT_TRUE(db_->Delete(rocksdb::WriteOptions(), handles_[cf], key).ok());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

class RocksDbStoreTest : public ::testing::Test {
 protected:
  RocksDbStoreTest() : path_(NewTestDir("rocksdb")) {}

  RocksDbStoreOptions Options(int retained = 3) {
    RocksDbStoreOptions options;
    options.base.retained_versions = retained;
    options.base.clock = &clock_;
    options.sync = false;
    return options;
  }
  std::unique_ptr<RocksDbStateStore> Open(const RocksDbStoreOptions& options) {
    auto store = OpenRocksDbStateStore(path_, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::unique_ptr<RocksDbStateStore> Open() { return Open(Options()); }

  static RocksDbStoreStats Stats(RocksDbStateStore* store) {
    auto stats = store->GetStats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : RocksDbStoreStats();
  }
  static void ExpectConsistent(RocksDbStateStore* store) {
    const absl::Status status = store->CheckConsistency();
    EXPECT_TRUE(status.ok()) << status;
  }
  uint64_t Lease(StateStore* store, const std::string& id) {
    auto lease = store->AcquireLease(id, "w", absl::Hours(1));
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? lease->epoch : 0;
  }

  FakeClock clock_;
  const std::string path_;
};

TEST_F(RocksDbStoreTest, EverythingSurvivesReopen) {
  std::string before;
  uint64_t epoch = 0;
  Rng rng(7);
  const std::string big = RandomBytes(rng, 3 << 20);  // a blob file value
  {
    auto store = Open();
    ASSERT_TRUE(store->CreateStream({"s1", "acme", "m"}).ok());
    epoch = Lease(store.get(), "s1");
    ASSERT_TRUE(store->Commit({"s1", 0, epoch, "small", 1}).ok());
    ASSERT_TRUE(store->Commit({"s1", 1, epoch, big, 2}).ok());
    ASSERT_TRUE(store->Fork("s1", 1, {"s2", "acme", ""}).ok());
    before = absl::StrCat(Outcome(store->GetStream("s1")), Outcome(store->GetStream("s2")),
                          Outcome(store->ListVersions("s1")),
                          Outcome(store->ListStreams("acme", 10, "")));
  }
  auto store = Open();
  EXPECT_EQ(
      absl::StrCat(Outcome(store->GetStream("s1")), Outcome(store->GetStream("s2")),
                   Outcome(store->ListVersions("s1")), Outcome(store->ListStreams("acme", 10, ""))),
      before);
  auto head = store->GetCheckpoint("s1", 0);
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->bytes, big);
  // The lease and the epoch counter survive too.
  EXPECT_TRUE(store->Commit({"s1", 2, epoch, "three", 3}).ok());
  EXPECT_EQ(CodeOf(store->AcquireLease("s1", "other", absl::Seconds(1))), StatusCode::kAborted);
  ASSERT_TRUE(store->CreateStream({"s3", "acme", "m"}).ok());
  EXPECT_GT(Lease(store.get(), "s3"), epoch);
  ExpectConsistent(store.get());
}

TEST_F(RocksDbStoreTest, ForkSharesTheBlob) {
  auto store = Open();
  ASSERT_TRUE(store->CreateStream({"src", "acme", "m"}).ok());
  const uint64_t epoch = Lease(store.get(), "src");
  Rng rng(1);
  ASSERT_TRUE(store->Commit({"src", 0, epoch, RandomBytes(rng, 200 << 10), 1}).ok());
  RocksDbStoreStats before = Stats(store.get());
  EXPECT_EQ(before.checkpoints, 1u);
  EXPECT_EQ(before.references, 1u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->Fork("src", 0, {absl::StrCat("f", i), "acme", ""}).ok());
  }
  RocksDbStoreStats after = Stats(store.get());
  EXPECT_EQ(after.checkpoints, 1u);
  EXPECT_EQ(after.checkpoint_bytes, before.checkpoint_bytes);
  EXPECT_EQ(after.references, 6u);
  EXPECT_EQ(after.streams, 6u);
  ExpectConsistent(store.get());
}

TEST_F(RocksDbStoreTest, DeleteRemovesOnlyUnreferencedBlobs) {
  auto store = Open();
  ASSERT_TRUE(store->CreateStream({"a", "acme", "m"}).ok());
  const uint64_t epoch = Lease(store.get(), "a");
  ASSERT_TRUE(store->Commit({"a", 0, epoch, "shared", 1}).ok());
  ASSERT_TRUE(store->Commit({"a", 1, epoch, "own", 2}).ok());
  ASSERT_TRUE(store->Fork("a", 1, {"b", "acme", ""}).ok());
  EXPECT_EQ(Stats(store.get()).checkpoints, 2u);
  ASSERT_TRUE(store->DeleteStream("a").ok());
  RocksDbStoreStats stats = Stats(store.get());
  EXPECT_EQ(stats.checkpoints, 1u);  // "own" went, "shared" stays for b
  EXPECT_EQ(stats.references, 1u);
  EXPECT_EQ(stats.leases, 0u);
  ExpectConsistent(store.get());
  ASSERT_TRUE(store->DeleteStream("b").ok());
  stats = Stats(store.get());
  EXPECT_EQ(stats.checkpoints, 0u);
  EXPECT_EQ(stats.versions, 0u);
  EXPECT_EQ(stats.streams, 0u);
  ExpectConsistent(store.get());
}

TEST_F(RocksDbStoreTest, RetentionDropsBlobsButKeepsSharedOnes) {
  auto store = Open();
  ASSERT_TRUE(store->CreateStream({"s", "acme", "m"}).ok());
  const uint64_t epoch = Lease(store.get(), "s");
  ASSERT_TRUE(store->Commit({"s", 0, epoch, "v1", 1}).ok());
  ASSERT_TRUE(store->Fork("s", 1, {"f", "acme", ""}).ok());
  for (uint64_t v = 2; v <= 10; ++v) {
    ASSERT_TRUE(store->Commit({"s", v - 1, epoch, absl::StrCat("v", v), v}).ok());
    ExpectConsistent(store.get());
  }
  RocksDbStoreStats stats = Stats(store.get());
  EXPECT_EQ(stats.versions, 3u + 1u);     // s: 8, 9, 10; f: 1
  EXPECT_EQ(stats.checkpoints, 3u + 1u);  // v8, v9, v10 and the fork's v1
  auto kept = store->GetCheckpoint("f", 1);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->bytes, "v1");
}

TEST_F(RocksDbStoreTest, SmallerRetentionOnReopenDropsTheBacklog) {
  {
    auto store = Open(Options(8));
    ASSERT_TRUE(store->CreateStream({"s", "acme", "m"}).ok());
    const uint64_t epoch = Lease(store.get(), "s");
    for (uint64_t v = 1; v <= 6; ++v) {
      ASSERT_TRUE(store->Commit({"s", v - 1, epoch, absl::StrCat("v", v), v}).ok());
    }
  }
  auto store = Open(Options(2));
  auto versions = store->ListVersions("s");
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 6u);  // nothing changes until the next commit
  auto lease = store->AcquireLease("s", "w", absl::Hours(1));
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(store->Commit({"s", 6, lease->epoch, "v7", 7}).ok());
  versions = store->ListVersions("s");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, 6u);
  EXPECT_EQ(Stats(store.get()).checkpoints, 2u);
  ExpectConsistent(store.get());
}

TEST_F(RocksDbStoreTest, OpenErrors) {
  RocksDbStoreOptions bad = Options();
  bad.base.retained_versions = 0;
  EXPECT_EQ(CodeOf(OpenRocksDbStateStore(path_, bad)), StatusCode::kInvalidArgument);
  RocksDbStoreOptions no_create = Options();
  no_create.create_if_missing = false;
  EXPECT_EQ(CodeOf(OpenRocksDbStateStore(path_ + "/absent", no_create)), StatusCode::kNotFound);
  auto first = Open();
  // One process at a time (and one store object at a time within it).
  EXPECT_EQ(CodeOf(OpenRocksDbStateStore(path_, Options())), StatusCode::kUnavailable);
  first.reset();
  EXPECT_TRUE(OpenRocksDbStateStore(path_, no_create).ok());
}

TEST_F(RocksDbStoreTest, NewerLayoutIsFailedPrecondition) {
  Open().reset();
  {
    RawDb raw(path_);
    raw.Put(internal::kDefaultCf, internal::kFormatKey,
            internal::EncodeFormatRecord(internal::kFormatKey, {internal::kLayoutVersion + 1}));
  }
  EXPECT_EQ(CodeOf(OpenRocksDbStateStore(path_, Options())), StatusCode::kFailedPrecondition);
}

TEST_F(RocksDbStoreTest, CheckConsistencyFindsOrphansAndBadCounts) {
  {
    auto store = Open();
    ASSERT_TRUE(store->CreateStream({"s", "acme", "m"}).ok());
    const uint64_t epoch = Lease(store.get(), "s");
    ASSERT_TRUE(store->Commit({"s", 0, epoch, "state", 1}).ok());
    ExpectConsistent(store.get());
  }
  const internal::CheckpointHash hash = internal::HashCheckpoint("state");
  const internal::CheckpointHash orphan = internal::HashCheckpoint("orphan");
  const std::string ref_key = hash.Key();
  struct Damage {
    std::string name;
    std::function<void(RawDb&)> apply, undo;
  };
  std::string saved_ref, saved_blob, saved_version;
  {
    RawDb raw(path_);
    for (auto& [k, v] : raw.All(internal::kRefcountsCf)) saved_ref = v;
    for (auto& [k, v] : raw.All(internal::kCheckpointsCf)) saved_blob = v;
    for (auto& [k, v] : raw.All(internal::kVersionsCf)) saved_version = v;
  }
  const std::string version_key = internal::VersionKey("s", 1);
  const std::vector<Damage> damages = {
      {"orphan blob",
       [&](RawDb& raw) { raw.Put(internal::kCheckpointsCf, orphan.Key(), "orphan"); },
       [&](RawDb& raw) { raw.Delete(internal::kCheckpointsCf, orphan.Key()); }},
      {"wrong count",
       [&](RawDb& raw) {
         raw.Put(internal::kRefcountsCf, ref_key, internal::EncodeRefRecord(ref_key, {2, 5}));
       },
       [&](RawDb& raw) { raw.Put(internal::kRefcountsCf, ref_key, saved_ref); }},
      {"missing blob", [&](RawDb& raw) { raw.Delete(internal::kCheckpointsCf, ref_key); },
       [&](RawDb& raw) { raw.Put(internal::kCheckpointsCf, ref_key, saved_blob); }},
      {"missing count", [&](RawDb& raw) { raw.Delete(internal::kRefcountsCf, ref_key); },
       [&](RawDb& raw) { raw.Put(internal::kRefcountsCf, ref_key, saved_ref); }},
      {"stray lease",
       [&](RawDb& raw) {
         raw.Put(internal::kLeasesCf, "ghost", internal::EncodeLeaseRecord("ghost", {"w", 1, 0}));
       },
       [&](RawDb& raw) { raw.Delete(internal::kLeasesCf, "ghost"); }},
      {"missing version", [&](RawDb& raw) { raw.Delete(internal::kVersionsCf, version_key); },
       [&](RawDb& raw) { raw.Put(internal::kVersionsCf, version_key, saved_version); }},
      {"missing index entry",
       [&](RawDb& raw) { raw.Delete(internal::kTenantsCf, internal::TenantKey("acme", "s")); },
       [&](RawDb& raw) {
         const std::string key = internal::TenantKey("acme", "s");
         raw.Put(internal::kTenantsCf, key, internal::EncodeTenantRecord(key));
       }},
  };
  for (const Damage& damage : damages) {
    {
      RawDb raw(path_);
      damage.apply(raw);
    }
    {
      auto store = Open();
      EXPECT_EQ(CodeOf(store->CheckConsistency()), StatusCode::kDataLoss) << damage.name;
      if (damage.name == "missing version") {
        // A retained version that is gone is DATA_LOSS, not NOT_FOUND.
        EXPECT_EQ(CodeOf(store->GetCheckpoint("s", 1)), StatusCode::kDataLoss);
        EXPECT_EQ(CodeOf(store->ListVersions("s")), StatusCode::kDataLoss);
        EXPECT_EQ(CodeOf(store->DeleteStream("s")), StatusCode::kDataLoss);
      }
      if (damage.name == "missing blob") {
        EXPECT_EQ(CodeOf(store->GetCheckpoint("s", 1)), StatusCode::kDataLoss);
      }
    }
    {
      RawDb raw(path_);
      damage.undo(raw);
    }
    auto store = Open();
    ExpectConsistent(store.get());
  }
}

// Acceptance 3: every stored value, flipped or truncated, reads as
// DATA_LOSS; every read either returns exactly the original answer or
// DATA_LOSS.
TEST_F(RocksDbStoreTest, CorruptedValuesAreDataLossNeverWrongData) {
  Rng rng(3);
  const std::string state1 = RandomBytes(rng, 1000);       // inline even with blob files
  const std::string state2 = RandomBytes(rng, 100 << 10);  // a blob file value
  {
    auto store = Open();
    ASSERT_TRUE(store->CreateStream({"s1", "acme", "m"}).ok());
    const uint64_t epoch = Lease(store.get(), "s1");
    ASSERT_TRUE(store->Commit({"s1", 0, epoch, state1, 1}).ok());
    ASSERT_TRUE(store->Commit({"s1", 1, epoch, state2, 2}).ok());
    ASSERT_TRUE(store->Fork("s1", 1, {"s2", "acme", ""}).ok());
    ASSERT_TRUE(store->CreateStream({"s3", "acme", "m"}).ok());
  }
  // Every read the store offers, as "outcome" strings.
  const auto probes = [](RocksDbStateStore* store) {
    std::map<std::string, std::string> out;
    for (const char* id : {"s1", "s2", "s3"}) {
      out[absl::StrCat("GetStream ", id)] = Outcome(store->GetStream(id));
      out[absl::StrCat("ListVersions ", id)] = Outcome(store->ListVersions(id));
      for (uint64_t v : {0, 1, 2}) {
        out[absl::StrCat("GetCheckpoint ", id, " ", v)] = Outcome(store->GetCheckpoint(id, v));
      }
    }
    for (int page : {1, 10}) {
      out[absl::StrCat("ListStreams ", page)] = Outcome(store->ListStreams("acme", page, ""));
    }
    out["Consistency"] = Outcome(store->CheckConsistency());
    return out;
  };
  std::map<std::string, std::string> clean;
  {
    auto store = Open();
    clean = probes(store.get());
    EXPECT_EQ(clean["Consistency"], "OK");
  }

  // The probe that must fail for a damaged key of each column family.
  const auto must_fail = [](int cf, const std::string& key) -> std::vector<std::string> {
    std::string id, tenant;
    uint64_t version = 0;
    switch (cf) {
      case internal::kStreamsCf:
        return {absl::StrCat("GetStream ", key), absl::StrCat("ListStreams 10")};
      case internal::kVersionsCf:
        internal::ParseVersionKey(key, &id, &version);
        return {absl::StrCat("ListVersions ", id),
                absl::StrCat("GetCheckpoint ", id, " ", version)};
      case internal::kCheckpointsCf:
        return {"GetCheckpoint s1 1"};  // ... or s1 2 / s2 1, whichever holds it (checked below)
      case internal::kTenantsCf:
        return {"ListStreams 10"};
      default:
        return {};
    }
  };

  int damaged = 0;
  for (int cf : {internal::kStreamsCf, internal::kVersionsCf, internal::kCheckpointsCf,
                 internal::kRefcountsCf, internal::kTenantsCf, internal::kLeasesCf}) {
    std::vector<std::pair<std::string, std::string>> records;
    {
      RawDb raw(path_);
      records = raw.All(cf);
    }
    ASSERT_FALSE(records.empty()) << internal::ColumnFamilyName(cf);
    for (const auto& [key, value] : records) {
      std::vector<std::pair<std::string, std::string>> mutations = {
          {"first byte", value}, {"middle byte", value},
          {"last byte", value},  {"truncated", value.substr(0, value.size() / 2)},
          {"emptied", ""},       {"extended", value + "x"}};
      mutations[0].second[0] ^= 0x01;
      mutations[1].second[value.size() / 2] ^= 0x80;
      mutations[2].second[value.size() - 1] ^= 0x10;
      for (const auto& [how, bad] : mutations) {
        const std::string label = absl::StrCat(internal::ColumnFamilyName(cf), " record (",
                                               key.size(), "-byte key) ", how);
        {
          RawDb raw(path_);
          raw.Put(cf, key, bad);
        }
        {
          auto store = Open();
          ASSERT_NE(store, nullptr) << label;
          const std::map<std::string, std::string> got = probes(store.get());
          for (const auto& [probe, outcome] : got) {
            EXPECT_TRUE(outcome == clean.at(probe) || outcome == "DATA_LOSS")
                << label << ": " << probe << " gave " << outcome << ", clean " << clean.at(probe);
          }
          EXPECT_EQ(got.at("Consistency"), "DATA_LOSS") << label;
          if (cf == internal::kCheckpointsCf) {
            int failed = 0;
            for (const auto& [probe, outcome] : got) {
              if (probe.rfind("GetCheckpoint", 0) == 0 && outcome == "DATA_LOSS") ++failed;
            }
            EXPECT_GT(failed, 0) << label;
          } else {
            for (const std::string& probe : must_fail(cf, key)) {
              EXPECT_EQ(got.at(probe), "DATA_LOSS") << label << ": " << probe;
            }
          }
          // Writes that read the damaged record refuse too, changing nothing.
          if (cf == internal::kRefcountsCf) {
            // Fork the version whose checkpoint's count is damaged.
            const uint64_t version = key == internal::HashCheckpoint(state1).Key() ? 1 : 2;
            EXPECT_EQ(CodeOf(store->Fork("s1", version, {"fx", "acme", ""})), StatusCode::kDataLoss)
                << label;
            EXPECT_EQ(CodeOf(store->GetStream("fx")), StatusCode::kNotFound);
          }
          if (cf == internal::kLeasesCf) {
            EXPECT_EQ(CodeOf(store->Commit({key, 2, 1, "x", 3})), StatusCode::kDataLoss) << label;
            EXPECT_EQ(CodeOf(store->AcquireLease(key, "w", absl::Seconds(1))),
                      StatusCode::kDataLoss)
                << label;
          }
        }
        {
          RawDb raw(path_);
          raw.Put(cf, key, value);
        }
        ++damaged;
      }
    }
  }
  EXPECT_GT(damaged, 60);
  auto store = Open();
  EXPECT_EQ(probes(store.get()), clean);

  // Store-level records: the store refuses to open.
  store.reset();
  for (const char* key : {internal::kFormatKey, internal::kNextEpochKey}) {
    std::string value;
    {
      RawDb raw(path_);
      for (auto& [k, v] : raw.All(internal::kDefaultCf)) {
        if (k == key) value = v;
      }
    }
    ASSERT_FALSE(value.empty()) << key;
    {
      RawDb raw(path_);
      std::string bad = value;
      bad[bad.size() / 2] ^= 1;
      raw.Put(internal::kDefaultCf, key, bad);
    }
    EXPECT_EQ(CodeOf(OpenRocksDbStateStore(path_, Options())), StatusCode::kDataLoss) << key;
    {
      RawDb raw(path_);
      raw.Put(internal::kDefaultCf, key, value);
    }
    ASSERT_NE(Open(), nullptr);
  }
}

// Damage inside RocksDB's own files (below the store's records): RocksDB's
// block and blob checksums catch it and the store reports DATA_LOSS.
TEST_F(RocksDbStoreTest, CorruptedFilesAreDataLoss) {
  for (bool blob_files : {false, true}) {
    const std::string path = NewTestDir(blob_files ? "file-blob" : "file-sst");
    RocksDbStoreOptions options = Options();
    options.use_blob_files = blob_files;
    Rng rng(11);
    const std::string state = RandomBytes(rng, 1 << 20);
    {
      auto opened = OpenRocksDbStateStore(path, options);
      ASSERT_TRUE(opened.ok()) << opened.status();
      auto& store = *opened;
      ASSERT_TRUE(store->CreateStream({"s", "acme", "m"}).ok());
      const uint64_t epoch = Lease(store.get(), "s");
      ASSERT_TRUE(store->Commit({"s", 0, epoch, state, 1}).ok());
      ASSERT_TRUE(store->Compact().ok());
    }
    // The largest file holds the checkpoint.
    std::string largest;
    uintmax_t largest_size = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      const std::string name = entry.path().filename().string();
      const bool table = name.size() > 4 && (name.substr(name.size() - 4) == ".sst" ||
                                             name.substr(name.size() - 5) == ".blob");
      if (table && entry.file_size() > largest_size) {
        largest = entry.path().string();
        largest_size = entry.file_size();
      }
    }
    ASSERT_GT(largest_size, 1u << 20) << "blob_files=" << blob_files;
    EXPECT_EQ(largest.substr(largest.size() - 5) == ".blob", blob_files) << largest;
    {
      std::fstream file(largest, std::ios::in | std::ios::out | std::ios::binary);
      file.seekg(largest_size / 2);
      char c = 0;
      file.read(&c, 1);
      c ^= 0x40;
      file.seekp(largest_size / 2);
      file.write(&c, 1);
    }
    auto opened = OpenRocksDbStateStore(path, options);
    if (!opened.ok()) {
      EXPECT_EQ(CodeOf(opened), StatusCode::kDataLoss) << opened.status();
      continue;
    }
    auto got = (*opened)->GetCheckpoint("s", 0);
    EXPECT_EQ(CodeOf(got), StatusCode::kDataLoss)
        << "blob_files=" << blob_files << " " << got.status();
    EXPECT_EQ(CodeOf((*opened)->CheckConsistency()), StatusCode::kDataLoss);
  }
}

TEST_F(RocksDbStoreTest, BlobFilesAndPlainValuesHoldTheSameBytes) {
  for (bool blob_files : {false, true}) {
    RocksDbStoreOptions options = Options();
    options.use_blob_files = blob_files;
    const std::string path = NewTestDir("both");
    Rng rng(5);
    std::vector<std::string> states;
    {
      auto opened = OpenRocksDbStateStore(path, options);
      ASSERT_TRUE(opened.ok());
      auto& store = *opened;
      ASSERT_TRUE(store->CreateStream({"s", "acme", "m"}).ok());
      const uint64_t epoch = Lease(store.get(), "s");
      for (uint64_t v = 1; v <= 3; ++v) {
        states.push_back(RandomBytes(rng, v == 2 ? 100 : (2 << 20) + v));
        ASSERT_TRUE(store->Commit({"s", v - 1, epoch, states.back(), v}).ok());
      }
      ASSERT_TRUE(store->Compact().ok());
    }
    auto opened = OpenRocksDbStateStore(path, options);
    ASSERT_TRUE(opened.ok());
    for (uint64_t v = 1; v <= 3; ++v) {
      auto c = (*opened)->GetCheckpoint("s", v);
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_TRUE(c->bytes == states[v - 1]) << "blob_files=" << blob_files << " v" << v;
    }
    ExpectConsistent(opened->get());
  }
}

// Acceptance 4: threads race commits and lease take-overs on a few streams.
// Exactly one winner per version; every OK commit is present afterwards
// with its exact bytes; losers get ABORTED; epochs are never reused.
void RaceCommitsAndTakeovers(StateStore* store, FakeClock* clock, int threads, int iterations) {
  constexpr int kStreams = 3;
  for (int s = 0; s < kStreams; ++s) {
    ASSERT_TRUE(store->CreateStream({absl::StrCat("race", s), "acme", "m"}).ok());
  }
  absl::Mutex mu;
  std::map<std::pair<int, uint64_t>, std::vector<std::string>> winners;  // (stream, version)
  std::set<uint64_t> epochs;
  int duplicate_epochs = 0;
  int unexpected = 0;
  int aborted_commits = 0;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Rng rng(1000 + t);
      const std::string owner = absl::StrCat("worker-", t);
      std::map<int, uint64_t> held;  // stream -> epoch this thread believes it holds
      for (int i = 0; i < iterations; ++i) {
        const int s = static_cast<int>(rng() % kStreams);
        const std::string id = absl::StrCat("race", s);
        const int action = static_cast<int>(rng() % 10);
        if (action == 0) {
          clock->Advance(absl::Milliseconds(700));
        } else if (action <= 2 || held.count(s) == 0) {
          auto lease = store->AcquireLease(id, owner, absl::Seconds(2));
          absl::MutexLock lock(&mu);
          if (lease.ok()) {
            held[s] = lease->epoch;
            if (!epochs.insert(lease->epoch).second) ++duplicate_epochs;
          } else if (lease.status().code() != StatusCode::kAborted) {
            ++unexpected;
          }
        } else if (action == 3) {
          auto lease = store->RenewLease(id, held[s], absl::Seconds(2));
          if (!lease.ok() && lease.status().code() != StatusCode::kAborted) {
            absl::MutexLock lock(&mu);
            ++unexpected;
          }
        } else {
          auto info = store->GetStream(id);
          if (!info.ok()) {
            absl::MutexLock lock(&mu);
            ++unexpected;
            continue;
          }
          const std::string bytes =
              absl::StrCat(owner, "/", i, "/", RandomBytes(rng, 16 + rng() % 64));
          auto version =
              store->Commit({id, info->version, held[s], bytes, static_cast<uint64_t>(i)});
          absl::MutexLock lock(&mu);
          if (version.ok()) {
            winners[{s, *version}].push_back(bytes);
          } else if (version.status().code() == StatusCode::kAborted) {
            ++aborted_commits;
          } else {
            ++unexpected;
          }
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(unexpected, 0);
  EXPECT_EQ(duplicate_epochs, 0);
  EXPECT_GT(aborted_commits, 0) << "the race never produced a loser";
  size_t total = 0;
  for (int s = 0; s < kStreams; ++s) {
    const std::string id = absl::StrCat("race", s);
    auto info = store->GetStream(id);
    ASSERT_TRUE(info.ok());
    for (uint64_t v = 1; v <= info->version; ++v) {
      auto it = winners.find({s, v});
      ASSERT_NE(it, winners.end()) << id << " v" << v << " has no acknowledged commit";
      ASSERT_EQ(it->second.size(), 1u) << id << " v" << v << " has several winners";
      auto checkpoint = store->GetCheckpoint(id, v);
      ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
      EXPECT_EQ(checkpoint->bytes, it->second[0]) << id << " v" << v;
      ++total;
    }
  }
  EXPECT_EQ(total, winners.size()) << "an acknowledged commit is missing";
  EXPECT_GT(total, 10u);
  std::cout << "race: " << total << " commits won, " << aborted_commits << " aborted, "
            << epochs.size() << " leases granted" << std::endl;
}

TEST_F(RocksDbStoreTest, RacingCommitsAndTakeovers) {
  RocksDbStoreOptions options = Options(1 << 30);
  options.sync = true;
  auto store = Open(options);
  RaceCommitsAndTakeovers(store.get(), &clock_, 8, EnvInt("GANDER_STORE_RACE_ITERATIONS", 300));
  ExpectConsistent(store.get());
  // And after a reopen.
  store.reset();
  store = Open(options);
  ExpectConsistent(store.get());
}

TEST_F(RocksDbStoreTest, MemoryModelSurvivesTheSameRace) {
  auto store = NewMemoryStateStore({1 << 30, &clock_});
  RaceCommitsAndTakeovers(store.get(), &clock_, 8, EnvInt("GANDER_STORE_RACE_ITERATIONS", 300));
}

}  // namespace
}  // namespace gander::storage
