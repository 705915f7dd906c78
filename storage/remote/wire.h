// The StateStore's wire form (proto/gander/store/v1/state_store.proto):
// conversions between storage/state_store.h's structs and their messages,
// the checkpoint id (lowercase hex XXH3-128, as the stores compute it), and
// ChunkReceiver, which reassembles a chunked checkpoint and checks it
// against the header that announced it. Shared by the store server
// (service/store/) and the remote client (storage/remote/), so both ends
// apply one set of rules.
//
// Example (receiving an upload or a download):
//   ChunkReceiver receiver(header.size_bytes(), header.checkpoint_id(),
//                          absl::StatusCode::kInvalidArgument);
//   while (reader->Read(&message)) GANDER_RETURN_IF_ERROR(receiver.Add(message.chunk()));
//   absl::StatusOr<std::string> bytes = std::move(receiver).Finish();
//
// Ownership: everything is returned by value.
// Thread safety: the functions are pure; a ChunkReceiver or CheckpointHasher
// is used by one thread at a time.
// Failure behaviour: see each function; nothing aborts on bad input.
#ifndef GANDER_STORAGE_REMOTE_WIRE_H_
#define GANDER_STORAGE_REMOTE_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gander/store/v1/state_store.pb.h"
#include "gander/v1/common.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "storage/state_store.h"

namespace gander::storage::wire {

// A chunk carries 1 byte to kMaxChunkBytes of a checkpoint.
inline constexpr size_t kMaxChunkBytes = size_t{1} << 20;
// The largest checkpoint a header may announce (the stores' limit).
inline constexpr uint64_t kMaxCheckpointBytes = uint64_t{1} << 30;

// Lowercase hex XXH3-128 (canonical byte order) of `bytes`: 32 characters,
// the same string as the stores' VersionInfo::checkpoint_id.
std::string CheckpointIdOf(absl::string_view bytes);
// True when `id` is 32 characters of [0-9a-f].
bool IsCheckpointId(absl::string_view id);

// CheckpointIdOf, computed over bytes that arrive in pieces.
class CheckpointHasher {
 public:
  CheckpointHasher();
  ~CheckpointHasher();
  CheckpointHasher(const CheckpointHasher&) = delete;
  CheckpointHasher& operator=(const CheckpointHasher&) = delete;

  void Update(absl::string_view bytes);
  // The id of everything passed to Update so far.
  std::string HexDigest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Reassembles one chunked checkpoint announced as `declared_size` bytes
// with id `declared_id`, hashing as chunks arrive.
//
// `framing_code` is the code of a stream that breaks the chunking rules (an
// empty chunk, one over kMaxChunkBytes, more bytes than declared, fewer at
// the end): INVALID_ARGUMENT on the server (the caller sent a malformed
// upload), DATA_LOSS on the client (the download does not match its
// header). Bytes that do not hash to `declared_id` are always DATA_LOSS.
// Errors name the byte offset. After an error the receiver must not be used.
class ChunkReceiver {
 public:
  ChunkReceiver(uint64_t declared_size, std::string declared_id, absl::StatusCode framing_code);

  // Appends the next chunk.
  absl::Status Add(absl::string_view chunk);
  // The reassembled bytes, once exactly declared_size of them hashed to
  // declared_id.
  absl::StatusOr<std::string> Finish() &&;

  uint64_t received() const { return bytes_.size(); }

 private:
  const uint64_t declared_size_;
  const std::string declared_id_;
  const absl::StatusCode framing_code_;
  std::string bytes_;
  CheckpointHasher hasher_;
  int chunks_ = 0;
};

// OK when a header's size and checkpoint id are well formed: size at most
// kMaxCheckpointBytes (0 is let through: the store itself answers that an
// empty checkpoint is INVALID_ARGUMENT, after the arguments before it) and
// IsCheckpointId(id). INVALID_ARGUMENT naming the field otherwise.
absl::Status ValidateUploadHeader(uint64_t size_bytes, absl::string_view checkpoint_id);

// True when `text` is well-formed UTF-8 (what a proto3 `string` field must
// hold to be parsed on the other side).
bool IsValidUtf8(absl::string_view text);

// Times: a Timestamp holds seconds since the Unix epoch and nanoseconds in
// [0, 1e9). The stores' times are whole microseconds, so both directions
// are exact for them. An infinite time becomes the Timestamp's extremes.
void TimeToProto(absl::Time time, google::protobuf::Timestamp* proto);
absl::Time TimeFromProto(const google::protobuf::Timestamp& proto);

// Durations: seconds and nanoseconds of the same sign. A finite duration's
// sub-nanosecond part is rounded away from zero, so its sign and its
// position relative to any whole-nanosecond bound (0, 24 h) are kept.
// INVALID_ARGUMENT naming `what` for an infinite duration (no wire form).
absl::Status DurationToProto(absl::Duration duration, absl::string_view what,
                             google::protobuf::Duration* proto);
absl::Duration DurationFromProto(const google::protobuf::Duration& proto);

void StreamInfoToProto(const StreamInfo& info, gander::v1::StreamInfo* proto);
StreamInfo StreamInfoFromProto(const gander::v1::StreamInfo& proto);
void VersionInfoToProto(const VersionInfo& info, gander::v1::VersionInfo* proto);
VersionInfo VersionInfoFromProto(const gander::v1::VersionInfo& proto);
void LeaseToProto(const Lease& lease, gander::store::v1::Lease* proto);
Lease LeaseFromProto(const gander::store::v1::Lease& proto);

}  // namespace gander::storage::wire

#endif  // GANDER_STORAGE_REMOTE_WIRE_H_
