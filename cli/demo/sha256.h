// SHA-256 (FIPS 180-4), for checking downloaded files against published
// digests without another library.
//
// Example:
//   Sha256 hash;
//   hash.Update("ab");
//   hash.Update("c");
//   std::string hex = hash.HexDigest();   // "ba7816bf..."
//   absl::StatusOr<std::string> file_hex = Sha256FileHex("/path/model.pth");
//
// Ownership: a plain value; Update copies what it needs. Thread-compatible
// (one object per thread). Failure: Sha256FileHex returns NOT_FOUND for a
// missing file, PERMISSION_DENIED, or DATA_LOSS for a read error, naming the
// path; the in-memory calls cannot fail.
#ifndef GANDER_CLI_DEMO_SHA256_H_
#define GANDER_CLI_DEMO_SHA256_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::cli::demo {

class Sha256 {
 public:
  Sha256();

  // Appends bytes to the message.
  void Update(absl::string_view bytes);

  // The digest of everything appended [32 bytes]. Ends the message: call
  // Reset() before hashing another one.
  std::array<uint8_t, 32> Digest();
  // The digest as 64 lowercase hex digits (also ends the message).
  std::string HexDigest();

  void Reset();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;  // bytes in buffer_
  uint64_t length_ = 0;  // message length so far, in bytes
};

// The hex digest of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// The hex digest of the file at `path`, read in 1 MiB pieces.
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

}  // namespace gander::cli::demo

#endif  // GANDER_CLI_DEMO_SHA256_H_
