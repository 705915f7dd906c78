// A read-only memory map of a whole file, the backing store of tensors read
// in place (zero copy). Internal to engine/weights.
//
// Example:
//   absl::StatusOr<std::shared_ptr<const MappedFile>> file =
//       MappedFile::Open("model.pth");
//   absl::Span<const uint8_t> bytes = (*file)->bytes();
//
// Ownership: the mapping lives as long as the last shared_ptr to it; pointers
// into bytes() are valid until then. Immutable after Open, so thread-safe.
// Errors: NOT_FOUND (no such file), PERMISSION_DENIED, INVALID_ARGUMENT (not a
// regular file), INTERNAL (any other system error, with errno's text). An
// empty file maps to an empty span.
#ifndef GANDER_ENGINE_WEIGHTS_MAPPED_FILE_H_
#define GANDER_ENGINE_WEIGHTS_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace gander::engine::weights_internal {

// An absl::Status for the errno value `error_number` of an operation on `path`.
absl::Status ErrnoToStatus(int error_number, absl::string_view operation, absl::string_view path);

class MappedFile {
 public:
  static absl::StatusOr<std::shared_ptr<const MappedFile>> Open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::Span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_;  // nullptr when size_ == 0
  size_t size_;
};

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_MAPPED_FILE_H_
