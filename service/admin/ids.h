// Identities the admin services check or make: stream ids and tenants
// ([A-Za-z0-9._:-]{1,128}, the store's rule) and server-assigned stream ids.
// (Checkpoint ids: storage/remote/wire.h CheckpointIdOf.)
//
// Example:
//   GANDER_RETURN_IF_ERROR(ValidateStreamId("stream_id", request.stream_id()));
//   absl::StatusOr<StreamInfo> info = CreateWithStreamId(
//       request.stream_id(), [&](const std::string& id) { return store->CreateStream(...); });
//
// Thread safety: every function is thread-safe (NewStreamId draws from a
// per-call generator seeded by the system).
// Failure behaviour: validators return INVALID_ARGUMENT naming the field and
// the offending character or length; nothing aborts.
#ifndef GANDER_SERVICE_ADMIN_IDS_H_
#define GANDER_SERVICE_ADMIN_IDS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::service {

// The longest stream id or tenant the store accepts.
inline constexpr size_t kMaxIdLength = 128;

// OK when `value` is 1..kMaxIdLength characters of [A-Za-z0-9._:-];
// otherwise INVALID_ARGUMENT naming `field` (for example "stream_id").
absl::Status ValidateStreamId(absl::string_view field, absl::string_view value);

// A fresh random stream id: "s-" followed by 16 lowercase hex digits (64
// random bits). Callers that get ALREADY_EXISTS for it draw another.
std::string NewStreamId();

// Calls `create(id)` (returning absl::StatusOr<T>) with `requested_id`, or,
// when that is empty, with fresh NewStreamId()s until one is not in use
// (ALREADY_EXISTS), at most kNewStreamIdAttempts times. Returns the last
// result.
inline constexpr int kNewStreamIdAttempts = 4;
template <typename Create>
auto CreateWithStreamId(const std::string& requested_id, const Create& create)
    -> decltype(create(requested_id)) {
  if (!requested_id.empty()) return create(requested_id);
  for (int attempt = 1;; ++attempt) {
    auto result = create(NewStreamId());
    if (result.ok() || result.status().code() != absl::StatusCode::kAlreadyExists ||
        attempt >= kNewStreamIdAttempts) {
      return result;
    }
  }
}

}  // namespace gander::service

#endif  // GANDER_SERVICE_ADMIN_IDS_H_
