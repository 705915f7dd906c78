// Export and Import: moving one checkpoint between stores (another host,
// another store kind, a file in between) as portable bytes.
//
// The portable form of a checkpoint is its encoded snapshot
// (storage/state_codec.h), exactly as committed: it already names its model
// and shape, carries its token count and ends in a checksum, so nothing needs
// to be added around it. Export verifies those bytes before handing them out;
// Import verifies them again before it creates anything, then creates the
// new stream with that checkpoint as version 1 in one atomic step
// (StateStore::CreateStreamWithCheckpoint). The imported stream's version 1
// has the same checkpoint_id, size and token count as the exported version.
//
// Example:
//   absl::StatusOr<std::string> bytes = ExportCheckpoint(*source, "s1", /*version=*/0);
//   if (!bytes.ok()) return bytes.status();
//   absl::StatusOr<StreamInfo> info = ImportCheckpoint(
//       *destination, *bytes, {.id = "s1-moved", .tenant = "acme",
//                              .model_fingerprint = model.fingerprint()});
//
// Ownership: the store is borrowed for the call; results are owned by the
// caller. Thread safety: as thread-safe as the store (every StateStore is).
// Cost: one XXH3-64 pass over the bytes besides the store's own work.
// Export only reads. A refused Import creates nothing: the stream is created
// only after every check has passed, in one atomic step.
#ifndef GANDER_STORAGE_PORTABLE_H_
#define GANDER_STORAGE_PORTABLE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "storage/state_store.h"

namespace gander::storage {

// The bytes of `stream_id`'s checkpoint `version` (0 = the head), after
// checking that they are an intact snapshot this build reads
// (ReadSnapshotHeader). Errors:
//   INVALID_ARGUMENT     a malformed stream id
//   NOT_FOUND            no such stream; version not retained (version 0 of a
//                        stream without checkpoints included)
//   DATA_LOSS            the stored bytes are damaged (the store's checksum,
//                        or the snapshot's own)
//   FAILED_PRECONDITION  the stored checkpoint is not a snapshot this build
//                        can export (not a Gander state at all, or written
//                        in a newer format); the message says which
//   UNAVAILABLE/INTERNAL the store failed
absl::StatusOr<std::string> ExportCheckpoint(StateStore& store, const std::string& stream_id,
                                             uint64_t version);

// Creates the stream `request` (id and tenant required) whose version 1 is
// `bytes`, with the token count from the snapshot's header. An empty
// request.model_fingerprint takes the snapshot's. Checks, in order:
//   1. the bytes, by ReadSnapshotHeader, with the codec's codes:
//      INVALID_ARGUMENT not a Gander state (empty, wrong magic) or an
//      unknown format version, codec or flag; DATA_LOSS truncated, checksum
//      mismatch, inconsistent header
//   2. request.id, request.tenant and (when given) request.model_fingerprint
//      well formed: INVALID_ARGUMENT
//   3. request.model_fingerprint, when given, equal to the snapshot's:
//      FAILED_PRECONDITION naming both
//   4. the store's own checks (CreateStreamWithCheckpoint): ALREADY_EXISTS
//      for an id in use; INVALID_ARGUMENT when the snapshot's fingerprint is
//      not one the store accepts as a stream's; storage failures
absl::StatusOr<StreamInfo> ImportCheckpoint(StateStore& store, const std::string& bytes,
                                            const CreateStreamRequest& request);

}  // namespace gander::storage

#endif  // GANDER_STORAGE_PORTABLE_H_
