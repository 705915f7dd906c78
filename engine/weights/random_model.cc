#include "engine/weights/random_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/weights/bf16.h"
#include "engine/weights/tensor_writer.h"
#include "engine/weights/x070_layout.h"

namespace gander::engine {
namespace {

using weights_internal::DType;
using weights_internal::TensorToWrite;
using weights_internal::X070Tensor;

// SplitMix64: a tiny, well-mixed, fully specified 64-bit generator.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller: each pair of uniforms gives two values).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - Uniform();  // (0, 1]: log is finite
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(6.283185307179586 * u2);
    has_spare_ = true;
    return r * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// The stream of a tensor depends on the seed and its name only.
uint64_t TensorSeed(uint64_t seed, absl::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  SplitMix64 mix(seed ^ h);
  return mix.Next();
}

int RoundRank(int value, int C) { return std::min(C, std::max(8, (value + 4) / 8 * 8)); }

struct Distribution {
  enum Kind { kNormal, kUniform } kind;
  double a, b;  // mean and std, or low and high
};

// See RandomTensorValues in the header.
Distribution DistributionFor(const X070Tensor& t) {
  const absl::string_view s = t.suffix;
  // 2-D tensors: rows = shape[0], cols = shape[1].
  const double rows = t.shape.size() == 2 ? static_cast<double>(t.shape[0]) : 1.0;
  const double cols = t.shape.size() == 2 ? static_cast<double>(t.shape[1]) : 1.0;
  if (s == "emb.weight") return {Distribution::kNormal, 0, 1};
  const bool norm = absl::StartsWith(s, "ln") || absl::StartsWith(s, "att.ln_x.");
  if (norm && absl::EndsWith(s, ".weight")) return {Distribution::kNormal, 1, 0.1};
  if (norm && absl::EndsWith(s, ".bias")) return {Distribution::kNormal, 0, 0.02};
  if (s == "att.x_r" || s == "att.x_w" || s == "att.x_k" || s == "att.x_v" || s == "att.x_a" ||
      s == "att.x_g" || s == "ffn.x_k") {
    return {Distribution::kUniform, 0, 1};
  }
  if (s == "att.w0") return {Distribution::kUniform, -4, 3};
  if (s == "att.a0" || s == "att.v0") return {Distribution::kUniform, -1, 1};
  // LoRA first halves are stored (in, out) = [C, D]: fan-in C = shape[0].
  if (s == "att.w1" || s == "att.a1" || s == "att.v1" || s == "att.g1") {
    return {Distribution::kNormal, 0, 1 / std::sqrt(rows)};
  }
  // Second halves are [D, C]: fan-in D = shape[0].
  if (s == "att.w2" || s == "att.a2" || s == "att.v2") {
    return {Distribution::kNormal, 0, 0.5 / std::sqrt(rows)};
  }
  if (s == "att.g2") return {Distribution::kNormal, 0, 1 / std::sqrt(rows)};
  if (s == "att.k_k") return {Distribution::kUniform, 0.85, 1};
  if (s == "att.k_a") return {Distribution::kUniform, 0.9, 1.1};
  if (s == "att.r_k") return {Distribution::kNormal, 0, 0.1};
  // Projections, channel mix and head, stored (out, in).
  return {Distribution::kNormal, 0, 1 / std::sqrt(cols)};
}

std::vector<float> Generate(uint64_t seed, const X070Tensor& t) {
  int64_t count = 1;
  for (int64_t d : t.shape) count *= d;
  const Distribution dist = DistributionFor(t);
  SplitMix64 rng(TensorSeed(seed, t.name));
  std::vector<float> values(count);
  for (float& v : values) {
    v = static_cast<float>(dist.kind == Distribution::kNormal
                               ? dist.a + dist.b * rng.Normal()
                               : dist.a + (dist.b - dist.a) * rng.Uniform());
  }
  return values;
}

std::string Encode(const std::vector<float>& values, FileDtype dtype) {
  std::string bytes;
  if (dtype == FileDtype::kF32) {
    bytes.resize(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
  } else {
    bytes.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      const uint16_t b = FloatToBf16(values[i]);
      std::memcpy(bytes.data() + 2 * i, &b, 2);
    }
  }
  return bytes;
}

}  // namespace

absl::StatusOr<ModelConfig> RandomModelConfig(const RandomModelSpec& spec) {
  auto bad = [](absl::string_view field, int value, absl::string_view rule) {
    return absl::InvalidArgumentError(
        absl::StrCat("RandomModelSpec.", field, " = ", value, ": ", rule));
  };
  if (spec.layers < 1 || spec.layers > 4096) return bad("layers", spec.layers, "must be 1..4096");
  if (spec.head_size < 1 || spec.head_size > 4096) {
    return bad("head_size", spec.head_size, "must be 1..4096");
  }
  if (spec.embd < 1 || spec.embd > 65536 || spec.embd % spec.head_size != 0) {
    return bad("embd", spec.embd, "must be 1..65536 and a multiple of head_size");
  }
  if (spec.vocab < 1 || spec.vocab > (1 << 24)) return bad("vocab", spec.vocab, "must be 1..2^24");
  for (auto [field, value] : {std::pair<const char*, int>{"lora_w", spec.lora_w},
                              {"lora_a", spec.lora_a},
                              {"lora_v", spec.lora_v},
                              {"lora_g", spec.lora_g},
                              {"ffn", spec.ffn}}) {
    if (value < 0 || value > 262144) return bad(field, value, "must be 0 (derive) .. 262144");
  }
  const int C = spec.embd;
  int w, v, g;
  if (C < 512) {
    w = RoundRank(C / 4, C);
    v = RoundRank(C / 8, C);
    g = RoundRank(C / 2, C);
  } else if (C <= 1024) {
    w = 64, v = 32, g = 128;
  } else if (C <= 2048) {
    w = 96, v = 64, g = 256;
  } else {
    w = 128, v = 96, g = 384;
  }
  ModelConfig c;
  c.layers = spec.layers;
  c.embd = C;
  c.head_size = spec.head_size;
  c.heads = C / spec.head_size;
  c.ffn = spec.ffn > 0 ? spec.ffn : 4 * C;
  c.vocab = spec.vocab;
  c.lora_w = spec.lora_w > 0 ? spec.lora_w : w;
  c.lora_a = spec.lora_a > 0 ? spec.lora_a : w;
  c.lora_v = spec.lora_v > 0 ? spec.lora_v : v;
  c.lora_g = spec.lora_g > 0 ? spec.lora_g : g;
  // A one-layer model without layer 0's value LoRA has none at all.
  if (spec.layers == 1 && !spec.layer0_value_lora) c.lora_v = 0;
  return c;
}

std::vector<float> RandomTensorValues(const RandomModelSpec& spec, const std::string& name) {
  absl::StatusOr<ModelConfig> config = RandomModelConfig(spec);
  if (!config.ok()) return {};
  for (const X070Tensor& t : weights_internal::X070Tensors(*config, spec.layer0_value_lora)) {
    if (t.name == name) return Generate(spec.seed, t);
  }
  return {};
}

absl::Status WriteRandomModel(const RandomModelSpec& spec, const std::string& path,
                              TensorFormat format, FileDtype dtype) {
  GANDER_ASSIGN_OR_RETURN(ModelConfig config, RandomModelConfig(spec));
  std::vector<X070Tensor> layout = weights_internal::X070Tensors(config, spec.layer0_value_lora);
  if (format == TensorFormat::kSafetensors) {
    std::sort(layout.begin(), layout.end(),
              [](const X070Tensor& a, const X070Tensor& b) { return a.name < b.name; });
  }
  std::vector<TensorToWrite> tensors;
  tensors.reserve(layout.size());
  for (const X070Tensor& t : layout) {
    tensors.push_back(
        {t.name, dtype == FileDtype::kBF16 ? DType::kBF16 : DType::kF32, t.shape, {}});
  }
  auto bytes = [&](size_t i, std::string* out) {
    *out = Encode(Generate(spec.seed, layout[i]), dtype);
    return absl::OkStatus();
  };
  if (format == TensorFormat::kPth) return weights_internal::WritePth(path, tensors, bytes);
  return weights_internal::WriteSafetensors(path, tensors, bytes);
}

}  // namespace gander::engine
