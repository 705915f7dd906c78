// The state codec on the wire: gander.v1.StateCodec
// (proto/gander/v1/common.proto) <-> storage::StateCodec
// (storage/state_codec.h). StreamInfo and VersionInfo messages are converted
// by storage/remote/wire.h, shared with the store server.
//
// The wire enum is not the on-disk codec id: wire 0 is
// STATE_CODEC_UNSPECIFIED and every codec is one higher on the wire
// (RAW = 1, LOSSLESS = 2, BF16 = 3, INT8 = 4; on disk kRaw = 0 ... kInt8 = 3).
//
// Example:
//   header->set_codec(StateCodecToProto(snapshot_header.codec));
//   absl::StatusOr<storage::StateCodec> codec =
//       StateCodecFromProto(request.codec(), storage::StateCodec::kLossless);
//
// Thread safety: pure functions.
#ifndef GANDER_SERVICE_ADMIN_CONVERT_H_
#define GANDER_SERVICE_ADMIN_CONVERT_H_

#include "absl/status/statusor.h"
#include "gander/v1/common.pb.h"
#include "storage/state_codec.h"

namespace gander::service {

// The wire value of an on-disk codec; STATE_CODEC_UNSPECIFIED for a value
// outside the known four (never written by this build's encoder).
gander::v1::StateCodec StateCodecToProto(storage::StateCodec codec);

// The on-disk codec of a wire value; STATE_CODEC_UNSPECIFIED gives
// `unspecified` (the server's default). INVALID_ARGUMENT for a number that
// names no codec.
absl::StatusOr<storage::StateCodec> StateCodecFromProto(gander::v1::StateCodec codec,
                                                        storage::StateCodec unspecified);

}  // namespace gander::service

#endif  // GANDER_SERVICE_ADMIN_CONVERT_H_
