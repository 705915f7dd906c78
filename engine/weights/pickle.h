// Reads the pickle of a PyTorch state dict (the `data.pkl` entry of a `.pth`
// zip checkpoint) with a small pickle machine that knows only what
// `torch.save(state_dict)` writes: protocol-2 opcodes, `collections.
// OrderedDict`, `torch._utils._rebuild_tensor_v2` (and `_rebuild_parameter`)
// and storages persisted as `('storage', torch.<T>Storage, key, location,
// numel)` with T one of BFloat16, Half, Float. It never executes anything:
// every other global is refused. Internal to engine/weights.
//
// Example:
//   absl::StatusOr<std::vector<PickledTensor>> tensors = ParseStateDictPickle(pkl_bytes);
//   // (*tensors)[0].name == "emb.weight", .storage_key == "0", ...
//
// Thread-safe (pure function). Errors: INVALID_ARGUMENT naming the byte
// offset in data.pkl and the opcode or global at fault, or the state dict
// entry that is not a tensor. Hostile input never crashes it: every read is
// bounds-checked and data.pkl is limited to 64 MiB.
#ifndef GANDER_ENGINE_WEIGHTS_PICKLE_H_
#define GANDER_ENGINE_WEIGHTS_PICKLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/weights/dtype.h"

namespace gander::engine::weights_internal {

// One entry of the state dict, as the pickle describes it (nothing checked
// against the storages yet).
struct PickledTensor {
  std::string name;            // the state dict key
  DType dtype = DType::kF32;   // from the storage type
  std::string storage_key;     // the storage's bytes are entry "<prefix>/data/<key>"
  int64_t storage_numel = 0;   // elements in that storage
  int64_t storage_offset = 0;  // the tensor's first element within it
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;  // in elements
};

// The largest data.pkl accepted.
inline constexpr size_t kMaxPickleBytes = size_t{64} << 20;

// Parses `pickle` (a whole data.pkl) into its tensors, in the dict's order.
absl::StatusOr<std::vector<PickledTensor>> ParseStateDictPickle(absl::Span<const uint8_t> pickle);

}  // namespace gander::engine::weights_internal

#endif  // GANDER_ENGINE_WEIGHTS_PICKLE_H_
