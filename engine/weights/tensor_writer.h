// Writes named tensors as a PyTorch `.pth` checkpoint (the zip layout
// torch.save uses: "<archive>/data.pkl" holding a protocol-2 pickle of a
// collections.OrderedDict of torch._utils._rebuild_tensor_v2 calls,
// "<archive>/data/<n>" stored 64-byte aligned, "<archive>/byteorder" and
// "<archive>/version"; ZIP64 records where sizes need them) or as a
// `.safetensors` file. Internal to engine/weights (the random model writer
// and tests use it).
//
// Example:
//   std::vector<TensorToWrite> tensors = {{"emb.weight", DType::kBF16, {V, C}}};
//   absl::Status s = WritePth("m.pth", tensors, [&](size_t i, std::string* bytes) {
//     *bytes = ...;  // tensors[i]'s elements, little-endian, row-major
//     return absl::OkStatus();
//   });
//
// The tensor bytes are asked for one at a time, in `tensors` order, so a
// large model never has to be in memory at once. The file appears under
// `path` only when complete (written to a temporary name, then renamed).
// Thread-compatible (no shared state). Errors: INVALID_ARGUMENT (a byte
// count that does not match a shape, an empty or duplicate name), the
// callback's error, or the system error of a failed write (NOT_FOUND for a
// missing directory, PERMISSION_DENIED, RESOURCE_EXHAUSTED for a full disk).
#ifndef GANDER_ENGINE_WEIGHTS_TENSOR_WRITER_H_
#define GANDER_ENGINE_WEIGHTS_TENSOR_WRITER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/weights/dtype.h"

namespace gander::engine::weights_internal {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  // .pth only: the stride recorded in the pickle; empty means contiguous.
  // (Tests use it to make files that readers must refuse.)
  std::vector<int64_t> stride;
};

// Fills *bytes with the raw bytes of tensors[index].
using TensorBytesFn = std::function<absl::Status(size_t index, std::string* bytes)>;

struct PthWriteOptions {
  // The archive folder inside the zip (torch uses "archive", older versions
  // the file's stem).
  std::string archive_name = "archive";
  // Write ZIP64 records for every entry even when the sizes do not need them
  // (to test readers on small files).
  bool force_zip64 = false;
};

absl::Status WritePth(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const TensorBytesFn& bytes, const PthWriteOptions& options = {});

// Tensors are stored in `tensors` order; the header is padded with spaces
// so that the data starts 64-byte aligned. `__metadata__` is {"format": "pt"}.
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const TensorBytesFn& bytes);

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_TENSOR_WRITER_H_
