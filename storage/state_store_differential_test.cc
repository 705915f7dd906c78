// Acceptance 1: long random sequences of every StateStore operation, valid
// and invalid, run against the in-memory model and the RocksDB store; every
// result (status code and full contents) must be identical. The RocksDB
// store is closed and reopened at random points, so what it returns after a
// reopen is what it persisted. Leases expire and idle streams age through a
// shared FakeClock.
//
// Knobs (environment): GANDER_STORE_DIFF_OPS operations per seed (default
// 1500), GANDER_STORE_DIFF_SEEDS number of seeds (default 4).
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "storage/fake_clock.h"
#include "storage/memory_state_store.h"
#include "storage/rocksdb_state_store.h"
#include "storage/store_test_util.h"

namespace gander::storage {
namespace {

constexpr int kRetainedVersions = 3;

class Differential {
 public:
  explicit Differential(uint64_t seed) : rng_(seed), path_(NewTestDir("differential")) {
    StoreOptions base{kRetainedVersions, &clock_};
    model_ = NewMemoryStateStore(base);
    options_.base = base;
    // One seed in two syncs every write; the other exercises sync = false.
    options_.sync = seed % 2 == 0;
    options_.use_blob_files = seed % 3 != 1;
    Reopen();
    for (int i = 0; i < 14; ++i) ids_.push_back(absl::StrCat("s", i));
    ids_.push_back("a.long:id-with_all.chars");
    tenants_ = {"acme", "globex", "initech"};
    owners_ = {"w1", "w2", "w3"};
    for (int i = 0; i < 12; ++i) payloads_.push_back(RandomBytes(rng_, 1 + rng_() % 300));
  }

  // One random operation on both stores; false (after reporting) when they
  // disagree.
  bool Step(int index) {
    const int op = static_cast<int>(rng_() % 100);
    std::string what, a, b;
    if (op < 8) {
      CreateStreamRequest request{PickId(), Pick(tenants_), Pick({"m1", "m2"})};
      if (Chance(12)) request.tenant = Pick({"", "bad tenant"});
      if (Chance(12)) request.model_fingerprint = "";
      what = absl::StrCat("CreateStream ", request.id, " ", request.tenant);
      a = Outcome(model_->CreateStream(request));
      b = Outcome(real_->CreateStream(request));
    } else if (op < 11) {
      CreateStreamRequest request{PickId(), Pick(tenants_), "m3"};
      const std::string bytes = Chance(5) ? std::string() : Payload();
      const uint64_t tokens = rng_() % 1000;
      what = absl::StrCat("CreateStreamWithCheckpoint ", request.id, " ", bytes.size());
      a = Outcome(model_->CreateStreamWithCheckpoint(request, bytes, tokens));
      b = Outcome(real_->CreateStreamWithCheckpoint(request, bytes, tokens));
    } else if (op < 38) {
      const std::string id = PickId();
      const uint64_t head = Head(id);
      CommitRequest request{id, head, Epoch(id), Chance(20) ? std::string() : Payload(),
                            rng_() % 100000};
      if (Chance(6)) request.expected_version = Pick<uint64_t>({head + 1, head - 1, 0, head + 5});
      if (Chance(6)) request.lease_epoch = Pick<uint64_t>({0, request.lease_epoch - 1, 999999});
      what = absl::StrCat("Commit ", id, " expected=", request.expected_version,
                          " epoch=", request.lease_epoch, " bytes=", request.checkpoint.size());
      a = Outcome(model_->Commit(request));
      b = Outcome(real_->Commit(request));
    } else if (op < 42) {
      const std::string id = PickId();
      what = absl::StrCat("GetStream ", id);
      a = Outcome(model_->GetStream(id));
      b = Outcome(real_->GetStream(id));
    } else if (op < 51) {
      const std::string id = PickId();
      const uint64_t version = PickVersion(id);
      what = absl::StrCat("GetCheckpoint ", id, " ", version);
      a = Outcome(model_->GetCheckpoint(id, version));
      b = Outcome(real_->GetCheckpoint(id, version));
    } else if (op < 54) {
      const std::string id = PickId();
      what = absl::StrCat("ListVersions ", id);
      a = Outcome(model_->ListVersions(id));
      b = Outcome(real_->ListVersions(id));
    } else if (op < 61) {
      const std::string source = PickId();
      const uint64_t version = PickVersion(source);
      CreateStreamRequest request{Chance(3) ? PickId() : PickAbsentId(), Pick(tenants_), ""};
      if (Chance(10)) request.tenant = "";
      what = absl::StrCat("Fork ", source, "@", version, " -> ", request.id);
      a = Outcome(model_->Fork(source, version, request));
      b = Outcome(real_->Fork(source, version, request));
    } else if (op < 64) {
      const std::string id = PickId();
      what = absl::StrCat("DeleteStream ", id);
      a = Outcome(model_->DeleteStream(id));
      b = Outcome(real_->DeleteStream(id));
    } else if (op < 70) {
      std::string tenant = Pick(tenants_);
      if (Chance(15)) tenant = "bad/tenant";
      const int page_size = Pick({1, 1, 2, 3, 5, 1000, 0, 1001});
      std::string token;
      if (!tokens_.empty() && Chance(2)) token = tokens_[rng_() % tokens_.size()];
      if (Chance(15)) token = "not-a-token";
      what = absl::StrCat("ListStreams ", tenant, " ", page_size, " '", token, "'");
      absl::StatusOr<ListStreamsResult> ra = model_->ListStreams(tenant, page_size, token);
      a = Outcome(ra);
      b = Outcome(real_->ListStreams(tenant, page_size, token));
      if (ra.ok() && !token.empty()) ++tally_["ListStreams"]["continued"];
      if (ra.ok() && !ra->next_page_token.empty()) {
        tokens_.push_back(ra->next_page_token);
        if (tokens_.size() > 8) tokens_.pop_front();
      }
    } else if (op < 82) {
      const std::string id = PickId();
      const std::string owner = Chance(15) ? "bad owner" : Pick(owners_);
      const absl::Duration ttl = Ttl();
      what = absl::StrCat("AcquireLease ", id, " ", owner, " ", absl::FormatDuration(ttl));
      absl::StatusOr<Lease> ra = model_->AcquireLease(id, owner, ttl);
      a = Outcome(ra);
      b = Outcome(real_->AcquireLease(id, owner, ttl));
      if (ra.ok()) {
        epochs_[id] = ra->epoch;
        expiries_.push_back(ra->expires);
      }
    } else if (op < 87) {
      const std::string id = PickId();
      const uint64_t epoch = Chance(5) ? Epoch(id) + 1 : Epoch(id);
      const absl::Duration ttl = Ttl();
      what = absl::StrCat("RenewLease ", id, " ", epoch, " ", absl::FormatDuration(ttl));
      absl::StatusOr<Lease> ra = model_->RenewLease(id, epoch, ttl);
      a = Outcome(ra);
      b = Outcome(real_->RenewLease(id, epoch, ttl));
      if (ra.ok()) expiries_.push_back(ra->expires);
    } else if (op < 89) {
      const std::string id = PickId();
      const uint64_t epoch = Chance(5) ? Epoch(id) - 1 : Epoch(id);
      what = absl::StrCat("ReleaseLease ", id, " ", epoch);
      a = Outcome(model_->ReleaseLease(id, epoch));
      b = Outcome(real_->ReleaseLease(id, epoch));
    } else if (op < 91) {
      absl::Duration idle = Pick({absl::Seconds(60), absl::Seconds(300), absl::Seconds(900)});
      if (Chance(10)) idle = Pick({absl::ZeroDuration(), absl::Seconds(-1)});
      what = absl::StrCat("DeleteIdleStreams ", absl::FormatDuration(idle));
      absl::StatusOr<int> ra = model_->DeleteIdleStreams(idle);
      a = Outcome(ra);
      b = Outcome(real_->DeleteIdleStreams(idle));
      if (ra.ok() && *ra > 0) ++tally_["DeleteIdleStreams"]["deleted some"];
    } else if (op < 99) {
      absl::Duration step = absl::Milliseconds(rng_() % 2000);
      if (Chance(4)) step = absl::Nanoseconds(rng_() % 5000);
      if (Chance(10)) step = absl::Seconds(rng_() % 60);
      // Now and then land exactly on a lease's expiry (the boundary case).
      if (!expiries_.empty() && Chance(4)) {
        const absl::Time expiry = expiries_[rng_() % expiries_.size()];
        if (expiry > clock_.Now()) step = expiry - clock_.Now();
      }
      clock_.Advance(step);
      history_.push_back(absl::StrCat(index, ": Advance ", absl::FormatDuration(step)));
      return true;
    } else {
      history_.push_back(absl::StrCat(index, ": Reopen"));
      Reopen();
      if (real_ == nullptr) return false;
      const absl::Status consistent = real_->CheckConsistency();
      EXPECT_TRUE(consistent.ok()) << consistent;
      return consistent.ok();
    }
    history_.push_back(absl::StrCat(index, ": ", what, " -> ", a));
    const std::string name = what.substr(0, what.find(' '));
    ++tally_[name][a.substr(0, a.find(':'))];
    if (history_.size() > 30) history_.pop_front();
    if (a != b) {
      ADD_FAILURE() << "op " << index << " " << what << "\n  model:   " << a << "\n  rocksdb: " << b
                    << "\nrecent operations:\n  " << absl::StrJoin(history_, "\n  ");
      return false;
    }
    return true;
  }

  // Everything readable, compared; and the RocksDB store's invariants.
  bool CompareAll() {
    std::string a, b;
    for (const std::string& id : ids_) {
      a += Outcome(model_->GetStream(id)) + Outcome(model_->ListVersions(id));
      b += Outcome(real_->GetStream(id)) + Outcome(real_->ListVersions(id));
      for (uint64_t v = 0; v <= Head(id) + 1; ++v) {
        a += Outcome(model_->GetCheckpoint(id, v));
        b += Outcome(real_->GetCheckpoint(id, v));
      }
    }
    for (const std::string& tenant : tenants_) {
      a += Outcome(model_->ListStreams(tenant, 1000, ""));
      b += Outcome(real_->ListStreams(tenant, 1000, ""));
    }
    EXPECT_EQ(a, b) << "after:\n  " << absl::StrJoin(history_, "\n  ");
    const absl::Status consistent = real_->CheckConsistency();
    EXPECT_TRUE(consistent.ok()) << consistent;
    return a == b && consistent.ok();
  }

  int reopens() const { return reopens_; }
  // How often each operation gave each outcome ("OK", "ABORTED", ...).
  int Count(const std::string& op, const std::string& outcome) { return tally_[op][outcome]; }
  std::string Summary() const {
    std::vector<std::string> lines;
    for (const auto& [op, outcomes] : tally_) {
      std::vector<std::string> parts;
      for (const auto& [outcome, n] : outcomes) parts.push_back(absl::StrCat(outcome, "=", n));
      lines.push_back(absl::StrCat(op, ": ", absl::StrJoin(parts, " ")));
    }
    return absl::StrCat(absl::StrJoin(lines, "\n"), "\nreopens: ", reopens_);
  }

 private:
  void Reopen() {
    real_.reset();  // closes the database
    auto store = OpenRocksDbStateStore(path_, options_);
    ASSERT_TRUE(store.ok()) << store.status();
    real_ = std::move(*store);
    ++reopens_;
  }

  bool Chance(int one_in) { return rng_() % one_in == 0; }
  template <typename T>
  T Pick(const std::vector<T>& items) {
    return items[rng_() % items.size()];
  }
  std::string Pick(const std::vector<std::string>& items) { return items[rng_() % items.size()]; }
  std::string Pick(std::initializer_list<const char*> items) {
    return std::vector<const char*>(items)[rng_() % items.size()];
  }
  int Pick(std::initializer_list<int> items) {
    return std::vector<int>(items)[rng_() % items.size()];
  }
  absl::Duration Pick(std::initializer_list<absl::Duration> items) {
    return std::vector<absl::Duration>(items)[rng_() % items.size()];
  }

  std::string PickId() {
    if (Chance(40)) return Pick({"", "bad id", "x/y"});
    return Pick(ids_);
  }
  // An id the model does not hold (a random one when every id is in use).
  std::string PickAbsentId() {
    const size_t start = rng_() % ids_.size();
    for (size_t i = 0; i < ids_.size(); ++i) {
      const std::string& id = ids_[(start + i) % ids_.size()];
      if (!model_->GetStream(id).ok()) return id;
    }
    return PickId();
  }
  uint64_t Head(const std::string& id) {
    auto info = model_->GetStream(id);
    return info.ok() ? info->version : 0;
  }
  uint64_t Epoch(const std::string& id) {
    auto it = epochs_.find(id);
    return it == epochs_.end() ? 1 : it->second;
  }
  uint64_t PickVersion(const std::string& id) {
    const uint64_t head = Head(id);
    switch (rng_() % 5) {
      case 0:
      case 1:
        return 0;
      case 2:
        return head;
      case 3:
        return head > 1 ? 1 + rng_() % head : 1;  // often dropped
      default:
        return head + rng_() % 3;
    }
  }
  std::string Payload() {
    if (Chance(60)) return RandomBytes(rng_, (64 << 10) + rng_() % 1000);  // a blob file value
    if (Chance(3)) return RandomBytes(rng_, 1 + rng_() % 500);
    return Pick(payloads_);  // repeats: deduplicated checkpoints
  }
  absl::Duration Ttl() {
    if (Chance(15)) return Pick({absl::ZeroDuration(), absl::Hours(25), absl::Seconds(-3)});
    return absl::Milliseconds(1 + rng_() % 60000) + absl::Nanoseconds(rng_() % 1000);
  }

  FakeClock clock_;
  Rng rng_;
  const std::string path_;
  RocksDbStoreOptions options_;
  std::unique_ptr<StateStore> model_;
  std::unique_ptr<RocksDbStateStore> real_;
  std::vector<std::string> ids_, tenants_, owners_, payloads_;
  std::map<std::string, uint64_t> epochs_;  // the last epoch granted per stream
  std::vector<absl::Time> expiries_;        // of every lease granted or renewed
  std::deque<std::string> tokens_;
  std::deque<std::string> history_;
  std::map<std::string, std::map<std::string, int>> tally_;  // op -> outcome -> count
  int reopens_ = 0;
};

class DifferentialTest : public ::testing::TestWithParam<int> {};

TEST_P(DifferentialTest, MemoryAndRocksDbAgree) {
  const int ops = EnvInt("GANDER_STORE_DIFF_OPS", 1500);
  Differential run(static_cast<uint64_t>(GetParam()) * 7919 + 1);
  for (int i = 0; i < ops; ++i) {
    if (!run.Step(i)) return;
    if (i % 250 == 249 && !run.CompareAll()) return;
  }
  EXPECT_TRUE(run.CompareAll());
  std::cout << run.Summary() << std::endl;
  // The sequence really exercised the interesting paths, successes included.
  EXPECT_GT(run.reopens(), 1);
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
