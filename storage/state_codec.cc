#include "storage/state_codec.h"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/little_endian.h"
#include "engine/weights/bf16.h"

namespace gander::storage {
namespace {

using engine::ModelConfig;

constexpr char kMagic[8] = {'G', 'N', 'D', 'R', 'S', 'T', 'A', 'T'};
constexpr size_t kMagicSize = sizeof(kMagic);
// Bytes before the fingerprint (see the table in state_codec.h).
constexpr size_t kFixedHeaderSize = 62;
constexpr size_t kChecksumSize = 8;
// The smallest possible snapshot: a fixed header and a checksum (a real one
// also has a fingerprint and a payload).
constexpr size_t kMinSnapshotSize = kFixedHeaderSize + kChecksumSize;
constexpr uint8_t kMaxCodecId = static_cast<uint8_t>(StateCodec::kInt8);
// Byte 11: bit 0 set = the payload is zstd-compressed (always for lossless,
// optional for bf16 and int8, never for raw). Other bits: reserved, 0.
constexpr uint8_t kFlagZstd = 0x01;
constexpr uint8_t kKnownFlags = kFlagZstd;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr bool kLittleEndianHost = true;
#else
constexpr bool kLittleEndianHost = false;
#endif

// ---------------------------------------------------------------------------
// ---------------------------------------------------------------------------
// Shapes.

// The sizes that follow from a state shape.
struct ShapeSizes {
  uint64_t floats = 0;  // L * (2C + H*N*N)
  uint64_t rows = 0;    // floats / N: int8 rows
};

bool MulChecked(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

// The largest state accepted: 2^40 floats (4 TiB); far above any model, low
// enough that every byte count below fits in 64 bits and in size_t on a
// 64-bit host.
constexpr uint64_t kMaxStateFloats = uint64_t{1} << 40;

// Fills `sizes` and returns true when the shape is a valid RWKV-7 state shape
// (L, H, N >= 1, C = H * N, each at most INT_MAX) of at most kMaxStateFloats
// floats. All arithmetic is checked: the inputs may be untrusted.
bool ComputeShapeSizes(uint64_t layers, uint64_t embd, uint64_t heads, uint64_t head_size,
                       ShapeSizes* sizes) {
  constexpr uint64_t kIntMax = static_cast<uint64_t>(std::numeric_limits<int>::max());
  if (layers < 1 || heads < 1 || head_size < 1) return false;
  if (layers > kIntMax || embd > kIntMax || heads > kIntMax || head_size > kIntMax) return false;
  uint64_t hn = 0, floats = 0;
  if (!MulChecked(heads, head_size, &hn) || hn != embd) return false;
  // C, N < 2^31, so H*N*N = C*N < 2^62 and 2C + C*N < 2^63: no overflow.
  const uint64_t layer = 2 * embd + embd * head_size;
  if (!MulChecked(layer, layers, &floats) || floats > kMaxStateFloats) return false;
  if (sizeof(size_t) < 8 && floats * 4 > std::numeric_limits<size_t>::max()) return false;
  sizes->floats = floats;
  sizes->rows = floats / head_size;
  return true;
}

std::string ShapeString(int64_t l, int64_t c, int64_t h, int64_t n) {
  return absl::StrCat("L=", l, " C=", c, " H=", h, " N=", n);
}

// Bytes of a codec's payload before any zstd compression.
uint64_t PlainPayloadSize(StateCodec codec, const ShapeSizes& s) {
  switch (codec) {
    case StateCodec::kRaw:
    case StateCodec::kLossless:
      return 4 * s.floats;
    case StateCodec::kBF16:
      return 2 * s.floats;
    case StateCodec::kInt8:
      return 4 * s.rows + s.floats;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Payload codecs. `in`/`out` sizes are the caller's responsibility.

void EncodeRaw(const float* in, size_t n, char* out) {
  if (kLittleEndianHost) {
    std::memcpy(out, in, n * sizeof(float));
  } else {
    for (size_t i = 0; i < n; ++i) StoreLe32(out + 4 * i, FloatBits(in[i]));
  }
}

void DecodeRaw(const char* in, size_t n, float* out) {
  if (kLittleEndianHost) {
    std::memcpy(out, in, n * sizeof(float));
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = BitsFloat(LoadLe32(in + 4 * i));
  }
}

// The byte-plane transforms below work in blocks of kBlock elements, one
// plane at a time: interleaving the stores to all planes element by element
// is ~20x slower when the planes lie a multiple of 4 KiB apart (as they do
// for the 1.5B and 7.2B shapes), since the stores then contend for the same
// cache sets.
constexpr size_t kBlock = 256;

// Byte planes: out[k * n + i] = byte k (little-endian order) of in[i].
void ShuffleBytes(const float* in, size_t n, uint8_t* out) {
  uint32_t w[kBlock];
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (size_t j = 0; j < kBlock; ++j) w[j] = FloatBits(in[i + j]);
    for (int k = 0; k < 4; ++k) {
      uint8_t* plane = out + k * n + i;
      for (size_t j = 0; j < kBlock; ++j) plane[j] = static_cast<uint8_t>(w[j] >> (8 * k));
    }
  }
  for (; i < n; ++i) {
    const uint32_t v = FloatBits(in[i]);
    for (int k = 0; k < 4; ++k) out[k * n + i] = static_cast<uint8_t>(v >> (8 * k));
  }
}

void UnshuffleBytes(const uint8_t* in, size_t n, float* out) {
  uint32_t w[kBlock];
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (size_t j = 0; j < kBlock; ++j) w[j] = in[i + j];
    for (int k = 1; k < 4; ++k) {
      const uint8_t* plane = in + k * n + i;
      for (size_t j = 0; j < kBlock; ++j) w[j] |= static_cast<uint32_t>(plane[j]) << (8 * k);
    }
    for (size_t j = 0; j < kBlock; ++j) out[i + j] = BitsFloat(w[j]);
  }
  for (; i < n; ++i) {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v |= static_cast<uint32_t>(in[k * n + i]) << (8 * k);
    out[i] = BitsFloat(v);
  }
}

// Whether a float's exponent is all ones: NaN or infinity.
inline bool NonFiniteBits(uint32_t bits) { return (bits & 0x7f800000u) == 0x7f800000u; }

// Whether a bf16 value is NaN or infinite.
inline bool NonFiniteBf16(uint16_t b) { return (b & 0x7f80u) == 0x7f80u; }

// bf16 of in[i] as little-endian uint16 [n], or with kPlanar as two byte
// planes (low bytes [n], then high bytes [n]), which zstd compresses better.
// Returns n, or the index of the first value whose bf16 is not finite (a NaN
// or infinity, or a float beyond bf16's range).
template <bool kPlanar>
size_t EncodeBf16(const float* in, size_t n, char* out) {
  uint16_t w[kBlock];
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i += kBlock) {
    const size_t m = std::min(kBlock, n - i);
    for (size_t j = 0; j < m; ++j) {
      w[j] = engine::FloatToBf16(in[i + j]);
      bad |= static_cast<uint32_t>(NonFiniteBf16(w[j]));
    }
    if (kPlanar) {
      for (size_t j = 0; j < m; ++j) out[i + j] = static_cast<char>(w[j]);
      for (size_t j = 0; j < m; ++j) out[n + i + j] = static_cast<char>(w[j] >> 8);
    } else {
      for (size_t j = 0; j < m; ++j) {
        out[2 * (i + j)] = static_cast<char>(w[j]);
        out[2 * (i + j) + 1] = static_cast<char>(w[j] >> 8);
      }
    }
  }
  if (bad == 0) return n;
  for (size_t i = 0; i < n; ++i) {
    if (NonFiniteBf16(engine::FloatToBf16(in[i]))) return i;
  }
  return n;  // not reached
}

// Returns false when a stored value is not finite (never written).
template <bool kPlanar>
bool DecodeBf16(const char* in, size_t n, float* out) {
  const auto* u = reinterpret_cast<const unsigned char*>(in);
  uint32_t w[kBlock];
  uint32_t bad = 0;
  for (size_t i = 0; i < n; i += kBlock) {
    const size_t m = std::min(kBlock, n - i);
    if (kPlanar) {
      for (size_t j = 0; j < m; ++j) w[j] = u[i + j];
      for (size_t j = 0; j < m; ++j) w[j] |= static_cast<uint32_t>(u[n + i + j]) << 8;
    } else {
      for (size_t j = 0; j < m; ++j) {
        w[j] = u[2 * (i + j)] | (static_cast<uint32_t>(u[2 * (i + j) + 1]) << 8);
      }
    }
    for (size_t j = 0; j < m; ++j) {
      bad |= static_cast<uint32_t>(NonFiniteBf16(static_cast<uint16_t>(w[j])));
      out[i + j] = engine::Bf16ToFloat(static_cast<uint16_t>(w[j]));
    }
  }
  return bad == 0;
}

// int8 with one scale per row of `row` floats: scales [rows] float32 LE,
// then values [rows * row] int8, q = round-half-even(x * 127 / max|row|),
// scale = max|row| / 127. Returns rows * row, or the index of the first
// non-finite input.
// Bits of 2^-119: rows whose max|x| is below it are stored as zeros.
constexpr uint32_t kTinyRowBits = (127u - 119u) << 23;

size_t EncodeInt8(const float* in, size_t rows, size_t row, char* out) {
  char* scales = out;
  auto* values = reinterpret_cast<int8_t*>(out + 4 * rows);
  // Adding and subtracting 1.5 * 2^23 rounds a float of magnitude < 2^22 to
  // the nearest integer (ties to even) in the default rounding mode.
  constexpr float kRound = 12582912.0f;
  for (size_t r = 0; r < rows; ++r) {
    const float* x = in + r * row;
    // For non-negative floats the bit patterns order like the values, so an
    // integer max finds max|x| (and > 0x7f800000 - 1 flags a NaN/infinity).
    uint32_t max_bits = 0;
    for (size_t j = 0; j < row; ++j) max_bits = std::max(max_bits, FloatBits(x[j]) & 0x7fffffffu);
    if (NonFiniteBits(max_bits)) {
      for (size_t j = 0; j < row; ++j) {
        if (NonFiniteBits(FloatBits(x[j]))) return r * row + j;
      }
    }
    const float max_abs = BitsFloat(max_bits);
    // Below 2^-119 the scale (max / 127) would not be a normal float and
    // 127 / max could overflow: such rows are stored as zeros.
    const bool tiny = max_bits < kTinyRowBits;
    const float scale = tiny ? 0.0f : max_abs / 127.0f;
    const float inverse = tiny ? 0.0f : 127.0f / max_abs;
    int8_t* q = values + r * row;
    for (size_t j = 0; j < row; ++j) {
      float v = x[j] * inverse;  // |v| <= 127 up to rounding
      v = std::min(127.0f, std::max(-127.0f, v));
      q[j] = static_cast<int8_t>(static_cast<int>((v + kRound) - kRound));
    }
    StoreLe32(scales + 4 * r, FloatBits(scale));
  }
  return rows * row;
}

// Returns false for data the encoder never writes: a negative or non-finite
// scale, or the value -128.
bool DecodeInt8(const char* in, size_t rows, size_t row, float* out) {
  const auto* values = reinterpret_cast<const int8_t*>(in + 4 * rows);
  uint32_t bad = 0;
  for (size_t r = 0; r < rows; ++r) {
    const uint32_t scale_bits = LoadLe32(in + 4 * r);
    // Sign set, or exponent all ones: not a scale the encoder writes.
    if ((scale_bits & 0x80000000u) != 0 || NonFiniteBits(scale_bits)) return false;
    const float scale = BitsFloat(scale_bits);
    const int8_t* q = values + r * row;
    float* x = out + r * row;
    for (size_t j = 0; j < row; ++j) {
      bad |= static_cast<uint32_t>(q[j] == -128);
      x[j] = static_cast<float>(q[j]) * scale;
    }
  }
  return bad == 0;
}

struct ZstdCCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One context per thread, reused across calls (a context holds megabytes of
// tables; reallocating it per call would cost more than a small state's
// compression).
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, ZstdCCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

std::unique_ptr<uint8_t[]> UninitializedBytes(size_t n) {
  return std::unique_ptr<uint8_t[]>(new uint8_t[n]);
}

// ---------------------------------------------------------------------------
// Header parsing.

// A header as read, with where its variable parts lie in the input.
struct ParsedSnapshot {
  SnapshotHeader header;
  size_t sampler_offset = 0;
  size_t pending_offset = 0;
  size_t payload_offset = 0;
  ShapeSizes sizes;
};

// The fields at fixed offsets, read without any check (the caller knows
// there are at least kFixedHeaderSize bytes).
struct FixedFields {
  uint16_t version;
  uint8_t codec;
  uint8_t flags;
  uint32_t layers, embd, heads, head_size;
  uint64_t token_count;
  uint32_t sampler_size, pending_count;
  uint64_t raw_size, stored_size;
  uint16_t fingerprint_size;
};

FixedFields ReadFixedFields(const char* p) {
  FixedFields f;
  f.version = LoadLe16(p + 8);
  f.codec = static_cast<uint8_t>(p[10]);
  f.flags = static_cast<uint8_t>(p[11]);
  f.layers = LoadLe32(p + 12);
  f.embd = LoadLe32(p + 16);
  f.heads = LoadLe32(p + 20);
  f.head_size = LoadLe32(p + 24);
  f.token_count = LoadLe64(p + 28);
  f.sampler_size = LoadLe32(p + 36);
  f.pending_count = LoadLe32(p + 40);
  f.raw_size = LoadLe64(p + 44);
  f.stored_size = LoadLe64(p + 52);
  f.fingerprint_size = LoadLe16(p + 60);
  return f;
}

// The total snapshot size the fields declare; false on overflow.
bool DeclaredTotalSize(const FixedFields& f, uint64_t* total) {
  // Every term but stored_size is below 2^35: only it can overflow the sum.
  const uint64_t rest = kFixedHeaderSize + uint64_t{f.fingerprint_size} + f.sampler_size +
                        4 * uint64_t{f.pending_count} + kChecksumSize;
  if (f.stored_size > std::numeric_limits<uint64_t>::max() - rest) return false;
  *total = rest + f.stored_size;
  return true;
}

// Checks 1-5 of state_codec.h.
absl::StatusOr<ParsedSnapshot> ParseSnapshot(absl::string_view bytes) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError("not a Gander state: the input is empty");
  }
  const size_t magic_bytes = std::min(bytes.size(), kMagicSize);
  if (std::memcmp(bytes.data(), kMagic, magic_bytes) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("not a Gander state: it starts with \"",
                                                   absl::CHexEscape(bytes.substr(0, magic_bytes)),
                                                   "\", not the magic \"GNDRSTAT\""));
  }
  if (bytes.size() < kMinSnapshotSize) {
    return absl::DataLossError(absl::StrCat("truncated Gander state: ", bytes.size(),
                                            " bytes, fewer than the ", kMinSnapshotSize,
                                            " of the smallest snapshot"));
  }

  const char* p = bytes.data();
  const size_t body_size = bytes.size() - kChecksumSize;
  const uint64_t stored_checksum = LoadLe64(p + body_size);
  const uint64_t checksum = XXH3_64bits(p, body_size);
  const FixedFields f = ReadFixedFields(p);
  if (checksum != stored_checksum) {
    // The header is not trustworthy here; it only makes the message more
    // helpful when the damage is a changed length.
    uint64_t declared = 0;
    if (DeclaredTotalSize(f, &declared) && declared != bytes.size()) {
      if (declared > bytes.size()) {
        return absl::DataLossError(absl::StrCat("truncated Gander state: ", bytes.size(),
                                                " bytes, the header declares ", declared,
                                                " (and the checksum does not match)"));
      }
      return absl::DataLossError(absl::StrCat(
          "Gander state with ", bytes.size() - declared, " trailing bytes: ", bytes.size(),
          " bytes, the header declares ", declared, " (and the checksum does not match)"));
    }
    return absl::DataLossError(absl::StrFormat(
        "corrupt Gander state: checksum mismatch over bytes [0, %u): stored %016x, computed %016x",
        body_size, stored_checksum, checksum));
  }

  // The bytes are as some writer wrote them. A version, codec or flag this
  // build does not know means a newer writer.
  if (f.version != kSnapshotFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported Gander state format version ", f.version, " (this build reads version ",
        kSnapshotFormatVersion, "): written by a newer Gander"));
  }
  if (f.codec > kMaxCodecId) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown Gander state codec id ", static_cast<int>(f.codec), " (this build knows 0-",
        static_cast<int>(kMaxCodecId), ": raw, lossless, bf16, int8): written by a newer Gander"));
  }
  if ((f.flags & ~kKnownFlags) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown Gander state flags 0x%02x (this build knows 0x%02x): written by "
                        "a newer Gander",
                        f.flags, kKnownFlags));
  }
  const StateCodec codec = static_cast<StateCodec>(f.codec);
  const bool zstd = (f.flags & kFlagZstd) != 0;

  // From here on a failure is a writer bug or forged bytes with a valid
  // checksum: DATA_LOSS, the bytes do not hold a usable state.
  auto inconsistent = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("inconsistent Gander state header: ", what));
  };
  if ((codec == StateCodec::kRaw && zstd) || (codec == StateCodec::kLossless && !zstd)) {
    return inconsistent(absl::StrCat("codec ", StateCodecName(codec), zstd ? " with" : " without",
                                     " the zstd flag"));
  }
  if (f.fingerprint_size == 0 || f.fingerprint_size > kMaxFingerprintBytes) {
    return inconsistent(absl::StrCat("model fingerprint of ", f.fingerprint_size,
                                     " bytes (must be 1-", kMaxFingerprintBytes, ")"));
  }
  ParsedSnapshot parsed;
  if (!ComputeShapeSizes(f.layers, f.embd, f.heads, f.head_size, &parsed.sizes)) {
    return inconsistent(absl::StrCat("shape ", ShapeString(f.layers, f.embd, f.heads, f.head_size),
                                     " is not a valid state shape"));
  }
  if (f.raw_size != 4 * parsed.sizes.floats) {
    return inconsistent(absl::StrCat("payload raw size ", f.raw_size, " for shape ",
                                     ShapeString(f.layers, f.embd, f.heads, f.head_size),
                                     " (must be ", 4 * parsed.sizes.floats, ")"));
  }
  if (!zstd) {
    const uint64_t expected = PlainPayloadSize(codec, parsed.sizes);
    if (f.stored_size != expected) {
      return inconsistent(absl::StrCat("payload stored size ", f.stored_size, " for codec ",
                                       StateCodecName(codec), " (must be ", expected, ")"));
    }
  } else if (f.stored_size == 0) {
    return inconsistent("empty compressed payload");
  }
  uint64_t declared = 0;
  if (!DeclaredTotalSize(f, &declared) || declared != bytes.size()) {
    return inconsistent(
        absl::StrCat("its fields add up to ", declared, " bytes, the input has ", bytes.size()));
  }

  SnapshotHeader& h = parsed.header;
  h.format_version = f.version;
  h.codec = codec;
  h.zstd = zstd;
  h.model_fingerprint = std::string(bytes.substr(kFixedHeaderSize, f.fingerprint_size));
  h.layers = static_cast<int>(f.layers);
  h.embd = static_cast<int>(f.embd);
  h.heads = static_cast<int>(f.heads);
  h.head_size = static_cast<int>(f.head_size);
  h.token_count = f.token_count;
  h.sampler_state_size = f.sampler_size;
  h.pending_input_count = f.pending_count;
  h.payload_raw_size = f.raw_size;
  h.payload_stored_size = f.stored_size;
  h.total_size = bytes.size();
  h.checksum = stored_checksum;
  parsed.sampler_offset = kFixedHeaderSize + f.fingerprint_size;
  parsed.pending_offset = parsed.sampler_offset + f.sampler_size;
  parsed.payload_offset = parsed.pending_offset + 4 * size_t{f.pending_count};
  return parsed;
}

// ---------------------------------------------------------------------------
// Payloads.

// Writes the codec's payload before zstd ([PlainPayloadSize] bytes; bf16 in
// planes when `zstd` follows). INVALID_ARGUMENT for a value a lossy codec
// cannot store.
absl::Status WritePlainPayload(StateCodec codec, bool zstd, absl::Span<const float> floats,
                               const ModelConfig& config, const ShapeSizes& sizes, char* out) {
  const size_t n = floats.size();
  size_t bad = n;
  switch (codec) {
    case StateCodec::kRaw:
      EncodeRaw(floats.data(), n, out);
      break;
    case StateCodec::kLossless:
      ShuffleBytes(floats.data(), n, reinterpret_cast<uint8_t*>(out));
      break;
    case StateCodec::kBF16:
      bad =
          zstd ? EncodeBf16<true>(floats.data(), n, out) : EncodeBf16<false>(floats.data(), n, out);
      break;
    case StateCodec::kInt8:
      bad = EncodeInt8(floats.data(), sizes.rows, config.head_size, out);
      break;
  }
  if (bad != n) {
    const size_t layer_floats = config.LayerStateFloats();
    return absl::InvalidArgumentError(absl::StrCat(
        "state float ", bad, " (layer ", bad / layer_floats, ", offset ", bad % layer_floats,
        ") is ", absl::StrFormat("%g", floats[bad]), ": the ", StateCodecName(codec),
        " codec stores finite values only (use raw or lossless to keep it)"));
  }
  return absl::OkStatus();
}

// Reads what WritePlainPayload wrote. DATA_LOSS for values it never writes.
absl::Status ReadPlainPayload(StateCodec codec, bool zstd, const char* in, const ShapeSizes& sizes,
                              int head_size, float* out) {
  const size_t n = sizes.floats;
  switch (codec) {
    case StateCodec::kRaw:
      DecodeRaw(in, n, out);
      break;
    case StateCodec::kLossless:
      UnshuffleBytes(reinterpret_cast<const uint8_t*>(in), n, out);
      break;
    case StateCodec::kBF16:
      if (!(zstd ? DecodeBf16<true>(in, n, out) : DecodeBf16<false>(in, n, out))) {
        return absl::DataLossError("Gander state's bf16 payload holds a NaN or infinity");
      }
      break;
    case StateCodec::kInt8:
      if (!DecodeInt8(in, sizes.rows, head_size, out)) {
        return absl::DataLossError(
            "Gander state's int8 payload holds a negative or non-finite scale, or the value -128");
      }
      break;
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view StateCodecName(StateCodec codec) {
  switch (codec) {
    case StateCodec::kRaw:
      return "raw";
    case StateCodec::kLossless:
      return "lossless";
    case StateCodec::kBF16:
      return "bf16";
    case StateCodec::kInt8:
      return "int8";
  }
  return "unknown";
}

absl::StatusOr<StateCodec> ParseStateCodec(absl::string_view name) {
  for (StateCodec c :
       {StateCodec::kRaw, StateCodec::kLossless, StateCodec::kBF16, StateCodec::kInt8}) {
    if (name == StateCodecName(c)) return c;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown state codec \"", absl::CHexEscape(name),
                                                 "\" (expected raw, lossless, bf16 or int8)"));
}

absl::StatusOr<std::string> EncodeSnapshot(const StreamSnapshot& snapshot, StateCodec codec,
                                           const EncodeOptions& options) {
  if (static_cast<uint8_t>(codec) > kMaxCodecId) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown state codec id ", static_cast<int>(codec)));
  }
  const bool zstd =
      codec == StateCodec::kLossless ||
      (options.compress_lossy && (codec == StateCodec::kBF16 || codec == StateCodec::kInt8));
  if (zstd && (options.zstd_level < ZSTD_minCLevel() || options.zstd_level > ZSTD_maxCLevel())) {
    return absl::InvalidArgumentError(absl::StrCat("zstd_level ", options.zstd_level,
                                                   " is outside [", ZSTD_minCLevel(), ", ",
                                                   ZSTD_maxCLevel(), "]"));
  }
  const std::string& fingerprint = snapshot.model_fingerprint;
  if (fingerprint.empty() || fingerprint.size() > kMaxFingerprintBytes) {
    return absl::InvalidArgumentError(absl::StrCat("model_fingerprint has ", fingerprint.size(),
                                                   " bytes (must be 1-", kMaxFingerprintBytes,
                                                   ")"));
  }
  const ModelConfig& c = snapshot.config;
  ShapeSizes sizes;
  if (c.layers < 0 || c.embd < 0 || c.heads < 0 || c.head_size < 0 ||
      !ComputeShapeSizes(c.layers, c.embd, c.heads, c.head_size, &sizes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config shape ", ShapeString(c.layers, c.embd, c.heads, c.head_size),
                     " is not a valid state shape (L, H, N >= 1, C = H * N)"));
  }
  const absl::Span<const float> floats = snapshot.state.floats();
  if (floats.size() != sizes.floats) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state has ", floats.size(), " floats, the config's shape needs ", sizes.floats));
  }
  constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
  if (snapshot.sampler_state.size() > kU32Max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sampler_state has ", snapshot.sampler_state.size(), " bytes (max ", kU32Max, ")"));
  }
  if (snapshot.pending_input.size() > kU32Max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pending_input has ", snapshot.pending_input.size(), " tokens (max ", kU32Max, ")"));
  }

  const size_t prefix_size = kFixedHeaderSize + fingerprint.size() + snapshot.sampler_state.size() +
                             4 * snapshot.pending_input.size();
  const size_t plain_size = PlainPayloadSize(codec, sizes);
  std::string out;
  size_t stored_size = plain_size;
  if (!zstd) {
    out.resize(prefix_size + plain_size + kChecksumSize);
    absl::Status written =
        WritePlainPayload(codec, zstd, floats, c, sizes, out.data() + prefix_size);
    if (!written.ok()) return written;
  } else {
    std::unique_ptr<uint8_t[]> plain = UninitializedBytes(plain_size);
    absl::Status written =
        WritePlainPayload(codec, zstd, floats, c, sizes, reinterpret_cast<char*>(plain.get()));
    if (!written.ok()) return written;
    const size_t capacity = ZSTD_compressBound(plain_size);
    out.resize(prefix_size + capacity + kChecksumSize);
    ZSTD_CCtx* cctx = ThreadCCtx();
    if (cctx == nullptr) return absl::InternalError("cannot allocate a zstd context");
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    size_t rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, options.zstd_level);
    if (!ZSTD_isError(rc)) {
      rc = ZSTD_compress2(cctx, out.data() + prefix_size, capacity, plain.get(), plain_size);
    }
    if (ZSTD_isError(rc)) {
      return absl::InternalError(absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(rc)));
    }
    stored_size = rc;
    out.resize(prefix_size + stored_size + kChecksumSize);
  }

  char* p = out.data();
  std::memcpy(p, kMagic, kMagicSize);
  StoreLe16(p + 8, kSnapshotFormatVersion);
  p[10] = static_cast<char>(codec);
  p[11] = static_cast<char>(zstd ? kFlagZstd : 0);
  StoreLe32(p + 12, static_cast<uint32_t>(c.layers));
  StoreLe32(p + 16, static_cast<uint32_t>(c.embd));
  StoreLe32(p + 20, static_cast<uint32_t>(c.heads));
  StoreLe32(p + 24, static_cast<uint32_t>(c.head_size));
  StoreLe64(p + 28, snapshot.token_count);
  StoreLe32(p + 36, static_cast<uint32_t>(snapshot.sampler_state.size()));
  StoreLe32(p + 40, static_cast<uint32_t>(snapshot.pending_input.size()));
  StoreLe64(p + 44, 4 * uint64_t{sizes.floats});
  StoreLe64(p + 52, stored_size);
  StoreLe16(p + 60, static_cast<uint16_t>(fingerprint.size()));
  char* q = p + kFixedHeaderSize;
  std::memcpy(q, fingerprint.data(), fingerprint.size());
  q += fingerprint.size();
  if (!snapshot.sampler_state.empty()) {
    std::memcpy(q, snapshot.sampler_state.data(), snapshot.sampler_state.size());
  }
  q += snapshot.sampler_state.size();
  for (int32_t token : snapshot.pending_input) {
    StoreLe32(q, static_cast<uint32_t>(token));
    q += 4;
  }
  const size_t body_size = out.size() - kChecksumSize;
  StoreLe64(p + body_size, XXH3_64bits(p, body_size));
  return out;
}

absl::StatusOr<SnapshotHeader> ReadSnapshotHeader(absl::string_view bytes) {
  absl::StatusOr<ParsedSnapshot> parsed = ParseSnapshot(bytes);
  if (!parsed.ok()) return parsed.status();
  return std::move(parsed->header);
}

absl::StatusOr<StreamSnapshot> DecodeSnapshot(absl::string_view bytes,
                                              absl::string_view expected_fingerprint,
                                              const ModelConfig& expected_config) {
  absl::StatusOr<ParsedSnapshot> parsed_or = ParseSnapshot(bytes);
  if (!parsed_or.ok()) return parsed_or.status();
  const ParsedSnapshot& parsed = *parsed_or;
  const SnapshotHeader& h = parsed.header;

  if (h.model_fingerprint != expected_fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Gander state is for model \"", absl::CHexEscape(h.model_fingerprint),
        "\", not the expected model \"", absl::CHexEscape(expected_fingerprint), "\""));
  }
  const ModelConfig& e = expected_config;
  if (h.layers != e.layers || h.embd != e.embd || h.heads != e.heads ||
      h.head_size != e.head_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Gander state has shape ", ShapeString(h.layers, h.embd, h.heads, h.head_size),
        ", the expected model's is ", ShapeString(e.layers, e.embd, e.heads, e.head_size)));
  }

  StreamSnapshot snapshot;
  snapshot.model_fingerprint = h.model_fingerprint;
  snapshot.config = expected_config;
  snapshot.token_count = h.token_count;
  snapshot.state = engine::RecurrentState(expected_config);
  snapshot.sampler_state = std::string(bytes.substr(parsed.sampler_offset, h.sampler_state_size));
  snapshot.pending_input.resize(h.pending_input_count);
  for (size_t i = 0; i < h.pending_input_count; ++i) {
    snapshot.pending_input[i] =
        static_cast<int32_t>(LoadLe32(bytes.data() + parsed.pending_offset + 4 * i));
  }

  float* out = snapshot.state.floats().data();
  const char* payload = bytes.data() + parsed.payload_offset;
  if (!h.zstd) {
    absl::Status read = ReadPlainPayload(h.codec, false, payload, parsed.sizes, h.head_size, out);
    if (!read.ok()) return read;
    return snapshot;
  }
  const size_t plain_size = PlainPayloadSize(h.codec, parsed.sizes);
  ZSTD_DCtx* dctx = ThreadDCtx();
  if (dctx == nullptr) return absl::InternalError("cannot allocate a zstd context");
  std::unique_ptr<uint8_t[]> plain = UninitializedBytes(plain_size);
  const size_t rc =
      ZSTD_decompressDCtx(dctx, plain.get(), plain_size, payload, h.payload_stored_size);
  if (ZSTD_isError(rc)) {
    return absl::DataLossError(absl::StrCat(
        "Gander state's ", StateCodecName(h.codec), " payload (", h.payload_stored_size,
        " bytes of zstd) does not decompress: ", ZSTD_getErrorName(rc)));
  }
  if (rc != plain_size) {
    return absl::DataLossError(absl::StrCat("Gander state's ", StateCodecName(h.codec),
                                            " payload decompresses to ", rc,
                                            " bytes, the header implies ", plain_size));
  }
  absl::Status read = ReadPlainPayload(h.codec, true, reinterpret_cast<const char*>(plain.get()),
                                       parsed.sizes, h.head_size, out);
  if (!read.ok()) return read;
  return snapshot;
}

}  // namespace gander::storage
