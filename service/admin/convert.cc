#include "service/admin/convert.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gander::service {

gander::v1::StateCodec StateCodecToProto(storage::StateCodec codec) {
  switch (codec) {
    case storage::StateCodec::kRaw:
      return gander::v1::STATE_CODEC_RAW;
    case storage::StateCodec::kLossless:
      return gander::v1::STATE_CODEC_LOSSLESS;
    case storage::StateCodec::kBF16:
      return gander::v1::STATE_CODEC_BF16;
    case storage::StateCodec::kInt8:
      return gander::v1::STATE_CODEC_INT8;
  }
  return gander::v1::STATE_CODEC_UNSPECIFIED;
}

absl::StatusOr<storage::StateCodec> StateCodecFromProto(gander::v1::StateCodec codec,
                                                        storage::StateCodec unspecified) {
  switch (codec) {
    case gander::v1::STATE_CODEC_UNSPECIFIED:
      return unspecified;
    case gander::v1::STATE_CODEC_RAW:
      return storage::StateCodec::kRaw;
    case gander::v1::STATE_CODEC_LOSSLESS:
      return storage::StateCodec::kLossless;
    case gander::v1::STATE_CODEC_BF16:
      return storage::StateCodec::kBF16;
    case gander::v1::STATE_CODEC_INT8:
      return storage::StateCodec::kInt8;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("state codec ", static_cast<int>(codec),
                   " is not one of STATE_CODEC_UNSPECIFIED (0), RAW (1), "
                   "LOSSLESS (2), BF16 (3), INT8 (4)"));
}

}  // namespace gander::service
