// The wire helpers: checkpoint ids equal the stores' (XXH3-128, canonical
// order, lowercase hex), chunk reassembly refuses every malformed sequence
// with the caller's code (DATA_LOSS for a hash mismatch), UTF-8 checking,
// and exact time and duration conversions.
#include "storage/remote/wire.h"

#include <random>
#include <string>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "xxhash.h"

namespace gander::storage::wire {
namespace {

using absl::StatusCode;

// The id as the stores compute it, written out independently.
std::string ReferenceId(const std::string& bytes) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(bytes.data(), bytes.size()));
  std::string hex;
  for (unsigned char c : canonical.digest) {
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 15];
  }
  return hex;
}

std::string Random(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

TEST(CheckpointId, MatchesTheStoresHash) {
  for (size_t size : {0u, 1u, 17u, 240u, 4096u, 3000017u}) {
    const std::string bytes = Random(size, size);
    const std::string id = CheckpointIdOf(bytes);
    EXPECT_EQ(id, ReferenceId(bytes)) << size;
    EXPECT_TRUE(IsCheckpointId(id));
    // Incremental hashing over uneven pieces gives the same id.
    CheckpointHasher hasher;
    std::mt19937_64 rng(size);
    for (size_t offset = 0; offset < size;) {
      const size_t n = std::min<size_t>(size - offset, 1 + rng() % 70000);
      hasher.Update(absl::string_view(bytes).substr(offset, n));
      offset += n;
    }
    EXPECT_EQ(hasher.HexDigest(), id) << size;
  }
  EXPECT_NE(CheckpointIdOf("a"), CheckpointIdOf("b"));
}

TEST(CheckpointId, Format) {
  EXPECT_TRUE(IsCheckpointId(std::string(32, 'f')));
  EXPECT_TRUE(IsCheckpointId("0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(IsCheckpointId("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(IsCheckpointId(std::string(31, 'a')));
  EXPECT_FALSE(IsCheckpointId(std::string(33, 'a')));
  EXPECT_FALSE(IsCheckpointId(""));
  EXPECT_FALSE(IsCheckpointId("g123456789abcdef0123456789abcdef"));
}

TEST(ChunkReceiver, ReassemblesChunks) {
  const std::string bytes = Random(2 * kMaxChunkBytes + 5, 1);
  ChunkReceiver receiver(bytes.size(), CheckpointIdOf(bytes), StatusCode::kInvalidArgument);
  for (size_t offset = 0; offset < bytes.size(); offset += kMaxChunkBytes) {
    ASSERT_TRUE(receiver.Add(absl::string_view(bytes).substr(offset, kMaxChunkBytes)).ok());
  }
  absl::StatusOr<std::string> out = std::move(receiver).Finish();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, bytes);
}

TEST(ChunkReceiver, EmptyCheckpointWithoutChunks) {
  ChunkReceiver receiver(0, CheckpointIdOf(""), StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> out = std::move(receiver).Finish();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "");
}

TEST(ChunkReceiver, RefusesMalformedSequencesWithTheFramingCode) {
  for (StatusCode code : {StatusCode::kInvalidArgument, StatusCode::kDataLoss}) {
    const std::string id = CheckpointIdOf("abcdef");
    {
      ChunkReceiver receiver(6, id, code);
      absl::Status s = receiver.Add("");
      EXPECT_EQ(s.code(), code);
      EXPECT_NE(s.message().find("empty"), absl::string_view::npos) << s;
    }
    {
      ChunkReceiver receiver(kMaxChunkBytes + 1, id, code);
      absl::Status s = receiver.Add(std::string(kMaxChunkBytes + 1, 'x'));
      EXPECT_EQ(s.code(), code);
      EXPECT_NE(s.message().find("limit"), absl::string_view::npos) << s;
    }
    {
      ChunkReceiver receiver(6, id, code);
      ASSERT_TRUE(receiver.Add("abcd").ok());
      absl::Status s = receiver.Add("efg");
      EXPECT_EQ(s.code(), code);
      EXPECT_NE(s.message().find("offset 4"), absl::string_view::npos) << s;
    }
    {
      ChunkReceiver receiver(6, id, code);
      ASSERT_TRUE(receiver.Add("abcde").ok());
      absl::StatusOr<std::string> out = std::move(receiver).Finish();
      EXPECT_EQ(out.status().code(), code);
      EXPECT_NE(out.status().message().find("after 5 bytes"), absl::string_view::npos)
          << out.status();
    }
    {
      // Right size, wrong bytes: always DATA_LOSS.
      ChunkReceiver receiver(6, id, code);
      ASSERT_TRUE(receiver.Add("abcdeF").ok());
      EXPECT_EQ(std::move(receiver).Finish().status().code(), StatusCode::kDataLoss);
    }
  }
}

TEST(ValidateUploadHeader, SizeAndId) {
  const std::string id = CheckpointIdOf("x");
  EXPECT_TRUE(ValidateUploadHeader(1, id).ok());
  EXPECT_TRUE(ValidateUploadHeader(0, id).ok());  // the store answers "empty"
  EXPECT_TRUE(ValidateUploadHeader(kMaxCheckpointBytes, id).ok());
  EXPECT_EQ(ValidateUploadHeader(kMaxCheckpointBytes + 1, id).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateUploadHeader(1, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateUploadHeader(1, absl::AsciiStrToUpper(id)).code(),
            StatusCode::kInvalidArgument);
}

TEST(Utf8, WellFormedOnly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain-ascii_1.2:3"));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));      // U+20AC
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xac"));      // bad continuation
  EXPECT_FALSE(IsValidUtf8("ok\xc3"));
}

TEST(Times, RoundTripExactly) {
  for (int64_t micros :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1767225600123456}, int64_t{-86400000001}}) {
    const absl::Time t = absl::FromUnixMicros(micros);
    google::protobuf::Timestamp proto;
    TimeToProto(t, &proto);
    EXPECT_GE(proto.nanos(), 0);
    EXPECT_LT(proto.nanos(), 1000000000);
    EXPECT_EQ(TimeFromProto(proto), t) << micros;
  }
  google::protobuf::Timestamp proto;
  TimeToProto(absl::FromUnixMicros(-1), &proto);
  EXPECT_EQ(proto.seconds(), -1);
  EXPECT_EQ(proto.nanos(), 999999000);
}

TEST(Durations, KeepSignAndBounds) {
  google::protobuf::Duration proto;
  ASSERT_TRUE(DurationToProto(absl::Hours(24), "ttl", &proto).ok());
  EXPECT_EQ(proto.seconds(), 86400);
  EXPECT_EQ(proto.nanos(), 0);
  EXPECT_EQ(DurationFromProto(proto), absl::Hours(24));

  ASSERT_TRUE(DurationToProto(absl::Milliseconds(-1500), "ttl", &proto).ok());
  EXPECT_EQ(proto.seconds(), -1);
  EXPECT_EQ(proto.nanos(), -500000000);
  EXPECT_EQ(DurationFromProto(proto), absl::Milliseconds(-1500));

  // A quarter nanosecond: still positive, still negative; just past 24 h
  // stays past it.
  ASSERT_TRUE(DurationToProto(absl::Nanoseconds(1) / 4, "ttl", &proto).ok());
  EXPECT_EQ(DurationFromProto(proto), absl::Nanoseconds(1));
  ASSERT_TRUE(DurationToProto(-absl::Nanoseconds(1) / 4, "ttl", &proto).ok());
  EXPECT_EQ(DurationFromProto(proto), -absl::Nanoseconds(1));
  ASSERT_TRUE(DurationToProto(absl::Hours(24) + absl::Nanoseconds(1) / 4, "ttl", &proto).ok());
  EXPECT_GT(DurationFromProto(proto), absl::Hours(24));
  ASSERT_TRUE(DurationToProto(absl::Seconds(2) - absl::Nanoseconds(1) / 4, "ttl", &proto).ok());
  EXPECT_EQ(proto.seconds(), 2);
  EXPECT_EQ(proto.nanos(), 0);

  absl::Status s = DurationToProto(absl::InfiniteDuration(), "idle ttl", &proto);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("idle ttl"), absl::string_view::npos) << s;
  EXPECT_EQ(DurationToProto(-absl::InfiniteDuration(), "ttl", &proto).code(),
            StatusCode::kInvalidArgument);
}

TEST(Structs, RoundTrip) {
  StreamInfo info{"s1",
                  "acme",
                  "fp",
                  7,
                  99,
                  "parent",
                  3,
                  absl::FromUnixMicros(1767225600000001),
                  absl::FromUnixMicros(1767225600000002)};
  gander::v1::StreamInfo info_proto;
  StreamInfoToProto(info, &info_proto);
  const StreamInfo back = StreamInfoFromProto(info_proto);
  EXPECT_EQ(back.id, info.id);
  EXPECT_EQ(back.tenant, info.tenant);
  EXPECT_EQ(back.model_fingerprint, info.model_fingerprint);
  EXPECT_EQ(back.version, info.version);
  EXPECT_EQ(back.token_count, info.token_count);
  EXPECT_EQ(back.parent_id, info.parent_id);
  EXPECT_EQ(back.parent_version, info.parent_version);
  EXPECT_EQ(back.created, info.created);
  EXPECT_EQ(back.updated, info.updated);

  VersionInfo version{4, CheckpointIdOf("x"), 12, 345, absl::FromUnixMicros(5)};
  gander::v1::VersionInfo version_proto;
  VersionInfoToProto(version, &version_proto);
  const VersionInfo version_back = VersionInfoFromProto(version_proto);
  EXPECT_EQ(version_back.version, 4u);
  EXPECT_EQ(version_back.checkpoint_id, version.checkpoint_id);
  EXPECT_EQ(version_back.token_count, 12u);
  EXPECT_EQ(version_back.size_bytes, 345u);
  EXPECT_EQ(version_back.created, version.created);

  Lease lease{"s1", "worker-a", 42, absl::FromUnixMicros(1767225630000000)};
  gander::store::v1::Lease lease_proto;
  LeaseToProto(lease, &lease_proto);
  const Lease lease_back = LeaseFromProto(lease_proto);
  EXPECT_EQ(lease_back.stream_id, "s1");
  EXPECT_EQ(lease_back.owner, "worker-a");
  EXPECT_EQ(lease_back.epoch, 42u);
  EXPECT_EQ(lease_back.expires, lease.expires);
}

}  // namespace
}  // namespace gander::storage::wire
