// Helpers for the state store tests: scratch directories, status codes of
// results, deterministic random bytes, printable forms of results (compared
// as strings, so a mismatch shows both sides), and environment knobs for
// longer opt-in runs.
//
// Example:
//   std::string dir = NewTestDir("persist");
//   EXPECT_EQ(CodeOf(store->GetStream("x")), absl::StatusCode::kNotFound);
//   EXPECT_EQ(ToString(*a), ToString(*b));
//
// Thread safety: the functions are thread-safe; an Rng is not.
#ifndef GANDER_STORAGE_STORE_TEST_UTIL_H_
#define GANDER_STORAGE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/state_store.h"

namespace gander::storage {

// A new, empty directory under $TEST_TMPDIR (or /tmp), unique per call.
std::string NewTestDir(absl::string_view name);

inline absl::StatusCode CodeOf(const absl::Status& status) { return status.code(); }
template <typename T>
absl::StatusCode CodeOf(const absl::StatusOr<T>& result) {
  return result.status().code();
}

using Rng = std::mt19937_64;
std::string RandomBytes(Rng& rng, size_t size);

// The integer in environment variable `name`, or `fallback` when unset or
// not a positive number.
int EnvInt(const char* name, int fallback);

std::string ToString(const StreamInfo& info);
std::string ToString(const VersionInfo& info);
std::string ToString(const std::vector<VersionInfo>& versions);
std::string ToString(const Checkpoint& checkpoint);  // info and XXH3-64 of the bytes
std::string ToString(const Lease& lease);
std::string ToString(const ListStreamsResult& result);

// "OK: <value>" or "<code>" (messages may differ between stores).
template <typename T>
std::string Outcome(const absl::StatusOr<T>& result) {
  if (!result.ok()) return absl::StatusCodeToString(result.status().code());
  return "OK: " + ToString(*result);
}
inline std::string Outcome(const absl::StatusOr<uint64_t>& result) {
  if (!result.ok()) return absl::StatusCodeToString(result.status().code());
  return "OK: " + std::to_string(*result);
}
inline std::string Outcome(const absl::StatusOr<int>& result) {
  if (!result.ok()) return absl::StatusCodeToString(result.status().code());
  return "OK: " + std::to_string(*result);
}
inline std::string Outcome(const absl::Status& status) {
  return absl::StatusCodeToString(status.code());
}

}  // namespace gander::storage

#endif  // GANDER_STORAGE_STORE_TEST_UTIL_H_
