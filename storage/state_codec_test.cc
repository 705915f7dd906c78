#include "storage/state_codec.h"

#include <xxhash.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "engine/model.h"
#include "engine/sampler/sampler_state.h"
#include "engine/weights/random_model.h"
#include "gtest/gtest.h"

namespace gander::storage {
namespace {

using engine::Model;
using engine::ModelConfig;
using engine::RecurrentState;
using engine::SamplerState;

constexpr size_t kFixedHeaderSize = 62;  // state_codec.h's table

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::unique_ptr<Model> MakeModel(const engine::RandomModelSpec& spec, const std::string& name) {
  const std::string path = TempPath(name);
  absl::Status written =
      WriteRandomModel(spec, path, engine::TensorFormat::kPth, engine::FileDtype::kBF16);
  EXPECT_TRUE(written.ok()) << written;
  auto model = Model::Load(path, {}, /*threads=*/1);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

void PutU16(std::string* s, size_t at, uint16_t v) {
  (*s)[at] = static_cast<char>(v);
  (*s)[at + 1] = static_cast<char>(v >> 8);
}
void PutU32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}

// Rewrites the trailing checksum so that `bytes` pass it: forged bytes that
// reach the checks behind the checksum.
void Restamp(std::string* bytes) {
  const size_t body = bytes->size() - 8;
  const uint64_t h = XXH3_64bits(bytes->data(), body);
  for (int i = 0; i < 8; ++i) (*bytes)[body + i] = static_cast<char>(h >> (8 * i));
}

// A real state: a random model (L=2, C=128, H=2, N=64, V=256) after 50
// tokens of prefill, with a sampler state and pending input.
class StateCodecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ =
        MakeModel({.layers = 2, .embd = 128, .vocab = 256, .seed = 11}, "codec_a.pth").release();
    ASSERT_NE(model_, nullptr);
    std::vector<int> tokens(50);
    for (int i = 0; i < 50; ++i) tokens[i] = (i * 37 + 5) % 256;
    state_ = new RecurrentState(model_->NewState());
    std::vector<float> logits(model_->config().vocab);
    ASSERT_TRUE(model_->Prefill(tokens, state_, absl::MakeSpan(logits)).ok());
  }
  void SetUp() override {
    ASSERT_NE(model_, nullptr);
    ASSERT_NE(state_, nullptr);
  }
  static void TearDownTestSuite() {
    delete model_;
    delete state_;
    model_ = nullptr;
    state_ = nullptr;
  }

  static StreamSnapshot Snapshot() {
    StreamSnapshot s;
    s.model_fingerprint = model_->fingerprint();
    s.config = model_->config();
    s.token_count = 50;
    s.state = *state_;
    SamplerState sampler;
    sampler.position = 17;
    sampler.counts = {{5, 1.5f}, {17, 0.25f}, {200, 3.0f}};
    s.sampler_state = sampler.Serialize();
    s.pending_input = {3, 141, 59, 0, 255};
    return s;
  }

  static std::string Encode(StateCodec codec, const EncodeOptions& options = {}) {
    absl::StatusOr<std::string> bytes = EncodeSnapshot(Snapshot(), codec, options);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::string();
  }

  static absl::StatusOr<StreamSnapshot> Decode(absl::string_view bytes) {
    return DecodeSnapshot(bytes, model_->fingerprint(), model_->config());
  }

  static Model* model_;
  static RecurrentState* state_;
};

Model* StateCodecTest::model_ = nullptr;
RecurrentState* StateCodecTest::state_ = nullptr;

constexpr StateCodec kAllCodecs[] = {StateCodec::kRaw, StateCodec::kLossless, StateCodec::kBF16,
                                     StateCodec::kInt8};

EncodeOptions CompressLossy() {
  EncodeOptions options;
  options.compress_lossy = true;
  return options;
}

// Every distinct payload form: the four codecs, and bf16/int8 compressed.
struct Variant {
  StateCodec codec;
  bool compress_lossy;
};
constexpr Variant kAllVariants[] = {{StateCodec::kRaw, false},  {StateCodec::kLossless, false},
                                    {StateCodec::kBF16, false}, {StateCodec::kInt8, false},
                                    {StateCodec::kBF16, true},  {StateCodec::kInt8, true}};

std::string VariantName(const Variant& v) {
  return absl::StrCat(StateCodecName(v.codec), v.compress_lossy ? "+zstd" : "");
}

void ExpectSameExceptState(const StreamSnapshot& a, const StreamSnapshot& b) {
  EXPECT_EQ(a.model_fingerprint, b.model_fingerprint);
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.token_count, b.token_count);
  EXPECT_EQ(a.sampler_state, b.sampler_state);
  EXPECT_EQ(a.pending_input, b.pending_input);
  EXPECT_EQ(a.state.floats().size(), b.state.floats().size());
}

bool BitIdentical(const RecurrentState& a, const RecurrentState& b) {
  return a.floats().size() == b.floats().size() &&
         std::memcmp(a.floats().data(), b.floats().data(), a.floats().size() * 4) == 0;
}

TEST_F(StateCodecTest, StateIsNonTrivial) {
  // The prefill really produced a state worth encoding: most floats non-zero,
  // spanning several orders of magnitude.
  size_t nonzero = 0;
  float max_abs = 0;
  for (float x : state_->floats()) {
    nonzero += x != 0.0f;
    max_abs = std::max(max_abs, std::fabs(x));
  }
  EXPECT_GT(nonzero, state_->floats().size() * 9 / 10);
  EXPECT_GT(max_abs, 0.1f);
}

TEST_F(StateCodecTest, ExactCodecsRoundTripBitExactly) {
  for (StateCodec codec : {StateCodec::kRaw, StateCodec::kLossless}) {
    SCOPED_TRACE(StateCodecName(codec));
    const StreamSnapshot original = Snapshot();
    const std::string bytes = Encode(codec);
    absl::StatusOr<StreamSnapshot> back = Decode(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameExceptState(original, *back);
    EXPECT_TRUE(BitIdentical(original.state, back->state));
    absl::StatusOr<SamplerState> sampler = SamplerState::Deserialize(back->sampler_state);
    ASSERT_TRUE(sampler.ok()) << sampler.status();
    EXPECT_EQ(sampler->position, 17u);
    EXPECT_EQ(sampler->counts.size(), 3u);
  }
}

TEST_F(StateCodecTest, SizesPerCodec) {
  const size_t floats = state_->floats().size();
  const size_t raw = Encode(StateCodec::kRaw).size();
  const size_t lossless = Encode(StateCodec::kLossless).size();
  const size_t bf16 = Encode(StateCodec::kBF16).size();
  const size_t int8 = Encode(StateCodec::kInt8).size();
  const size_t overhead = raw - 4 * floats;
  EXPECT_LT(overhead, 200u);
  EXPECT_EQ(bf16, overhead + 2 * floats);
  EXPECT_EQ(int8, overhead + floats + 4 * (floats / 64));
  EXPECT_LT(lossless, raw * 95 / 100);  // shuffled float32 planes do compress
  EXPECT_LT(Encode(StateCodec::kBF16, CompressLossy()).size(), bf16 * 90 / 100);
  EXPECT_LT(Encode(StateCodec::kInt8, CompressLossy()).size(), int8 * 97 / 100);
  // compress_lossy changes nothing for the exact codecs.
  EXPECT_EQ(Encode(StateCodec::kRaw, CompressLossy()), Encode(StateCodec::kRaw));
  EXPECT_EQ(Encode(StateCodec::kLossless, CompressLossy()), Encode(StateCodec::kLossless));
}

TEST_F(StateCodecTest, CompressedLossyDecodesToTheSameState) {
  for (StateCodec codec : {StateCodec::kBF16, StateCodec::kInt8}) {
    SCOPED_TRACE(StateCodecName(codec));
    absl::StatusOr<StreamSnapshot> plain = Decode(Encode(codec));
    absl::StatusOr<StreamSnapshot> compressed = Decode(Encode(codec, CompressLossy()));
    ASSERT_TRUE(plain.ok()) << plain.status();
    ASSERT_TRUE(compressed.ok()) << compressed.status();
    ExpectSameExceptState(*plain, *compressed);
    EXPECT_TRUE(BitIdentical(plain->state, compressed->state));
  }
}

TEST_F(StateCodecTest, ContinuesExactlyAfterLosslessRoundTrip) {
  absl::StatusOr<StreamSnapshot> back = Decode(Encode(StateCodec::kLossless));
  ASSERT_TRUE(back.ok()) << back.status();
  RecurrentState original = *state_;
  std::vector<float> a(model_->config().vocab), b(model_->config().vocab);
  for (int token : {7, 8, 9}) {
    ASSERT_TRUE(model_->Step(token, &original, absl::MakeSpan(a)).ok());
    ASSERT_TRUE(model_->Step(token, &back->state, absl::MakeSpan(b)).ok());
    EXPECT_EQ(a, b);
  }
}

// The largest error of `restored` against `original` in each row of N
// floats, relative to the row's largest magnitude.
std::vector<double> RowRelativeErrors(const RecurrentState& original,
                                      const RecurrentState& restored, int n) {
  std::vector<double> out;
  const auto x = original.floats();
  const auto y = restored.floats();
  for (size_t r = 0; r + n <= x.size(); r += n) {
    double max_abs = 0, max_err = 0;
    for (int j = 0; j < n; ++j) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(x[r + j])));
      max_err = std::max(max_err, std::fabs(static_cast<double>(y[r + j]) - x[r + j]));
    }
    out.push_back(max_abs > 0 ? max_err / max_abs : max_err);
  }
  return out;
}

TEST_F(StateCodecTest, Bf16WithinItsBound) {
  const StreamSnapshot original = Snapshot();
  absl::StatusOr<StreamSnapshot> back = Decode(Encode(StateCodec::kBF16));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameExceptState(original, *back);
  // Every element: |x' - x| <= 2^-8 |x| (round to nearest with 8 significant bits).
  const auto x = original.state.floats();
  const auto y = back->state.floats();
  size_t changed = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LE(std::fabs(static_cast<double>(y[i]) - x[i]), std::ldexp(std::fabs(x[i]), -8) + 1e-38)
        << "float " << i << ": " << x[i] << " -> " << y[i];
    changed += Bits(x[i]) != Bits(y[i]);
  }
  EXPECT_GT(changed, x.size() / 2);  // it really is lossy
  double worst = 0;
  for (double e : RowRelativeErrors(original.state, back->state, 64)) worst = std::max(worst, e);
  EXPECT_LE(worst, std::ldexp(1.0, -8));
  EXPECT_GT(worst, std::ldexp(1.0, -11));
}

TEST_F(StateCodecTest, Int8WithinItsBound) {
  const StreamSnapshot original = Snapshot();
  absl::StatusOr<StreamSnapshot> back = Decode(Encode(StateCodec::kInt8));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameExceptState(original, *back);
  // Per row of N: |x' - x| <= 1.001 * max|row| / 254.
  double worst = 0;
  const std::vector<double> errors = RowRelativeErrors(original.state, back->state, 64);
  for (size_t r = 0; r < errors.size(); ++r) {
    ASSERT_LE(errors[r], 1.001 / 254) << "row " << r;
    worst = std::max(worst, errors[r]);
  }
  EXPECT_GT(worst, 1.0 / 1000);  // it really is quantised
}

TEST_F(StateCodecTest, Int8KeepsZeroRowsAndExtremes) {
  StreamSnapshot s = Snapshot();
  auto f = s.state.floats();
  std::fill(f.begin(), f.begin() + 64, 0.0f);  // an all-zero row
  f[64] = -1e30f;                              // a huge row maximum
  f[128] = 1e-30f;                             // a tiny row maximum
  for (int j = 129; j < 192; ++j) f[j] = 0;
  f[192] = 1e-40f;  // a subnormal row maximum: below 2^-119, stored as zeros
  f[193] = -3e-41f;
  for (int j = 194; j < 256; ++j) f[j] = 0;
  absl::StatusOr<std::string> bytes = EncodeSnapshot(s, StateCodec::kInt8);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<StreamSnapshot> back = Decode(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  for (int j = 0; j < 64; ++j) EXPECT_EQ(back->state.floats()[j], 0.0f);
  EXPECT_NEAR(back->state.floats()[64], -1e30f, 1e30f / 254);
  EXPECT_NEAR(back->state.floats()[128], 1e-30f, 1e-30f / 254);
  for (int j = 129; j < 256; ++j) EXPECT_EQ(back->state.floats()[j], 0.0f) << j;
}

TEST_F(StateCodecTest, EncodingIsDeterministic) {
  for (StateCodec codec : kAllCodecs) {
    EXPECT_EQ(Encode(codec), Encode(codec)) << StateCodecName(codec);
    EXPECT_EQ(Encode(codec, CompressLossy()), Encode(codec, CompressLossy()));
  }
}

TEST_F(StateCodecTest, EmptySamplerAndPendingInput) {
  StreamSnapshot s = Snapshot();
  s.sampler_state.clear();
  s.pending_input.clear();
  s.token_count = std::numeric_limits<uint64_t>::max();
  for (const Variant& v : kAllVariants) {
    absl::StatusOr<std::string> bytes =
        EncodeSnapshot(s, v.codec, v.compress_lossy ? CompressLossy() : EncodeOptions());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<StreamSnapshot> back = Decode(*bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameExceptState(s, *back);
  }
}

TEST_F(StateCodecTest, ReadSnapshotHeader) {
  for (const Variant& v : kAllVariants) {
    SCOPED_TRACE(VariantName(v));
    const std::string bytes = Encode(v.codec, v.compress_lossy ? CompressLossy() : EncodeOptions());
    absl::StatusOr<SnapshotHeader> h = ReadSnapshotHeader(bytes);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->format_version, kSnapshotFormatVersion);
    EXPECT_EQ(h->codec, v.codec);
    EXPECT_EQ(h->zstd, v.codec == StateCodec::kLossless || v.compress_lossy);
    EXPECT_EQ(h->model_fingerprint, model_->fingerprint());
    EXPECT_EQ(h->layers, 2);
    EXPECT_EQ(h->embd, 128);
    EXPECT_EQ(h->heads, 2);
    EXPECT_EQ(h->head_size, 64);
    EXPECT_EQ(h->token_count, 50u);
    EXPECT_EQ(h->sampler_state_size, Snapshot().sampler_state.size());
    EXPECT_EQ(h->pending_input_count, 5u);
    EXPECT_EQ(h->payload_raw_size, 4 * state_->floats().size());
    EXPECT_EQ(h->total_size, bytes.size());
    EXPECT_EQ(kFixedHeaderSize + h->model_fingerprint.size() + h->sampler_state_size +
                  4 * h->pending_input_count + h->payload_stored_size + 8,
              bytes.size());
  }
}

TEST_F(StateCodecTest, CodecNames) {
  for (StateCodec codec : kAllCodecs) {
    absl::StatusOr<StateCodec> parsed = ParseStateCodec(StateCodecName(codec));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, codec);
  }
  EXPECT_EQ(ParseStateCodec("zip").status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Refusals -------------------------------------------------------------

void ExpectError(const absl::Status& status, absl::StatusCode code, absl::string_view text) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_NE(status.message().find(text), absl::string_view::npos)
      << "\"" << status.message() << "\" lacks \"" << text << "\"";
}

TEST_F(StateCodecTest, RefusesWhatIsNotAState) {
  ExpectError(Decode("").status(), absl::StatusCode::kInvalidArgument, "not a Gander state");
  ExpectError(
      Decode("hello, world, this is not a state at all, not in the least, no no no no").status(),
      absl::StatusCode::kInvalidArgument, "not a Gander state");
  std::string bytes = Encode(StateCodec::kRaw);
  bytes[0] = 'g';
  ExpectError(Decode(bytes).status(), absl::StatusCode::kInvalidArgument, "not a Gander state");
  ExpectError(ReadSnapshotHeader(bytes).status(), absl::StatusCode::kInvalidArgument,
              "not a Gander state");
}

TEST_F(StateCodecTest, RefusesTruncation) {
  const std::string bytes = Encode(StateCodec::kLossless);
  // Inside the magic, inside the fixed header, inside the payload, one short.
  ExpectError(Decode(bytes.substr(0, 5)).status(), absl::StatusCode::kDataLoss, "truncated");
  ExpectError(Decode(bytes.substr(0, 40)).status(), absl::StatusCode::kDataLoss, "truncated");
  ExpectError(Decode(bytes.substr(0, bytes.size() / 2)).status(), absl::StatusCode::kDataLoss,
              "truncated");
  ExpectError(Decode(bytes.substr(0, bytes.size() - 1)).status(), absl::StatusCode::kDataLoss,
              "truncated");
  ExpectError(ReadSnapshotHeader(bytes.substr(0, bytes.size() - 1)).status(),
              absl::StatusCode::kDataLoss, "truncated");
}

TEST_F(StateCodecTest, RefusesTrailingBytes) {
  ExpectError(Decode(Encode(StateCodec::kRaw) + "x").status(), absl::StatusCode::kDataLoss,
              "1 trailing bytes");
  ExpectError(Decode(Encode(StateCodec::kInt8) + std::string(100, '\0')).status(),
              absl::StatusCode::kDataLoss, "100 trailing bytes");
}

TEST_F(StateCodecTest, RefusesChecksumMismatch) {
  for (StateCodec codec : kAllCodecs) {
    std::string bytes = Encode(codec);
    bytes[bytes.size() - 20] ^= 0x01;  // the payload's end
    ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "checksum mismatch");
    bytes = Encode(codec);
    bytes[bytes.size() - 1] ^= 0x80;  // the checksum itself
    ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "checksum mismatch");
  }
}

TEST_F(StateCodecTest, DamagedVersionOrCodecIsDataLoss) {
  // The checksum is checked before the version and codec are read.
  std::string bytes = Encode(StateCodec::kRaw);
  bytes[8] = 2;
  ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "checksum mismatch");
  bytes = Encode(StateCodec::kRaw);
  bytes[10] = 9;
  ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "checksum mismatch");
}

TEST_F(StateCodecTest, NewerWriterIsInvalidArgument) {
  std::string bytes = Encode(StateCodec::kRaw);
  PutU16(&bytes, 8, 2);
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kInvalidArgument, "format version 2");
  ExpectError(ReadSnapshotHeader(bytes).status(), absl::StatusCode::kInvalidArgument,
              "this build reads version 1");

  bytes = Encode(StateCodec::kRaw);
  bytes[10] = 9;
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kInvalidArgument, "codec id 9");

  bytes = Encode(StateCodec::kBF16);
  bytes[11] = 0x04;
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kInvalidArgument,
              "unknown Gander state flags 0x04");
}

TEST_F(StateCodecTest, InconsistentHeaderWithValidChecksumIsDataLoss) {
  struct Case {
    const char* name;
    size_t offset;
    uint32_t value;
    int width;
    const char* text;
  };
  const Case cases[] = {
      {"raw with the zstd flag", 11, 1, 1, "codec raw with the zstd flag"},
      {"C != H*N", 16, 100, 4, "not a valid state shape"},
      {"zero layers", 12, 0, 4, "not a valid state shape"},
      {"raw size", 44, 12, 4, "payload raw size"},
      {"stored size", 52, 12, 4, "payload stored size"},
      {"sampler size", 36, 1000, 4, "add up to"},
      {"pending count", 40, 1, 4, "add up to"},
      {"fingerprint size 0", 60, 0, 2, "model fingerprint of 0 bytes"},
      {"fingerprint size 2000", 60, 2000, 2, "model fingerprint of 2000 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string bytes = Encode(StateCodec::kRaw);
    if (c.width == 1) bytes[c.offset] = static_cast<char>(c.value);
    if (c.width == 2) PutU16(&bytes, c.offset, static_cast<uint16_t>(c.value));
    if (c.width == 4) PutU32(&bytes, c.offset, c.value);
    Restamp(&bytes);
    ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss,
                "inconsistent Gander state header");
    ExpectError(ReadSnapshotHeader(bytes).status(), absl::StatusCode::kDataLoss, c.text);
  }
}

TEST_F(StateCodecTest, LosslessWithoutZstdFlagIsDataLoss) {
  std::string bytes = Encode(StateCodec::kLossless);
  bytes[11] = 0;
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss,
              "codec lossless without the zstd flag");
}

TEST_F(StateCodecTest, BadPayloadWithValidChecksumIsDataLoss) {
  const size_t payload_offset = [] {
    const std::string bytes = Encode(StateCodec::kRaw);
    return bytes.size() - 8 - 4 * state_->floats().size();
  }();
  std::string bytes = Encode(StateCodec::kLossless);
  bytes[payload_offset] ^= 0x55;  // the zstd frame's magic
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "does not decompress");

  bytes = Encode(StateCodec::kInt8, CompressLossy());
  const uint64_t stored = ReadSnapshotHeader(bytes)->payload_stored_size;
  bytes.insert(bytes.size() - 8, "z");  // one byte more after the zstd frame
  PutU32(&bytes, 52, static_cast<uint32_t>(stored + 1));
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "int8 payload");

  bytes = Encode(StateCodec::kBF16);
  PutU16(&bytes, payload_offset + 2 * 10, 0x7f80);  // +infinity
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "NaN or infinity");

  bytes = Encode(StateCodec::kInt8);
  PutU32(&bytes, payload_offset + 4 * 3, Bits(-1.0f));  // a negative scale
  Restamp(&bytes);
  ExpectError(Decode(bytes).status(), absl::StatusCode::kDataLoss, "scale");
}

TEST_F(StateCodecTest, RefusesAnotherModel) {
  // Same shape, other weights: another fingerprint.
  std::unique_ptr<Model> other =
      MakeModel({.layers = 2, .embd = 128, .vocab = 256, .seed = 12}, "codec_b.pth");
  ASSERT_NE(other, nullptr);
  ASSERT_NE(other->fingerprint(), model_->fingerprint());
  ASSERT_EQ(other->config(), model_->config());
  for (StateCodec codec : kAllCodecs) {
    const std::string bytes = Encode(codec);
    ExpectError(DecodeSnapshot(bytes, other->fingerprint(), other->config()).status(),
                absl::StatusCode::kFailedPrecondition, "not the expected model");
  }
  // A state written for the other model is refused by this one.
  StreamSnapshot s;
  s.model_fingerprint = other->fingerprint();
  s.config = other->config();
  s.state = other->NewState();
  absl::StatusOr<std::string> bytes = EncodeSnapshot(s, StateCodec::kRaw);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ExpectError(Decode(*bytes).status(), absl::StatusCode::kFailedPrecondition,
              "not the expected model");
}

TEST_F(StateCodecTest, RefusesAnotherShape) {
  std::unique_ptr<Model> deeper =
      MakeModel({.layers = 3, .embd = 128, .vocab = 256, .seed = 11}, "codec_c.pth");
  ASSERT_NE(deeper, nullptr);
  StreamSnapshot s;
  s.model_fingerprint = model_->fingerprint();  // even under the same name
  s.config = deeper->config();
  s.state = deeper->NewState();
  absl::StatusOr<std::string> bytes = EncodeSnapshot(s, StateCodec::kBF16);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ExpectError(Decode(*bytes).status(), absl::StatusCode::kFailedPrecondition,
              "has shape L=3 C=128 H=2 N=64, the expected model's is L=2 C=128 H=2 N=64");

  // Same C, another head split (H=4, N=32).
  ModelConfig narrow = model_->config();
  narrow.heads = 4;
  narrow.head_size = 32;
  ExpectError(DecodeSnapshot(Encode(StateCodec::kRaw), model_->fingerprint(), narrow).status(),
              absl::StatusCode::kFailedPrecondition, "the expected model's is L=2 C=128 H=4 N=32");
}

TEST_F(StateCodecTest, EncodeRefusesBadInput) {
  StreamSnapshot s = Snapshot();
  s.model_fingerprint.clear();
  ExpectError(EncodeSnapshot(s, StateCodec::kRaw).status(), absl::StatusCode::kInvalidArgument,
              "model_fingerprint");
  s = Snapshot();
  s.model_fingerprint = std::string(kMaxFingerprintBytes + 1, 'f');
  ExpectError(EncodeSnapshot(s, StateCodec::kRaw).status(), absl::StatusCode::kInvalidArgument,
              "model_fingerprint");

  s = Snapshot();
  s.config.heads = 3;  // C != H * N
  ExpectError(EncodeSnapshot(s, StateCodec::kRaw).status(), absl::StatusCode::kInvalidArgument,
              "not a valid state shape");
  s = Snapshot();
  s.config.layers = -1;
  ExpectError(EncodeSnapshot(s, StateCodec::kRaw).status(), absl::StatusCode::kInvalidArgument,
              "not a valid state shape");
  s = Snapshot();
  s.config.layers = 3;  // the state is still L=2
  ExpectError(EncodeSnapshot(s, StateCodec::kRaw).status(), absl::StatusCode::kInvalidArgument,
              "state has");

  s = Snapshot();
  ExpectError(EncodeSnapshot(s, static_cast<StateCodec>(7)).status(),
              absl::StatusCode::kInvalidArgument, "codec id 7");
  EncodeOptions options;
  options.zstd_level = 1000;
  ExpectError(EncodeSnapshot(s, StateCodec::kLossless, options).status(),
              absl::StatusCode::kInvalidArgument, "zstd_level 1000");
  options.zstd_level = 1;
  EXPECT_TRUE(EncodeSnapshot(s, StateCodec::kLossless, options).ok());
}

TEST_F(StateCodecTest, LossyCodecsRefuseNonFiniteValues) {
  const size_t layer = model_->config().LayerStateFloats();
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    3.4e38f /* bf16 overflows */}) {
    StreamSnapshot s = Snapshot();
    s.state.floats()[layer + 5] = bad;
    const std::string where = absl::StrCat("state float ", layer + 5, " (layer 1, offset 5)");
    for (const EncodeOptions& options : {EncodeOptions(), CompressLossy()}) {
      ExpectError(EncodeSnapshot(s, StateCodec::kBF16, options).status(),
                  absl::StatusCode::kInvalidArgument, where);
      if (std::isfinite(bad)) continue;
      ExpectError(EncodeSnapshot(s, StateCodec::kInt8, options).status(),
                  absl::StatusCode::kInvalidArgument, where);
    }
    if (std::isfinite(bad)) continue;
    // The exact codecs keep every bit.
    for (StateCodec codec : {StateCodec::kRaw, StateCodec::kLossless}) {
      absl::StatusOr<std::string> bytes = EncodeSnapshot(s, codec);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      absl::StatusOr<StreamSnapshot> back = Decode(*bytes);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_TRUE(BitIdentical(s.state, back->state));
    }
  }
}

// --- Fuzzing ----------------------------------------------------------------

bool IsRefusal(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kDataLoss ||
         code == absl::StatusCode::kFailedPrecondition;
}

// Decodes `mutated`: it must be refused with one of the three codes, or,
// only if it equals `original`, decode to exactly `expected`. Returns the
// code.
absl::StatusCode CheckMutation(const std::string& original, const std::string& mutated,
                               const StreamSnapshot& expected, const std::string& what) {
  absl::StatusOr<StreamSnapshot> got =
      DecodeSnapshot(mutated, expected.model_fingerprint, expected.config);
  if (got.ok()) {
    EXPECT_EQ(mutated, original) << what << ": a changed input decoded";
    ExpectSameExceptState(expected, *got);
    EXPECT_TRUE(BitIdentical(expected.state, got->state)) << what;
    return absl::StatusCode::kOk;
  }
  EXPECT_TRUE(IsRefusal(got.status().code())) << what << ": " << got.status();
  EXPECT_NE(mutated, original) << what << ": intact input refused: " << got.status();
  return got.status().code();
}

TEST_F(StateCodecTest, FuzzMutationsAreAlwaysRefused) {
  std::mt19937_64 rng(20261122);
  int runs = 0;
  for (const Variant& v : kAllVariants) {
    SCOPED_TRACE(VariantName(v));
    const std::string original =
        Encode(v.codec, v.compress_lossy ? CompressLossy() : EncodeOptions());
    absl::StatusOr<StreamSnapshot> expected = Decode(original);
    ASSERT_TRUE(expected.ok());
    absl::StatusOr<SnapshotHeader> h = ReadSnapshotHeader(original);
    ASSERT_TRUE(h.ok());
    // Region starts: magic, fixed fields, fingerprint, sampler, pending,
    // payload, checksum.
    const size_t fp = kFixedHeaderSize;
    const size_t sampler = fp + h->model_fingerprint.size();
    const size_t pending = sampler + h->sampler_state_size;
    const size_t payload = pending + 4 * h->pending_input_count;
    const size_t checksum = original.size() - 8;
    const std::vector<std::pair<size_t, size_t>> regions = {{0, 8},
                                                            {8, fp},
                                                            {fp, sampler},
                                                            {sampler, pending},
                                                            {pending, payload},
                                                            {payload, checksum},
                                                            {checksum, original.size()}};
    auto rand_below = [&](size_t n) { return static_cast<size_t>(rng() % n); };

    for (int i = 0; i < 1500; ++i, ++runs) {
      std::string m = original;
      std::string what;
      const int kind = i % 7;
      if (kind <= 2) {
        // 1-3 byte flips, all in one region.
        const auto& region = regions[rand_below(regions.size())];
        const int flips = 1 + static_cast<int>(rand_below(3));
        for (int f = 0; f < flips; ++f) {
          const size_t at = region.first + rand_below(region.second - region.first);
          m[at] ^= static_cast<char>(1 + rand_below(255));
        }
        what = absl::StrCat("flips in [", region.first, ", ", region.second, ")");
        const absl::StatusCode code = CheckMutation(original, m, *expected, what);
        if (m != original) {
          EXPECT_EQ(code, region.first == 0 ? absl::StatusCode::kInvalidArgument
                                            : absl::StatusCode::kDataLoss)
              << what;
        }
      } else if (kind == 3) {
        const size_t len = rand_below(original.size() + 1);
        m.resize(len);
        const absl::StatusCode code =
            CheckMutation(original, m, *expected, absl::StrCat("truncated to ", len));
        if (len > 0 && len < original.size()) {
          EXPECT_EQ(code, absl::StatusCode::kDataLoss);
        }
      } else if (kind == 4) {
        // Insert or delete a few bytes anywhere.
        const size_t at = rand_below(original.size());
        const size_t count = 1 + rand_below(8);
        if (rng() & 1) {
          m.insert(at, std::string(count, static_cast<char>(rng())));
        } else {
          m.erase(at, count);
        }
        CheckMutation(original, m, *expected, absl::StrCat("insert/delete at ", at));
      } else if (kind == 5) {
        // Garbage, sometimes behind a valid magic, of any length.
        const size_t len = rand_below(2 * original.size());
        m.resize(len);
        for (char& c : m) c = static_cast<char>(rng());
        if ((rng() & 1) && len >= 8) std::memcpy(&m[0], "GNDRSTAT", 8);
        CheckMutation(original, m, *expected, absl::StrCat("garbage of ", len, " bytes"));
      } else {
        // Forged: header or payload changed and the checksum recomputed, so
        // the checks behind the checksum are exercised. Anything may come
        // back except a crash or an unlisted code; a state that decodes has
        // the expected shape.
        const size_t at = 8 + rand_below(original.size() - 16);
        m[at] ^= static_cast<char>(1 + rand_below(255));
        if (rng() & 1) m[8 + rand_below(kFixedHeaderSize - 8)] = static_cast<char>(rng());
        Restamp(&m);
        absl::StatusOr<StreamSnapshot> got =
            DecodeSnapshot(m, expected->model_fingerprint, expected->config);
        if (got.ok()) {
          EXPECT_EQ(got->state.floats().size(), expected->state.floats().size());
        } else {
          EXPECT_TRUE(IsRefusal(got.status().code())) << got.status();
        }
      }
    }
  }
  EXPECT_EQ(runs, 9000);
}

}  // namespace
}  // namespace gander::storage
