#include "storage/remote/wire.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "xxhash.h"

namespace gander::storage::wire {
namespace {

std::string HexOf(XXH128_hash_t hash) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(canonical.digest), sizeof(canonical.digest)));
}

// Above this, a receiver does not reserve the announced size up front (a
// header alone must not make the receiver allocate up to 1 GiB).
constexpr uint64_t kMaxReserveBytes = uint64_t{64} << 20;

}  // namespace

std::string CheckpointIdOf(absl::string_view bytes) {
  return HexOf(XXH3_128bits(bytes.data(), bytes.size()));
}

bool IsCheckpointId(absl::string_view id) {
  if (id.size() != 32) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

struct CheckpointHasher::State {
  XXH3_state_t* xxh = nullptr;
};

CheckpointHasher::CheckpointHasher() : state_(std::make_unique<State>()) {
  state_->xxh = XXH3_createState();
  // XXH3_createState only fails when malloc does; like any allocation
  // failure that is not recoverable here.
  XXH3_128bits_reset(state_->xxh);
}

CheckpointHasher::~CheckpointHasher() { XXH3_freeState(state_->xxh); }

void CheckpointHasher::Update(absl::string_view bytes) {
  XXH3_128bits_update(state_->xxh, bytes.data(), bytes.size());
}

std::string CheckpointHasher::HexDigest() const { return HexOf(XXH3_128bits_digest(state_->xxh)); }

ChunkReceiver::ChunkReceiver(uint64_t declared_size, std::string declared_id,
                             absl::StatusCode framing_code)
    : declared_size_(declared_size),
      declared_id_(std::move(declared_id)),
      framing_code_(framing_code) {
  bytes_.reserve(std::min(declared_size_, kMaxReserveBytes));
}

absl::Status ChunkReceiver::Add(absl::string_view chunk) {
  const uint64_t offset = bytes_.size();
  if (chunk.empty()) {
    return absl::Status(framing_code_,
                        absl::StrCat("chunk ", chunks_ + 1, " (at byte offset ", offset,
                                     ") is empty; chunks carry 1 to ", kMaxChunkBytes, " bytes"));
  }
  if (chunk.size() > kMaxChunkBytes) {
    return absl::Status(framing_code_,
                        absl::StrCat("chunk ", chunks_ + 1, " (at byte offset ", offset, ") is ",
                                     chunk.size(), " bytes; the limit is ", kMaxChunkBytes));
  }
  if (chunk.size() > declared_size_ - offset) {
    return absl::Status(
        framing_code_,
        absl::StrCat("chunk ", chunks_ + 1, " (at byte offset ", offset, ", ", chunk.size(),
                     " bytes) goes past the declared size_bytes ", declared_size_));
  }
  ++chunks_;
  hasher_.Update(chunk);
  bytes_.append(chunk.data(), chunk.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> ChunkReceiver::Finish() && {
  if (bytes_.size() != declared_size_) {
    return absl::Status(
        framing_code_,
        absl::StrCat("the checkpoint ended after ", bytes_.size(), " bytes (", chunks_,
                     " chunks) of the declared size_bytes ", declared_size_));
  }
  const std::string actual = hasher_.HexDigest();
  if (actual != declared_id_) {
    return absl::DataLossError(absl::StrCat("the checkpoint's ", bytes_.size(), " bytes hash to ",
                                            actual, ", not to the declared checkpoint_id '",
                                            declared_id_, "'"));
  }
  return std::move(bytes_);
}

absl::Status ValidateUploadHeader(uint64_t size_bytes, absl::string_view checkpoint_id) {
  if (size_bytes > kMaxCheckpointBytes) {
    return absl::InvalidArgumentError(absl::StrCat("header's size_bytes ", size_bytes,
                                                   " is over the limit of ", kMaxCheckpointBytes));
  }
  if (!IsCheckpointId(checkpoint_id)) {
    return absl::InvalidArgumentError(absl::StrCat("header's checkpoint_id '",
                                                   absl::CHexEscape(checkpoint_id.substr(0, 64)),
                                                   "' is not 32 lowercase hex characters"));
  }
  return absl::OkStatus();
}

bool IsValidUtf8(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int length;
    unsigned char min = 0x80, max = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) min = 0xA0;  // no overlong forms
      if (c == 0xED) max = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) min = 0x90;  // no overlong forms
      if (c == 0xF4) max = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (end - p < length) return false;
    if (p[1] < min || p[1] > max) return false;
    for (int i = 2; i < length; ++i) {
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    }
    p += length;
  }
  return true;
}

void TimeToProto(absl::Time time, google::protobuf::Timestamp* proto) {
  if (time == absl::InfiniteFuture()) {
    proto->set_seconds(std::numeric_limits<int64_t>::max());
    proto->set_nanos(999999999);
    return;
  }
  if (time == absl::InfinitePast()) {
    proto->set_seconds(std::numeric_limits<int64_t>::min());
    proto->set_nanos(0);
    return;
  }
  const int64_t seconds = absl::ToUnixSeconds(time);                  // rounds toward the past
  const absl::Duration rest = time - absl::FromUnixSeconds(seconds);  // in [0, 1 s)
  proto->set_seconds(seconds);
  proto->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rest)));
}

absl::Time TimeFromProto(const google::protobuf::Timestamp& proto) {
  return absl::FromUnixSeconds(proto.seconds()) + absl::Nanoseconds(proto.nanos());
}

absl::Status DurationToProto(absl::Duration duration, absl::string_view what,
                             google::protobuf::Duration* proto) {
  if (duration == absl::InfiniteDuration() || duration == -absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", absl::FormatDuration(duration), " is infinite"));
  }
  absl::Duration rest;
  int64_t seconds = absl::IDivDuration(duration, absl::Seconds(1), &rest);  // toward zero
  absl::Duration sub_nanos;
  int64_t nanos = absl::IDivDuration(rest, absl::Nanoseconds(1), &sub_nanos);
  if (sub_nanos > absl::ZeroDuration()) ++nanos;
  if (sub_nanos < absl::ZeroDuration()) --nanos;
  if (nanos == 1000000000) {
    ++seconds;
    nanos = 0;
  } else if (nanos == -1000000000) {
    --seconds;
    nanos = 0;
  }
  proto->set_seconds(seconds);
  proto->set_nanos(static_cast<int32_t>(nanos));
  return absl::OkStatus();
}

absl::Duration DurationFromProto(const google::protobuf::Duration& proto) {
  return absl::Seconds(proto.seconds()) + absl::Nanoseconds(proto.nanos());
}

void StreamInfoToProto(const StreamInfo& info, gander::v1::StreamInfo* proto) {
  proto->set_id(info.id);
  proto->set_tenant(info.tenant);
  proto->set_model_fingerprint(info.model_fingerprint);
  proto->set_version(info.version);
  proto->set_token_count(info.token_count);
  proto->set_parent_id(info.parent_id);
  proto->set_parent_version(info.parent_version);
  TimeToProto(info.created, proto->mutable_create_time());
  TimeToProto(info.updated, proto->mutable_update_time());
}

StreamInfo StreamInfoFromProto(const gander::v1::StreamInfo& proto) {
  StreamInfo info;
  info.id = proto.id();
  info.tenant = proto.tenant();
  info.model_fingerprint = proto.model_fingerprint();
  info.version = proto.version();
  info.token_count = proto.token_count();
  info.parent_id = proto.parent_id();
  info.parent_version = proto.parent_version();
  info.created = TimeFromProto(proto.create_time());
  info.updated = TimeFromProto(proto.update_time());
  return info;
}

void VersionInfoToProto(const VersionInfo& info, gander::v1::VersionInfo* proto) {
  proto->set_version(info.version);
  proto->set_checkpoint_id(info.checkpoint_id);
  proto->set_token_count(info.token_count);
  proto->set_size_bytes(info.size_bytes);
  TimeToProto(info.created, proto->mutable_create_time());
}

VersionInfo VersionInfoFromProto(const gander::v1::VersionInfo& proto) {
  VersionInfo info;
  info.version = proto.version();
  info.checkpoint_id = proto.checkpoint_id();
  info.token_count = proto.token_count();
  info.size_bytes = proto.size_bytes();
  info.created = TimeFromProto(proto.create_time());
  return info;
}

void LeaseToProto(const Lease& lease, gander::store::v1::Lease* proto) {
  proto->set_stream_id(lease.stream_id);
  proto->set_owner(lease.owner);
  proto->set_epoch(lease.epoch);
  TimeToProto(lease.expires, proto->mutable_expire_time());
}

Lease LeaseFromProto(const gander::store::v1::Lease& proto) {
  Lease lease;
  lease.stream_id = proto.stream_id();
  lease.owner = proto.owner();
  lease.epoch = proto.epoch();
  lease.expires = TimeFromProto(proto.expire_time());
  return lease;
}

}  // namespace gander::storage::wire
