#include "storage/portable.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "storage/state_codec.h"
#include "storage/store_internal.h"

namespace gander::storage {

absl::StatusOr<std::string> ExportCheckpoint(StateStore& store, const std::string& stream_id,
                                             uint64_t version) {
  GANDER_ASSIGN_OR_RETURN(Checkpoint checkpoint, store.GetCheckpoint(stream_id, version));
  const absl::StatusOr<SnapshotHeader> header = ReadSnapshotHeader(checkpoint.bytes);
  if (!header.ok()) {
    const std::string what = absl::StrCat("exporting version ", checkpoint.info.version,
                                          " of stream '", stream_id, "': ");
    // The store verified the bytes against their content hash, so they are
    // what was committed: INVALID_ARGUMENT from the codec means a commit of
    // something this build does not read (not a snapshot, or a newer
    // format), which is not the caller's argument's fault.
    if (header.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::FailedPreconditionError(absl::StrCat(
          what,
          "the checkpoint is not a snapshot this build can export: ", header.status().message()));
    }
    return absl::Status(header.status().code(), absl::StrCat(what, header.status().message()));
  }
  return std::move(checkpoint.bytes);
}

absl::StatusOr<StreamInfo> ImportCheckpoint(StateStore& store, const std::string& bytes,
                                            const CreateStreamRequest& request) {
  GANDER_ASSIGN_OR_RETURN(const SnapshotHeader header, ReadSnapshotHeader(bytes));
  const bool fingerprint_given = !request.model_fingerprint.empty();
  GANDER_RETURN_IF_ERROR(internal::ValidateCreateRequest(request, fingerprint_given));
  if (fingerprint_given && request.model_fingerprint != header.model_fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "importing stream '", request.id, "': the snapshot belongs to model '",
        header.model_fingerprint, "', the request names model '", request.model_fingerprint, "'"));
  }
  CreateStreamRequest create = request;
  create.model_fingerprint = header.model_fingerprint;
  return store.CreateStreamWithCheckpoint(create, bytes, header.token_count);
}

}  // namespace gander::storage
