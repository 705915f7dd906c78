// FakeClock: a Clock that moves only when a test moves it, so lease expiry
// and idle TTLs are tested without sleeping.
//
// Example:
//   FakeClock clock;  // starts at 2026-01-01 00:00:00 UTC
//   StoreOptions options{.clock = &clock};
//   ...
//   clock.Advance(absl::Seconds(31));  // the 30 s lease has expired
//
// Ownership: the store borrows it; it must outlive every store using it.
// Thread safety: every method is thread-safe.
// Failure behaviour: none; a negative Advance moves the clock backwards.
#ifndef GANDER_STORAGE_FAKE_CLOCK_H_
#define GANDER_STORAGE_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "storage/state_store.h"

namespace gander::storage {

class FakeClock final : public Clock {
 public:
  FakeClock()
      : now_(absl::FromCivil(absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone())) {}
  explicit FakeClock(absl::Time start) : now_(start) {}

  absl::Time Now() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gander::storage

#endif  // GANDER_STORAGE_FAKE_CLOCK_H_
