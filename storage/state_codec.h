// The durable encoding of one stream: its recurrent state, its sampler's
// state, its pending input and the identity of the model it belongs to, as
// one self-describing, checksummed byte string (a "snapshot"). This is what
// the state store keeps, what Export hands out and what Import accepts.
//
// Codecs (the state's floats only; everything else is stored exactly):
//   kRaw       float32 little-endian, as is. Exact. 4 bytes/float.
//   kLossless  float32 restored bit-exactly: byte-plane shuffle (byte 0 of
//              every float, then byte 1, ...) then zstd
//              (EncodeOptions::zstd_level). Exact. About 0.85 of raw on
//              states from real generation (plain zstd: 0.93); only the
//              sign/exponent plane compresses, the mantissa bytes are noise.
//   kBF16      each float rounded to nearest-even bfloat16. 2 bytes/float.
//              Error: |x' - x| <= 2^-8 |x| for every element (normal range).
//   kInt8      rows of N floats (every wkv row [i][0..N), and the shift
//              vectors cut into chunks of N) as one float32 scale
//              s = max|x| / 127 and int8 values q = round(x / s) in
//              [-127, 127]. (N + 4) bytes per N floats (0.266 of raw at
//              N = 64). Error: |x' - x| <= 1.001 * max|row| / 254 for every
//              element (half a step, plus float rounding); a row whose
//              max|x| is below 2^-119 (1.5e-36) is stored as zeros.
// bf16 and int8 can also be zstd-compressed (EncodeOptions::compress_lossy;
// bf16 then as two byte planes). The lossy codecs refuse (INVALID_ARGUMENT)
// a state holding NaN or infinity; the exact codecs keep every bit, NaNs
// included.
//
// Format, version 1 (all integers little-endian, written field by field):
//   offset  size  field
//   0       8     magic "GNDRSTAT"
//   8       2     format version (uint16) = 1
//   10      1     codec id (StateCodec)
//   11      1     flags: bit 0 = the payload is zstd-compressed (always set
//                 for lossless, optional for bf16/int8, never for raw);
//                 bits 1-7 = 0
//   12      4     L layers (uint32)
//   16      4     C embd (uint32)
//   20      4     H heads (uint32)
//   24      4     N head_size (uint32); C = H * N
//   28      8     token_count (uint64)
//   36      4     S, sampler state bytes (uint32)
//   40      4     P, pending input tokens (uint32)
//   44      8     payload raw size (uint64) = 4 * L * (2C + H*N*N)
//   52      8     Z, payload stored size (uint64)
//   60      2     F, fingerprint bytes (uint16), 1..kMaxFingerprintBytes
//   62      F     model fingerprint
//   62+F    S     sampler state (opaque bytes)
//   ..      4P    pending input (int32 each)
//   ..      Z     payload (the state's floats, as the codec stores them)
//   end-8   8     XXH3-64 (seed 0) of every byte before it
//
// The envelope (magic at 0, version at 8, XXH3-64 of everything else in the
// last 8 bytes) is frozen: every future format version keeps it, so that a
// reader can tell a newer writer's intact snapshot from a damaged one.
//
// Decoding checks, in this order (the first failure is returned):
//   1. empty input, or the first bytes are not the magic:
//        INVALID_ARGUMENT "not a Gander state" (a prefix of the magic that
//        stops short is DATA_LOSS: a truncated snapshot)
//   2. shorter than the smallest snapshot (70 bytes): DATA_LOSS, truncated
//   3. the checksum does not match: DATA_LOSS. The message says
//        "truncated" or "trailing bytes" when the (unverified) header
//        declares another total size, else "checksum mismatch". This runs
//        before the version is read, so a damaged version or codec byte is
//        DATA_LOSS, never mistaken for a newer writer.
//   4. unknown format version, codec id or flag bit (the checksum holds, so
//        the bytes are intact: a newer writer made them): INVALID_ARGUMENT,
//        naming the value and what this build reads
//   5. header fields inconsistent with each other or with the size
//        (possible only for a writer bug or forged bytes): DATA_LOSS
//   6. (DecodeSnapshot) fingerprint or shape unlike the caller's model:
//        FAILED_PRECONDITION, naming both values
//   7. (DecodeSnapshot) payload that does not decode to exactly the
//        declared size (zstd error), or values the encoder never writes
//        (bf16 NaN/infinity, negative int8 scale, int8 -128): DATA_LOSS
// So a decoder returns a state only if its bytes are the bytes a writer
// produced (up to XXH3-64 collisions: 2^-64 per random corruption), for the
// caller's model and shape.
//
// Example:
//   StreamSnapshot snap{.model_fingerprint = model.fingerprint(),
//                       .config = model.config(), .token_count = 42,
//                       .state = state, .sampler_state = sampler.state().Serialize()};
//   absl::StatusOr<std::string> bytes = EncodeSnapshot(snap, StateCodec::kLossless);
//   absl::StatusOr<StreamSnapshot> back =
//       DecodeSnapshot(*bytes, model.fingerprint(), model.config());
//
// Thread-safe functions with no shared state (each thread keeps one zstd
// compression and one decompression context, a few MB, for reuse); they
// never abort on any input. Inputs are borrowed; results are owned by the
// caller. Memory: encoding and decoding a lossless or compressed payload
// need one temporary buffer of the state's size besides input and output.
#ifndef GANDER_STORAGE_STATE_CODEC_H_
#define GANDER_STORAGE_STATE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model_config.h"
#include "engine/recurrent_state.h"

namespace gander::storage {

// How the state's floats are stored. The numeric values are the on-disk
// codec ids: never renumber.
enum class StateCodec : uint8_t { kRaw = 0, kLossless = 1, kBF16 = 2, kInt8 = 3 };

// "raw", "lossless", "bf16", "int8" ("unknown" for other values).
absl::string_view StateCodecName(StateCodec codec);
// The codec of a name above; INVALID_ARGUMENT for any other string.
absl::StatusOr<StateCodec> ParseStateCodec(absl::string_view name);

// The format version EncodeSnapshot writes and the decoders read.
inline constexpr uint16_t kSnapshotFormatVersion = 1;
// The longest model fingerprint a snapshot can hold.
inline constexpr size_t kMaxFingerprintBytes = 1024;

// Everything needed to continue a stream exactly.
struct StreamSnapshot {
  std::string model_fingerprint;  // Model::fingerprint(); non-empty
  // Only layers, embd, heads and head_size are encoded and checked. On
  // decode: a copy of the caller's expected config.
  engine::ModelConfig config;
  uint64_t token_count = 0;            // tokens the state has consumed
  engine::RecurrentState state;        // shaped for `config`
  std::string sampler_state;           // opaque bytes (SamplerState::Serialize())
  std::vector<int32_t> pending_input;  // token ids appended, not yet consumed
};

struct EncodeOptions {
  // zstd level of every compressed payload (kLossless; kBF16 and kInt8 with
  // compress_lossy), in [ZSTD_minCLevel(), ZSTD_maxCLevel()]. Default: 1.
  // Measured on states from real generation, level 1 is both the smallest
  // and the fastest: the only compressible byte plane is the sign/exponent
  // one, which zstd's Huffman coding of literals shrinks about 2x, and the
  // match search of higher levels finds short matches there that cost more
  // than they save (level 3: 1.7% larger and about 2x slower to encode;
  // level 19: 0.7% larger, far slower); levels <= 0 skip Huffman coding and
  // gain nothing. See bench/RESULTS.md.
  int zstd_level = 1;
  // kBF16 and kInt8: also zstd-compress the payload (bf16 as two byte
  // planes). Smaller (on a 0.1B-shaped state from real generation: bf16
  // 2.0x -> 2.8x, int8 3.76x -> 4.3x smaller than raw), 2-4x slower to
  // encode and about 2x slower to decode, and no longer a fixed size.
  // Default: false.
  bool compress_lossy = false;
};

// Encodes `snapshot` with `codec`. INVALID_ARGUMENT (nothing returned) for:
// an unknown codec, a bad zstd level, an empty or too long fingerprint, a
// config that is not a valid shape (L, H, N >= 1, C = H * N), a state of
// another size, more than 2^32 - 1 sampler bytes or pending tokens, or (lossy
// codecs) a non-finite value in the state, naming its index.
// INTERNAL if zstd fails.
absl::StatusOr<std::string> EncodeSnapshot(const StreamSnapshot& snapshot, StateCodec codec,
                                           const EncodeOptions& options = {});

// The verified header of an encoded snapshot.
struct SnapshotHeader {
  uint16_t format_version = 0;
  StateCodec codec = StateCodec::kRaw;
  bool zstd = false;  // the payload is zstd-compressed (flag bit 0)
  std::string model_fingerprint;
  int layers = 0;     // L
  int embd = 0;       // C
  int heads = 0;      // H
  int head_size = 0;  // N
  uint64_t token_count = 0;
  uint32_t sampler_state_size = 0;   // bytes
  uint32_t pending_input_count = 0;  // tokens
  uint64_t payload_raw_size = 0;     // bytes of the state as float32
  uint64_t payload_stored_size = 0;  // bytes of the payload as stored
  uint64_t total_size = 0;           // bytes of the whole snapshot
  uint64_t checksum = 0;             // the XXH3-64 trailer
};

// Verifies magic, checksum, version, codec and the header's consistency
// (checks 1-5 above) and returns the header; the payload is not decoded.
// Cost: one XXH3 pass over the bytes.
absl::StatusOr<SnapshotHeader> ReadSnapshotHeader(absl::string_view bytes);

// Verifies and decodes a snapshot written for the model `expected_fingerprint`
// shaped as `expected_config` (checks 1-7 above).
absl::StatusOr<StreamSnapshot> DecodeSnapshot(absl::string_view bytes,
                                              absl::string_view expected_fingerprint,
                                              const engine::ModelConfig& expected_config);

}  // namespace gander::storage

#endif  // GANDER_STORAGE_STATE_CODEC_H_
