// Element types of tensors in model files (safetensors names), with their
// sizes. Internal to engine/weights.
//
// Example:
//   size_t bytes = numel * DTypeSize(DType::kBF16);
//   absl::string_view name = DTypeName(DType::kBF16);  // "BF16"
#ifndef GANDER_ENGINE_WEIGHTS_DTYPE_H_
#define GANDER_ENGINE_WEIGHTS_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace gander::engine::weights_internal {

enum class DType { kF32, kBF16, kF16 };

inline size_t DTypeSize(DType dtype) { return dtype == DType::kF32 ? 4 : 2; }

inline absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
  }
  return "?";
}

// "[a, b, c]", for messages.
inline std::string ShapeString(const std::vector<int64_t>& shape) {
  return "[" + absl::StrJoin(shape, ", ") + "]";
}

// The element count of `shape` into *count; false when a dimension is
// negative or the count (or its byte size at 4 bytes each) overflows int64.
inline bool ElementCount(const std::vector<int64_t>& shape, int64_t* count) {
  int64_t total = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return false;
    if (__builtin_mul_overflow(total, dim, &total)) return false;
  }
  if (total > (INT64_MAX / 8)) return false;
  *count = total;
  return true;
}

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_DTYPE_H_
