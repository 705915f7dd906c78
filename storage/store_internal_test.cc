// Validation, hashing, page tokens, keys and the record format of the
// RocksDB layout: every single-byte flip and every truncation of every
// record kind is DATA_LOSS.
#include "storage/store_internal.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/status.h"
#include "storage/rocksdb_layout.h"
#include "xxhash.h"

namespace gander::storage::internal {
namespace {

using absl::StatusCode;

TEST(ValidateName, AcceptsTheCharsetAndLength) {
  EXPECT_TRUE(ValidateName("id", "azAZ09._:-").ok());
  EXPECT_TRUE(ValidateName("id", std::string(128, 'x')).ok());
  EXPECT_EQ(ValidateName("id", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateName("id", std::string(129, 'x')).code(), StatusCode::kInvalidArgument);
  for (char c : std::string("/ \t\n\x7f\x80#@!%+=,;\0", 16)) {
    const absl::Status s = ValidateName("stream id", absl::StrCat("ab", std::string(1, c)));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << static_cast<int>(c);
    EXPECT_NE(s.message().find("offset 2"), absl::string_view::npos) << s;
  }
  EXPECT_TRUE(ValidateName("fp", std::string(256, 'f'), kMaxFingerprintLength).ok());
}

TEST(ValidateDurations, Bounds) {
  EXPECT_TRUE(ValidateLeaseTtl(absl::Nanoseconds(1)).ok());
  EXPECT_TRUE(ValidateLeaseTtl(absl::Hours(24)).ok());
  EXPECT_FALSE(ValidateLeaseTtl(absl::ZeroDuration()).ok());
  EXPECT_FALSE(ValidateLeaseTtl(absl::Hours(24) + absl::Nanoseconds(1)).ok());
  EXPECT_TRUE(ValidateIdleTtl(absl::ZeroDuration()).ok());
  EXPECT_FALSE(ValidateIdleTtl(-absl::Nanoseconds(1)).ok());
  EXPECT_FALSE(ValidateIdleTtl(absl::InfiniteDuration()).ok());
  EXPECT_TRUE(ValidatePageSize(1).ok());
  EXPECT_TRUE(ValidatePageSize(1000).ok());
  EXPECT_FALSE(ValidatePageSize(0).ok());
  EXPECT_FALSE(ValidatePageSize(1001).ok());
}

TEST(CheckpointHash, IsCanonicalXxh3_128) {
  const std::string bytes = "gander checkpoint";
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  const std::string expected =
      absl::StrCat(absl::Hex(h.high64, absl::kZeroPad16), absl::Hex(h.low64, absl::kZeroPad16));
  const CheckpointHash hash = HashCheckpoint(bytes);
  EXPECT_EQ(hash.Hex(), expected);
  EXPECT_EQ(hash.Key().size(), 16u);
  CheckpointHash back;
  ASSERT_TRUE(CheckpointHashFromKey(hash.Key(), &back));
  EXPECT_EQ(back, hash);
  EXPECT_FALSE(CheckpointHashFromKey("short", &back));
  EXPECT_NE(HashCheckpoint("a"), HashCheckpoint("b"));
}

TEST(PageToken, RoundTripsAndIsBoundToItsTenant) {
  const std::string token = EncodePageToken("acme", "s-42");
  auto last = DecodePageToken("acme", token);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, "s-42");
  EXPECT_EQ(*DecodePageToken("acme", ""), "");
  EXPECT_EQ(DecodePageToken("acme2", token).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("acm", token).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("acme", "!!!").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("acme", EncodePageToken("acme", "bad/id")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("acme", EncodePageToken("acme", "")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("acme", token.substr(0, token.size() - 2)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Time, TruncatesTowardThePast) {
  const absl::Time t = absl::FromUnixNanos(1'700'000'000'123'456'789);
  EXPECT_EQ(TruncateToMicros(t), absl::FromUnixMicros(1'700'000'000'123'456));
  EXPECT_EQ(TruncateToMicros(absl::FromUnixNanos(-1)), absl::FromUnixMicros(-1));
}

TEST(Keys, VersionKeysSortByIdThenVersion) {
  EXPECT_LT(VersionKey("a", 2), VersionKey("a", 256));
  EXPECT_LT(VersionKey("a", 255), VersionKey("a", 256));
  EXPECT_LT(VersionKey("a", ~uint64_t{0}), VersionKeyEnd("a"));
  EXPECT_LT(VersionKeyEnd("a"), VersionKey("a.b", 0));
  EXPECT_LT(VersionKeyEnd("a"), VersionKey("a-", 0));
  std::string id;
  uint64_t version = 0;
  ASSERT_TRUE(ParseVersionKey(VersionKey("s:1", 0x0102030405060708), &id, &version));
  EXPECT_EQ(id, "s:1");
  EXPECT_EQ(version, 0x0102030405060708u);
  EXPECT_FALSE(ParseVersionKey("s1", &id, &version));
  std::string tenant;
  ASSERT_TRUE(ParseTenantKey(TenantKey("acme", "s1"), &tenant, &id));
  EXPECT_EQ(tenant, "acme");
  EXPECT_EQ(id, "s1");
  EXPECT_LT(TenantKey("acme", "zzz"), TenantKeyEnd("acme"));
  EXPECT_LT(TenantKeyEnd("acme"), TenantKey("acme.x", "a"));
  EXPECT_FALSE(ParseTenantKey("no-separator", &tenant, &id));
}

// One encoded record of each kind and a decoder that reports only its
// status.
struct Sample {
  std::string name;
  std::string key;
  std::string value;
  std::function<absl::Status(absl::string_view key, absl::string_view value)> decode;
};

std::vector<Sample> Samples() {
  StreamRecord stream{"acme", "fp", 7, 5, 700, "parent", 3, 1'700'000'000'000'000, -5};
  VersionRecord version{HashCheckpoint("x"), 42, 2'400'000, 1'700'000'000'000'001};
  RefRecord ref{3, 2'400'000};
  LeaseRecord lease{"worker-a", 9, 1'700'000'030'000'000};
  const std::string vkey = VersionKey("s1", 7);
  const std::string tkey = TenantKey("acme", "s1");
  const std::string hkey = HashCheckpoint("x").Key();
  return {
      {"stream", "s1", EncodeStreamRecord("s1", stream),
       [](absl::string_view k, absl::string_view v) {
         return DecodeStreamRecord(k, v, "stream").status();
       }},
      {"version", vkey, EncodeVersionRecord(vkey, version),
       [](absl::string_view k, absl::string_view v) {
         return DecodeVersionRecord(k, v, "version").status();
       }},
      {"ref", hkey, EncodeRefRecord(hkey, ref),
       [](absl::string_view k, absl::string_view v) {
         return DecodeRefRecord(k, v, "ref").status();
       }},
      {"tenant", tkey, EncodeTenantRecord(tkey),
       [](absl::string_view k, absl::string_view v) { return DecodeTenantRecord(k, v, "tenant"); }},
      {"lease", "s1", EncodeLeaseRecord("s1", lease),
       [](absl::string_view k, absl::string_view v) {
         return DecodeLeaseRecord(k, v, "lease").status();
       }},
      {"format", kFormatKey, EncodeFormatRecord(kFormatKey, {1}),
       [](absl::string_view k, absl::string_view v) {
         return DecodeFormatRecord(k, v, "format").status();
       }},
      {"epoch", kNextEpochKey, EncodeEpochRecord(kNextEpochKey, {12}),
       [](absl::string_view k, absl::string_view v) {
         return DecodeEpochRecord(k, v, "epoch").status();
       }},
  };
}

TEST(Records, RoundTrip) {
  StreamRecord stream{"acme", "fp", 7, 5, 700, "parent", 3, 1'700'000'000'000'000, -5};
  auto s = DecodeStreamRecord("s1", EncodeStreamRecord("s1", stream), "stream");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->tenant, "acme");
  EXPECT_EQ(s->model_fingerprint, "fp");
  EXPECT_EQ(s->version, 7u);
  EXPECT_EQ(s->oldest_version, 5u);
  EXPECT_EQ(s->token_count, 700u);
  EXPECT_EQ(s->parent_id, "parent");
  EXPECT_EQ(s->parent_version, 3u);
  EXPECT_EQ(s->created_us, 1'700'000'000'000'000);
  EXPECT_EQ(s->updated_us, -5);
  VersionRecord version{HashCheckpoint("x"), 42, 2'400'000, 99};
  auto v = DecodeVersionRecord("k", EncodeVersionRecord("k", version), "version");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->hash, version.hash);
  EXPECT_EQ(v->token_count, 42u);
  EXPECT_EQ(v->size, 2'400'000u);
  EXPECT_EQ(v->created_us, 99);
  auto r = DecodeRefRecord("k", EncodeRefRecord("k", {3, 4}), "ref");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count, 3u);
  EXPECT_EQ(r->size, 4u);
  auto l = DecodeLeaseRecord("k", EncodeLeaseRecord("k", {"w", 9, 10}), "lease");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->owner, "w");
  EXPECT_EQ(l->epoch, 9u);
  EXPECT_EQ(l->expires_us, 10);
  for (const Sample& sample : Samples()) {
    EXPECT_TRUE(sample.decode(sample.key, sample.value).ok()) << sample.name;
  }
}

TEST(Records, EveryFlipAndTruncationIsDataLoss) {
  for (const Sample& sample : Samples()) {
    for (size_t i = 0; i < sample.value.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string bad = sample.value;
        bad[i] ^= static_cast<char>(1 << bit);
        EXPECT_EQ(sample.decode(sample.key, bad).code(), StatusCode::kDataLoss)
            << sample.name << " byte " << i << " bit " << bit;
      }
    }
    for (size_t size = 0; size < sample.value.size(); ++size) {
      EXPECT_EQ(sample.decode(sample.key, sample.value.substr(0, size)).code(),
                StatusCode::kDataLoss)
          << sample.name << " truncated to " << size;
    }
    EXPECT_EQ(sample.decode(sample.key, sample.value + '\0').code(), StatusCode::kDataLoss)
        << sample.name;
    // The same bytes under another key (a value moved or a key damaged).
    EXPECT_EQ(sample.decode(sample.key + "x", sample.value).code(), StatusCode::kDataLoss)
        << sample.name;
  }
}

TEST(Records, KindsAreNotInterchangeable) {
  const std::string value = EncodeRefRecord("k", {1, 2});
  EXPECT_EQ(DecodeLeaseRecord("k", value, "lease").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeEpochRecord("k", value, "epoch").status().code(), StatusCode::kDataLoss);
}

TEST(Records, NewerFormatWithAValidChecksumIsFailedPrecondition) {
  // Rebuild a ref record with format byte 2 and a correct checksum.
  std::string body = EncodeRefRecord("k", {1, 2});
  body.resize(body.size() - 8);
  body[1] = 2;
  std::string data;
  for (int i = 0; i < 4; ++i) data.push_back(static_cast<char>(i == 0 ? 1 : 0));  // key length 1
  data += "k" + body;
  const uint64_t checksum = XXH3_64bits(data.data(), data.size());
  std::string value = body;
  for (int i = 0; i < 8; ++i) value.push_back(static_cast<char>(checksum >> (8 * i)));
  const absl::Status status = DecodeRefRecord("k", value, "ref").status();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status;
}

TEST(FromRocksDb, MapsCodes) {
  EXPECT_TRUE(FromRocksDb(rocksdb::Status::OK(), "x").ok());
  EXPECT_EQ(FromRocksDb(rocksdb::Status::Corruption("bad block"), "reading").code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::IOError("disk"), "x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NoSpace("full"), "x").code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::Busy(), "x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(FromRocksDb(rocksdb::Status::NotSupported(), "x").code(), StatusCode::kInternal);
  const absl::Status s = FromRocksDb(rocksdb::Status::Corruption("bad block"), "reading s1");
  EXPECT_NE(s.message().find("reading s1"), absl::string_view::npos);
  EXPECT_NE(s.message().find("bad block"), absl::string_view::npos);
}

}  // namespace
}  // namespace gander::storage::internal
