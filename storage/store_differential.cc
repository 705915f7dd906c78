#include "storage/store_differential.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "storage/memory_state_store.h"

namespace gander::storage {

StoreDifferential::StoreDifferential(uint64_t seed, StateStore* subject, FakeClock* clock,
                                     DifferentialOptions options)
    : options_(std::move(options)), rng_(seed), clock_(clock), subject_(subject) {
  model_ = NewMemoryStateStore({options_.retained_versions, clock_});
  for (int i = 0; i < options_.stream_count; ++i) ids_.push_back(absl::StrCat("s", i));
  ids_.push_back("a.long:id-with_all.chars");
  owners_ = {"w1", "w2", "w3"};
  for (int i = 0; i < options_.repeated_payloads; ++i) {
    payloads_.push_back(RandomBytes(rng_, 1 + rng_() % 300));
  }
}

bool StoreDifferential::Step(int index) {
  StateStore* const model = model_.get();
  StateStore* const subject = subject_;
  const int op = static_cast<int>(rng_() % 100);
  std::string what, a, b;
  if (op < 8) {
    CreateStreamRequest request{PickId(), Pick(options_.tenants), Pick({"m1", "m2"})};
    if (Chance(12)) request.tenant = Pick({"", "bad tenant", "caf\xc3\xa9"});
    if (Chance(12)) request.model_fingerprint = "";
    what = absl::StrCat("CreateStream ", request.id, " ", request.tenant);
    a = Outcome(model->CreateStream(request));
    b = Outcome(subject->CreateStream(request));
  } else if (op < 11) {
    CreateStreamRequest request{PickId(), Pick(options_.tenants), "m3"};
    const std::string bytes = Chance(5) ? std::string() : Payload();
    const uint64_t tokens = rng_() % 1000;
    what = absl::StrCat("CreateStreamWithCheckpoint ", request.id, " ", bytes.size());
    a = Outcome(model->CreateStreamWithCheckpoint(request, bytes, tokens));
    b = Outcome(subject->CreateStreamWithCheckpoint(request, bytes, tokens));
  } else if (op < 38) {
    const std::string id = PickId();
    const uint64_t head = Head(id);
    CommitRequest request{id, head, Epoch(id), Chance(20) ? std::string() : Payload(),
                          rng_() % 100000};
    if (Chance(6)) request.expected_version = Pick<uint64_t>({head + 1, head - 1, 0, head + 5});
    if (Chance(6)) request.lease_epoch = Pick<uint64_t>({0, request.lease_epoch - 1, 999999});
    what = absl::StrCat("Commit ", id, " expected=", request.expected_version,
                        " epoch=", request.lease_epoch, " bytes=", request.checkpoint.size());
    a = Outcome(model->Commit(request));
    b = Outcome(subject->Commit(request));
  } else if (op < 42) {
    const std::string id = PickId();
    what = absl::StrCat("GetStream ", id);
    a = Outcome(model->GetStream(id));
    b = Outcome(subject->GetStream(id));
  } else if (op < 51) {
    const std::string id = PickId();
    const uint64_t version = PickVersion(id);
    what = absl::StrCat("GetCheckpoint ", id, " ", version);
    a = Outcome(model->GetCheckpoint(id, version));
    b = Outcome(subject->GetCheckpoint(id, version));
  } else if (op < 54) {
    const std::string id = PickId();
    what = absl::StrCat("ListVersions ", id);
    a = Outcome(model->ListVersions(id));
    b = Outcome(subject->ListVersions(id));
  } else if (op < 61) {
    const std::string source = PickId();
    const uint64_t version = PickVersion(source);
    // A fork's model fingerprint is ignored, whatever it holds.
    CreateStreamRequest request{Chance(3) ? PickId() : PickAbsentId(), Pick(options_.tenants),
                                Chance(5) ? "\xff ignored" : ""};
    if (Chance(10)) request.tenant = "";
    what = absl::StrCat("Fork ", source, "@", version, " -> ", request.id);
    a = Outcome(model->Fork(source, version, request));
    b = Outcome(subject->Fork(source, version, request));
  } else if (op < 64) {
    const std::string id = PickId();
    what = absl::StrCat("DeleteStream ", id);
    a = Outcome(model->DeleteStream(id));
    b = Outcome(subject->DeleteStream(id));
  } else if (op < 70) {
    std::string tenant = Pick(options_.tenants);
    if (Chance(15)) tenant = "bad/tenant";
    const int page_size = Pick({1, 1, 2, 3, 5, 1000, 0, -1, 1001});
    std::string token;
    if (!tokens_.empty() && Chance(2)) token = tokens_[rng_() % tokens_.size()];
    if (Chance(15)) token = Pick({"not-a-token", "\xc3"});
    what = absl::StrCat("ListStreams ", tenant, " ", page_size, " '", token, "'");
    absl::StatusOr<ListStreamsResult> ra = model->ListStreams(tenant, page_size, token);
    a = Outcome(ra);
    b = Outcome(subject->ListStreams(tenant, page_size, token));
    if (ra.ok() && !token.empty()) ++tally_["ListStreams"]["continued"];
    if (ra.ok() && !ra->next_page_token.empty()) {
      tokens_.push_back(ra->next_page_token);
      if (tokens_.size() > 8) tokens_.pop_front();
    }
  } else if (op < 82) {
    const std::string id = PickId();
    const std::string owner = Chance(15) ? Pick({"bad owner", "\xe2\x82"}) : Pick(owners_);
    const absl::Duration ttl = Ttl();
    what = absl::StrCat("AcquireLease ", id, " ", owner, " ", absl::FormatDuration(ttl));
    absl::StatusOr<Lease> ra = model->AcquireLease(id, owner, ttl);
    a = Outcome(ra);
    b = Outcome(subject->AcquireLease(id, owner, ttl));
    if (ra.ok()) {
      epochs_[id] = ra->epoch;
      expiries_.push_back(ra->expires);
    }
  } else if (op < 87) {
    const std::string id = PickId();
    const uint64_t epoch = Chance(5) ? Epoch(id) + 1 : Epoch(id);
    const absl::Duration ttl = Ttl();
    what = absl::StrCat("RenewLease ", id, " ", epoch, " ", absl::FormatDuration(ttl));
    absl::StatusOr<Lease> ra = model->RenewLease(id, epoch, ttl);
    a = Outcome(ra);
    b = Outcome(subject->RenewLease(id, epoch, ttl));
    if (ra.ok()) expiries_.push_back(ra->expires);
  } else if (op < 89) {
    const std::string id = PickId();
    const uint64_t epoch = Chance(5) ? Epoch(id) - 1 : Epoch(id);
    what = absl::StrCat("ReleaseLease ", id, " ", epoch);
    a = Outcome(model->ReleaseLease(id, epoch));
    b = Outcome(subject->ReleaseLease(id, epoch));
  } else if (op < 91) {
    absl::Duration idle = Pick({absl::Seconds(60), absl::Seconds(300), absl::Seconds(900)});
    // Three of these four are invalid.
    if (Chance(5)) {
      idle = Pick({absl::ZeroDuration(), absl::Seconds(-1), absl::InfiniteDuration(),
                   -absl::Nanoseconds(1) / 4});
    }
    what = absl::StrCat("DeleteIdleStreams ", absl::FormatDuration(idle));
    absl::StatusOr<int> ra = model->DeleteIdleStreams(idle);
    a = Outcome(ra);
    b = Outcome(subject->DeleteIdleStreams(idle));
    if (ra.ok() && *ra > 0) ++tally_["DeleteIdleStreams"]["deleted some"];
  } else if (op < 99 || !options_.reopen) {
    absl::Duration step = absl::Milliseconds(rng_() % 2000);
    if (Chance(4)) step = absl::Nanoseconds(rng_() % 5000);
    if (Chance(10)) step = absl::Seconds(rng_() % 60);
    // Now and then land exactly on a lease's expiry (the boundary case).
    if (!expiries_.empty() && Chance(4)) {
      const absl::Time expiry = expiries_[rng_() % expiries_.size()];
      if (expiry > clock_->Now()) step = expiry - clock_->Now();
    }
    clock_->Advance(step);
    Record(absl::StrCat(index, ": Advance ", absl::FormatDuration(step)));
    return true;
  } else {
    Record(absl::StrCat(index, ": Reopen"));
    absl::StatusOr<StateStore*> reopened = options_.reopen();
    if (!reopened.ok() || *reopened == nullptr) {
      ADD_FAILURE() << "op " << index << " Reopen of " << options_.subject_name << " failed: "
                    << (reopened.ok() ? absl::InternalError("no store") : reopened.status());
      return false;
    }
    subject_ = *reopened;
    ++tally_["Reopen"]["OK"];
    if (!options_.check) return true;
    const absl::Status checked = options_.check();
    EXPECT_TRUE(checked.ok()) << "after op " << index << " Reopen: " << checked;
    return checked.ok();
  }
  Record(absl::StrCat(index, ": ", what, " -> ", a));
  const std::string name = what.substr(0, what.find(' '));
  ++tally_[name][a.substr(0, a.find(':'))];
  if (a != b) {
    ADD_FAILURE() << "op " << index << " " << what << "\n  model: " << a << "\n  "
                  << options_.subject_name << ": " << b << "\nrecent operations:\n  "
                  << absl::StrJoin(history_, "\n  ");
    return false;
  }
  return true;
}

bool StoreDifferential::CompareAll() {
  std::string a, b;
  for (const std::string& id : ids_) {
    a += Outcome(model_->GetStream(id)) + Outcome(model_->ListVersions(id));
    b += Outcome(subject_->GetStream(id)) + Outcome(subject_->ListVersions(id));
    for (uint64_t v = 0; v <= Head(id) + 1; ++v) {
      a += Outcome(model_->GetCheckpoint(id, v));
      b += Outcome(subject_->GetCheckpoint(id, v));
    }
  }
  for (const std::string& tenant : options_.tenants) {
    a += Outcome(model_->ListStreams(tenant, 1000, ""));
    b += Outcome(subject_->ListStreams(tenant, 1000, ""));
  }
  EXPECT_EQ(a, b) << "model vs " << options_.subject_name << " after:\n  "
                  << absl::StrJoin(history_, "\n  ");
  if (!options_.check) return a == b;
  const absl::Status checked = options_.check();
  EXPECT_TRUE(checked.ok()) << checked;
  return a == b && checked.ok();
}

int StoreDifferential::Count(const std::string& op, const std::string& outcome) const {
  const auto by_op = tally_.find(op);
  if (by_op == tally_.end()) return 0;
  const auto n = by_op->second.find(outcome);
  return n == by_op->second.end() ? 0 : n->second;
}

std::string StoreDifferential::Summary() const {
  std::vector<std::string> lines;
  for (const auto& [op, outcomes] : tally_) {
    std::vector<std::string> parts;
    for (const auto& [outcome, n] : outcomes) parts.push_back(absl::StrCat(outcome, "=", n));
    lines.push_back(absl::StrCat(op, ": ", absl::StrJoin(parts, " ")));
  }
  lines.push_back(absl::StrCat("large payloads: ", large_payloads_));
  return absl::StrJoin(lines, "\n");
}

std::string StoreDifferential::Pick(std::initializer_list<const char*> items) {
  return std::vector<const char*>(items)[rng_() % items.size()];
}

int StoreDifferential::Pick(std::initializer_list<int> items) {
  return std::vector<int>(items)[rng_() % items.size()];
}

absl::Duration StoreDifferential::Pick(std::initializer_list<absl::Duration> items) {
  return std::vector<absl::Duration>(items)[rng_() % items.size()];
}

std::string StoreDifferential::PickId() {
  if (Chance(30)) return Pick({"", "bad id", "x/y", "\xff\xfe", "caf\xc3\xa9"});
  return Pick(ids_);
}

std::string StoreDifferential::PickAbsentId() {
  const size_t start = rng_() % ids_.size();
  for (size_t i = 0; i < ids_.size(); ++i) {
    const std::string& id = ids_[(start + i) % ids_.size()];
    if (!model_->GetStream(id).ok()) return id;
  }
  return PickId();
}

uint64_t StoreDifferential::Head(const std::string& id) {
  absl::StatusOr<StreamInfo> info = model_->GetStream(id);
  return info.ok() ? info->version : 0;
}

uint64_t StoreDifferential::Epoch(const std::string& id) {
  const auto it = epochs_.find(id);
  return it == epochs_.end() ? 1 : it->second;
}

uint64_t StoreDifferential::PickVersion(const std::string& id) {
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

std::string StoreDifferential::Payload() {
  if (options_.large_payload_one_in > 0 && Chance(options_.large_payload_one_in)) {
    ++large_payloads_;
    const size_t size = options_.large_payload_size(rng_);
    return RandomBytes(rng_, size);
  }
  if (Chance(3)) return RandomBytes(rng_, 1 + rng_() % 500);
  return Pick(payloads_);  // repeats: deduplicated checkpoints
}

absl::Duration StoreDifferential::Ttl() {
  if (Chance(15)) {
    return Pick({absl::ZeroDuration(), absl::Hours(25), absl::Seconds(-3), absl::InfiniteDuration(),
                 absl::Hours(24) + absl::Nanoseconds(1) / 4});
  }
  return absl::Milliseconds(1 + rng_() % 60000) + absl::Nanoseconds(rng_() % 1000);
}

void StoreDifferential::Record(const std::string& entry) {
  history_.push_back(entry);
  if (history_.size() > 30) history_.pop_front();
}

}  // namespace gander::storage
