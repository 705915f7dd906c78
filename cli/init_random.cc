// gander init-random: writes a random RWKV-7 model in the official tensor
// layout, with values in realistic ranges, for tests, benchmarks and demos.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "engine/weights/random_model.h"

namespace gander::cli {
namespace {

absl::Status InitRandom(const FlagSet& flags) {
  engine::RandomModelSpec spec;
  for (auto [name, field] : {std::pair<const char*, int*>{"layers", &spec.layers},
                             {"embd", &spec.embd},
                             {"vocab", &spec.vocab}}) {
    absl::StatusOr<long long> value = flags.GetInt(name);
    if (!value.ok()) return value.status();
    if (*value <= 0 || *value > (1 << 24)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " must be in [1, 2^24]"));
    }
    *field = static_cast<int>(*value);
  }
  absl::StatusOr<long long> seed = flags.GetInt("seed");
  if (!seed.ok()) return seed.status();
  spec.seed = static_cast<uint64_t>(*seed);

  const std::string out = flags.Get("out");
  engine::TensorFormat format;
  if (absl::EndsWith(out, ".pth")) {
    format = engine::TensorFormat::kPth;
  } else if (absl::EndsWith(out, ".safetensors")) {
    format = engine::TensorFormat::kSafetensors;
  } else {
    return absl::InvalidArgumentError("--out must end in .pth or .safetensors");
  }
  engine::FileDtype dtype;
  if (flags.Get("dtype") == "bf16") {
    dtype = engine::FileDtype::kBF16;
  } else if (flags.Get("dtype") == "fp32") {
    dtype = engine::FileDtype::kF32;
  } else {
    return absl::InvalidArgumentError("--dtype must be bf16 or fp32");
  }
  return engine::WriteRandomModel(spec, out, format, dtype);
}

}  // namespace

int InitRandomCommand(int argc, char** argv) {
  FlagSet flags("init-random");
  flags.Add("layers", "number of layers (L)", /*required=*/true);
  flags.Add("embd", "embedding width (C), a multiple of 64", /*required=*/true);
  flags.Add("vocab", "vocabulary size (V)", /*required=*/true);
  flags.Add("seed", "random seed", false, "0");
  flags.Add("out", "output path, ending in .pth or .safetensors", /*required=*/true);
  flags.Add("dtype", "tensor type in the file: bf16 or fp32", false, "bf16");
  return RunCommand(flags, argc, argv, InitRandom);
}

}  // namespace gander::cli
