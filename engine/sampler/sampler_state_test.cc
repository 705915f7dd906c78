#include "engine/sampler/sampler_state.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "engine/sampler/internal/crc32.h"
#include "engine/sampler/sampler.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

SamplerState Example() {
  SamplerState state;
  state.position = 0x0102030405060708ull;
  state.counts = {{5, 1.0f}, {0, 0.25f}, {65535, 2.5f}, {300, 1e-30f}};
  return state;
}

void PutU32(uint32_t v, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// Builds version-1 bytes from raw fields with a correct checksum, so that
// the checks behind the checksum can be reached.
std::string Build(uint8_t version, uint64_t position,
                  const std::vector<std::pair<uint32_t, float>>& entries) {
  std::string out = "GSMP";
  out.push_back(static_cast<char>(version));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(position >> (8 * i)));
  PutU32(static_cast<uint32_t>(entries.size()), &out);
  for (const auto& [id, count] : entries) {
    uint32_t bits;
    std::memcpy(&bits, &count, 4);
    PutU32(id, &out);
    PutU32(bits, &out);
  }
  PutU32(sampler_internal::Crc32(out), &out);
  return out;
}

TEST(SamplerStateTest, RoundTrips) {
  for (const SamplerState& state : {SamplerState(), Example()}) {
    absl::StatusOr<SamplerState> back = SamplerState::Deserialize(state.Serialize());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, state);
  }
  SamplerState far;
  far.position = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(*SamplerState::Deserialize(far.Serialize()), far);
}

TEST(SamplerStateTest, LayoutIsLittleEndianAndSortedByToken) {
  const std::string bytes = Example().Serialize();
  ASSERT_EQ(bytes.size(), 17u + 8u * 4u + 4u);
  EXPECT_EQ(bytes.substr(0, 4), "GSMP");
  EXPECT_EQ(bytes[4], 1);
  EXPECT_EQ(bytes.substr(5, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(bytes.substr(13, 4), std::string("\x04\x00\x00\x00", 4));
  // Entries by increasing token id: 0, 5, 300, 65535.
  EXPECT_EQ(bytes.substr(17, 8), std::string("\x00\x00\x00\x00\x00\x00\x80\x3e", 8));  // 0.25f
  EXPECT_EQ(bytes.substr(25, 8), std::string("\x05\x00\x00\x00\x00\x00\x80\x3f", 8));  // 1.0f
  EXPECT_EQ(bytes.substr(33, 4), std::string("\x2c\x01\x00\x00", 4));                  // 300
  EXPECT_EQ(bytes.substr(41, 4), std::string("\xff\xff\x00\x00", 4));                  // 65535
  EXPECT_EQ(bytes,
            Build(1, Example().position, {{0, 0.25f}, {5, 1.0f}, {300, 1e-30f}, {65535, 2.5f}}));
}

TEST(SamplerStateTest, SerializationIsDeterministic) {
  // The same counts inserted in different orders (and after rehashing).
  SamplerState a, b;
  for (int i = 0; i < 1000; ++i) a.counts[i * 7] = 1.0f + i;
  for (int i = 999; i >= 0; --i) b.counts[i * 7] = 1.0f + i;
  b.counts.reserve(100000);
  EXPECT_EQ(a.Serialize(), b.Serialize());
}

TEST(SamplerStateTest, EveryTruncationIsDataLoss) {
  const std::string bytes = Example().Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<SamplerState> result = SamplerState::Deserialize(bytes.substr(0, n));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << "length " << n;
  }
  EXPECT_EQ(SamplerState::Deserialize(bytes + "x").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SamplerStateTest, EveryBitFlipIsRejected) {
  const std::string bytes = Example().Serialize();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      const absl::StatusCode code = SamplerState::Deserialize(flipped).status().code();
      // The version byte is read before the checksum (an unknown version's
      // checksum cannot be interpreted).
      const absl::StatusCode expected =
          i == 4 ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kDataLoss;
      EXPECT_EQ(code, expected) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(SamplerStateTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(12345);
  const std::string valid = Example().Serialize();
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes;
    if (trial % 2 == 0) {
      // Random bytes, sometimes behind a valid magic and version.
      const int length = rng() % 80;
      if (trial % 4 == 0) bytes = valid.substr(0, 5);
      for (int i = 0; i < length; ++i) bytes.push_back(static_cast<char>(rng()));
    } else {
      // A valid state with a few random bytes changed and a random cut.
      bytes = valid;
      for (int k = rng() % 4; k >= 0; --k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      bytes.resize(rng() % (bytes.size() + 1));
    }
    absl::StatusOr<SamplerState> result = SamplerState::Deserialize(bytes);
    if (result.ok()) {
      // Only possible if the bytes are intact; then it must round-trip.
      EXPECT_EQ(result->Serialize(), bytes);
    } else {
      EXPECT_TRUE(result.status().code() == absl::StatusCode::kDataLoss ||
                  result.status().code() == absl::StatusCode::kInvalidArgument)
          << result.status();
    }
  }
}

TEST(SamplerStateTest, UnknownVersionIsInvalidArgument) {
  for (uint8_t version : {0, 2, 255}) {
    const absl::Status status = SamplerState::Deserialize(Build(version, 3, {})).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(status.message(), "version")) << status.message();
  }
}

TEST(SamplerStateTest, BadEntriesBehindAValidChecksumAreDataLoss) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::vector<std::pair<uint32_t, float>>> bad = {
      {{5, 1.0f}, {3, 1.0f}},  // ids decreasing
      {{5, 1.0f}, {5, 1.0f}},  // duplicate id
      {{0x80000000u, 1.0f}},   // id beyond int
      {{1, 0.0f}},             // zero count
      {{1, -1.0f}},            // negative count
      {{1, nan}},              // NaN count
      {{1, inf}},              // infinite count
  };
  ASSERT_TRUE(SamplerState::Deserialize(Build(1, 0, {{3, 1.0f}, {5, 1.0f}})).ok());
  for (const auto& entries : bad) {
    EXPECT_EQ(SamplerState::Deserialize(Build(1, 0, entries)).status().code(),
              absl::StatusCode::kDataLoss);
  }
  // A count field claiming more entries than there are bytes.
  std::string lying = Build(1, 0, {{1, 1.0f}});
  lying[13] = 100;
  EXPECT_EQ(SamplerState::Deserialize(lying).status().code(), absl::StatusCode::kDataLoss);
  lying[16] = static_cast<char>(0xFF);  // n ~ 2^32: must not allocate for it
  EXPECT_EQ(SamplerState::Deserialize(lying).status().code(), absl::StatusCode::kDataLoss);
}

TEST(SamplerStateTest, SamplerRejectsStatesThatDoNotFitTheVocabulary) {
  SamplerState state;
  state.counts = {{10, 1.0f}};
  EXPECT_TRUE(Sampler::Create(SamplingParams(), 11, state).ok());
  absl::Status status = Sampler::Create(SamplingParams(), 10, state).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "token 10")) << status.message();

  state.counts = {{1, std::numeric_limits<float>::quiet_NaN()}};
  EXPECT_EQ(Sampler::Create(SamplingParams(), 10, state).status().code(),
            absl::StatusCode::kInvalidArgument);
  state.counts = {{-1, 1.0f}};
  EXPECT_EQ(Sampler::Create(SamplingParams(), 10, state).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gander::engine
