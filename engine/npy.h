// Reading and writing NumPy `.npy` files of little-endian float32 ('<f4') and
// int32 ('<i4') arrays, C order, any shape: the format of the golden test
// fixtures (tests/fixtures/rwkv7/) and of arrays dumped for debugging.
//
// Format versions 1.0, 2.0 and 3.0 are read (they differ only in the width of
// the header-length field); 1.0 is written (2.0 if the header would not fit).
//
// Example:
//   absl::StatusOr<NpyArray> logits = ReadNpy("tiny_fp32.t1.last_logits.npy");
//   if (!logits.ok()) return logits.status();
//   absl::Span<const float> values = logits->floats();  // [320]
//
//   std::vector<float> state = ...;  // [2, 16896]
//   absl::Status s = WriteNpyFloat32("state.npy", state, {2, 16896});
//
// Ownership: an NpyArray owns a copy of the file's data.
// Thread safety: NpyArray is a plain value (thread-compatible); the functions
// share no state and may run concurrently on different paths.
// Failure: never aborts on a bad file. ReadNpy returns NOT_FOUND for a missing
// file and INVALID_ARGUMENT, naming what is wrong, for anything that is not a
// well-formed '<f4'/'<i4' C-order .npy file (bad magic or version, malformed
// header, fortran_order True, another dtype, truncated or trailing data).
// The writers return INVALID_ARGUMENT when the shape does not match the data;
// a write that fails part-way may leave a partial file behind.
#ifndef GANDER_ENGINE_NPY_H_
#define GANDER_ENGINE_NPY_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace gander::engine {

// The element types this reader and writer support.
enum class NpyDtype {
  kFloat32,  // '<f4'
  kInt32,    // '<i4'
};

// The NumPy descr string of a dtype ("<f4", "<i4").
const char* NpyDtypeDescr(NpyDtype dtype);

// An array read from an .npy file: dtype, shape and elements in C order.
class NpyArray {
 public:
  // `words` holds the 4-byte elements (float or int32 bit patterns), C order;
  // its size must be the product of `shape`. ReadNpy is the usual source.
  NpyArray(NpyDtype dtype, std::vector<int64_t> shape, std::vector<uint32_t> words)
      : dtype_(dtype), shape_(std::move(shape)), words_(std::move(words)) {}

  NpyDtype dtype() const { return dtype_; }
  // Dimensions, outermost first; empty for a 0-d (scalar) array.
  const std::vector<int64_t>& shape() const { return shape_; }
  // Number of elements (the product of the shape; 1 for a scalar).
  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  // The elements' bytes in host (little-endian) order, 4 per element.
  absl::Span<const uint8_t> bytes() const {
    return {reinterpret_cast<const uint8_t*>(words_.data()), words_.size() * 4};
  }
  // The elements as floats; empty unless dtype() is kFloat32.
  absl::Span<const float> floats() const;
  // The elements as int32; empty unless dtype() is kInt32.
  absl::Span<const int32_t> ints() const;
  // The shape as NumPy prints it, e.g. "(2, 3)", "(5,)", "()".
  std::string ShapeString() const;

 private:
  NpyDtype dtype_;
  std::vector<int64_t> shape_;
  std::vector<uint32_t> words_;  // 4-byte elements, aligned for float/int32 views
};

// Reads an .npy file (see the file comment for the errors).
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);

// Writes `values` as an array of `shape` (C order). The product of `shape`
// must equal values.size() and no dimension may be negative; an empty shape
// writes a scalar (values.size() == 1). Replaces an existing file. Not
// fsynced.
absl::Status WriteNpyFloat32(const std::string& path, absl::Span<const float> values,
                             absl::Span<const int64_t> shape);
absl::Status WriteNpyInt32(const std::string& path, absl::Span<const int32_t> values,
                           absl::Span<const int64_t> shape);

}  // namespace gander::engine

#endif  // GANDER_ENGINE_NPY_H_
