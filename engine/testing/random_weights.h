// Random model weights for tests: writes the model described by `spec`
// (engine/weights/random_model.h) as an fp32 safetensors file named
// `name`.safetensors in $TEST_TMPDIR (or /tmp) and loads it back as fp32,
// so tests get exact float32 weights through the real loader. Test-only.
//
// Example:
//   absl::StatusOr<ModelWeights> weights = RandomFp32Weights(spec, "my_test");
#ifndef GANDER_ENGINE_TESTING_RANDOM_WEIGHTS_H_
#define GANDER_ENGINE_TESTING_RANDOM_WEIGHTS_H_

#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/weights/model_weights.h"
#include "engine/weights/random_model.h"

namespace gander::engine::testing {

inline absl::StatusOr<ModelWeights> RandomFp32Weights(const RandomModelSpec& spec,
                                                      const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/", name, ".safetensors");
  if (absl::Status s = WriteRandomModel(spec, path, TensorFormat::kSafetensors, FileDtype::kF32);
      !s.ok()) {
    return s;
  }
  LoadOptions options;
  options.type = WeightType::kF32;
  return LoadModelWeights(path, options);
}

}  // namespace gander::engine::testing

#endif  // GANDER_ENGINE_TESTING_RANDOM_WEIGHTS_H_
