// Differential testing of a StateStore: long random sequences of every
// operation, valid and invalid, are run both on the in-memory model
// (memory_state_store.h) and on a store under test (the "subject": the
// RocksDB store, the remote store behind a server, ...), and every result,
// status code and full contents as printed by store_test_util.h, must be
// identical. Leases expire and idle streams age through a FakeClock that the
// model and the subject share.
//
// Example:
//   FakeClock clock;
//   std::unique_ptr<StateStore> subject = ...;  // on &clock, 3 versions kept
//   DifferentialOptions options;
//   options.subject_name = "rocksdb";
//   StoreDifferential run(/*seed=*/7, subject.get(), &clock, options);
//   for (int i = 0; i < 1500; ++i) {
//     if (!run.Step(i)) break;  // a disagreement, already reported
//   }
//   EXPECT_TRUE(run.CompareAll());
//   EXPECT_GT(run.Count("Commit", "ABORTED"), 0);  // the path was exercised
//
// Ownership: the driver owns the model; the subject and the clock are
// borrowed and must outlive it (or, for the subject, until the reopen hook
// replaces it).
// Thread safety: thread-compatible (one thread drives a run).
// Failure behaviour: a disagreement, a failed reopen or a failed check is
// reported as a gtest failure (ADD_FAILURE / EXPECT) naming the operation,
// both results and the recent operations; Step and CompareAll then return
// false. Nothing aborts.
#ifndef GANDER_STORAGE_STORE_DIFFERENTIAL_H_
#define GANDER_STORAGE_STORE_DIFFERENTIAL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/fake_clock.h"
#include "storage/state_store.h"
#include "storage/store_test_util.h"

namespace gander::storage {

struct DifferentialOptions {
  // Names the subject in failure messages.
  std::string subject_name = "subject";
  // Versions the model keeps per stream; the subject must keep as many.
  int retained_versions = 3;
  // Valid stream ids: "s0" .. "s<stream_count - 1>", and one long id made of
  // every character class a name allows. Invalid ids are mixed in too.
  int stream_count = 10;
  std::vector<std::string> tenants = {"acme", "globex"};
  // Small checkpoints that recur (deduplicated checkpoints).
  int repeated_payloads = 8;
  // One fresh checkpoint in `large_payload_one_in` is large, with a size
  // drawn by `large_payload_size` (a RocksDB blob file value, several wire
  // chunks, ...); 0: none.
  int large_payload_one_in = 0;
  std::function<size_t(Rng&)> large_payload_size;
  // When set, one operation in 100 is "Reopen": it calls this hook and goes
  // on with the store it returns (the hook may destroy the previous one);
  // an error fails the run. When unset, that operation advances the clock.
  std::function<absl::StatusOr<StateStore*>()> reopen;
  // When set, run after every Reopen and every CompareAll (for example the
  // RocksDB store's CheckConsistency); an error fails the run.
  std::function<absl::Status()> check;
};

class StoreDifferential {
 public:
  StoreDifferential(uint64_t seed, StateStore* subject, FakeClock* clock,
                    DifferentialOptions options);

  // One random operation (or clock step, or reopen) on both stores; false,
  // after reporting, when they disagree. `index` labels the operation in
  // reports.
  bool Step(int index);

  // Everything readable (every stream, its versions and checkpoints, every
  // tenant's listing), compared, then the check hook; false, after
  // reporting, on a difference.
  bool CompareAll();

  // How often operation `op` ("Commit", "Fork", ...) gave `outcome` ("OK",
  // "ABORTED", "NOT_FOUND", ...) on the model; also "Reopen"/"OK",
  // "ListStreams"/"continued" (a page token followed) and
  // "DeleteIdleStreams"/"deleted some".
  int Count(const std::string& op, const std::string& outcome) const;
  // How many large checkpoints were generated.
  int large_payloads() const { return large_payloads_; }
  // The counts, one line per operation.
  std::string Summary() const;

 private:
  bool Chance(int one_in) { return rng_() % one_in == 0; }
  template <typename T>
  T Pick(const std::vector<T>& items) {
    return items[rng_() % items.size()];
  }
  std::string Pick(std::initializer_list<const char*> items);
  int Pick(std::initializer_list<int> items);
  absl::Duration Pick(std::initializer_list<absl::Duration> items);

  std::string PickId();
  // An id the model does not hold (a random one when every id is in use).
  std::string PickAbsentId();
  uint64_t Head(const std::string& id);
  uint64_t Epoch(const std::string& id);
  uint64_t PickVersion(const std::string& id);
  std::string Payload();
  absl::Duration Ttl();
  void Record(const std::string& entry);

  const DifferentialOptions options_;
  Rng rng_;
  FakeClock* const clock_;
  StateStore* subject_;
  std::unique_ptr<StateStore> model_;
  std::vector<std::string> ids_, owners_, payloads_;
  std::map<std::string, uint64_t> epochs_;                   // the last epoch granted per stream
  std::vector<absl::Time> expiries_;                         // of every lease granted or renewed
  std::deque<std::string> tokens_;                           // recent page tokens
  std::deque<std::string> history_;                          // recent operations and outcomes
  std::map<std::string, std::map<std::string, int>> tally_;  // op -> outcome -> count
  int large_payloads_ = 0;
};

}  // namespace gander::storage

#endif  // GANDER_STORAGE_STORE_DIFFERENTIAL_H_
