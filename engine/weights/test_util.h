// Helpers shared by the engine/weights tests: temporary paths, whole-file
// reads and writes, a walk over every tensor a ModelWeights holds (by its
// checkpoint name), and models written from hand-edited tensor lists.
// Test-only.
#ifndef GANDER_ENGINE_WEIGHTS_TEST_UTIL_H_
#define GANDER_ENGINE_WEIGHTS_TEST_UTIL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/weights/dtype.h"
#include "engine/weights/model_weights.h"
#include "engine/weights/random_model.h"
#include "engine/weights/tensor_writer.h"

namespace gander::engine::weights_test {

// A fresh path under TEST_TMPDIR (or /tmp) ending in `name`.
std::string TempPath(const std::string& name);
std::string ReadFileOrDie(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& bytes);

// One tensor of a ModelWeights under its checkpoint name: a float vector
// (stored [C], [1, 1, C] or [H, N] in the file) or a matrix (LoRA matrices
// are transposed relative to the file).
struct LoadedTensor {
  std::string name;
  const std::vector<float>* vector = nullptr;
  const Matrix* matrix = nullptr;
  bool transposed = false;
};
// Every tensor the weights hold (layer 0's unused v0/v1/v2 excluded).
std::vector<LoadedTensor> LoadedTensors(const ModelWeights& weights);
// A loaded tensor's values as floats in the file's layout.
std::vector<float> FileLayoutValues(const LoadedTensor& tensor);
// Element (r, c) of a matrix as float.
float MatrixAt(const Matrix& m, int r, int c);

// A model as a list of tensors that tests may edit before writing.
struct EditableTensor {
  weights_internal::TensorToWrite header;
  std::vector<float> values;  // file layout; encoded as header.dtype
};
std::vector<EditableTensor> RandomModelTensors(const RandomModelSpec& spec,
                                               weights_internal::DType dtype);
absl::Status WriteTensors(const std::string& path, const std::vector<EditableTensor>& tensors,
                          TensorFormat format,
                          const weights_internal::PthWriteOptions& options = {});
// The raw bytes of `values` as `dtype` (round to nearest even).
std::string EncodeValues(const std::vector<float>& values, weights_internal::DType dtype);

}  // namespace gander::engine::weights_test

#endif  // GANDER_ENGINE_WEIGHTS_TEST_UTIL_H_
