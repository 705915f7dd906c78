// A model file opened for reading: the named tensors of a PyTorch `.pth`
// checkpoint (zip format, torch >= 1.6) or of a `.safetensors` file, each a
// view of bytes inside a read-only memory map of the file. The format is
// chosen by content (a ZIP local header vs a safetensors JSON header), never
// by the file name. Internal to engine/weights.
//
// Example:
//   absl::StatusOr<TensorFile> file = TensorFile::Open("model.pth");
//   for (const TensorView& t : file->tensors()) {
//     // t.name, t.dtype, t.shape, t.data [t.byte_size bytes, row-major]
//   }
//
// Ownership: every TensorView::data points into mapping(); keep the
// TensorFile (or a copy of mapping()) alive while using them. Immutable, so
// thread-safe.
// Errors: NOT_FOUND (no such file) and the other MappedFile errors;
// INVALID_ARGUMENT for anything wrong with the content, naming the byte
// offset, ZIP entry or tensor: empty, truncated or corrupt file, compressed
// ZIP entries, unsupported dtypes or pickle globals, non-contiguous tensors,
// tensors outside or overlapping their storage, duplicate names. A returned
// TensorFile has every tensor's bytes inside the file, with byte_size ==
// elements * DTypeSize(dtype). Tensor data is not checksummed.
#ifndef GANDER_ENGINE_WEIGHTS_TENSOR_FILE_H_
#define GANDER_ENGINE_WEIGHTS_TENSOR_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/weights/dtype.h"
#include "engine/weights/mapped_file.h"

namespace gander::engine::weights_internal {

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, contiguous
  const uint8_t* data = nullptr;
  uint64_t byte_size = 0;
  uint64_t file_offset = 0;  // of data within the file

  int64_t NumElements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

class TensorFile {
 public:
  enum class Format { kPth, kSafetensors };

  // Maps and parses the file at `path`.
  static absl::StatusOr<TensorFile> Open(const std::string& path);
  // Parses an already mapped file.
  static absl::StatusOr<TensorFile> Parse(std::shared_ptr<const MappedFile> mapping);

  Format format() const { return format_; }
  // In file order (pickle dict order, or safetensors header order).
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::shared_ptr<const MappedFile>& mapping() const { return mapping_; }

 private:
  TensorFile(Format format, std::shared_ptr<const MappedFile> mapping,
             std::vector<TensorView> tensors)
      : format_(format), mapping_(std::move(mapping)), tensors_(std::move(tensors)) {}

  Format format_;
  std::shared_ptr<const MappedFile> mapping_;
  std::vector<TensorView> tensors_;
};

absl::string_view FormatName(TensorFile::Format format);

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_TENSOR_FILE_H_
