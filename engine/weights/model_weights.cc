#include "engine/weights/model_weights.h"

#include <xxhash.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "engine/weights/bf16.h"
#include "engine/weights/tensor_file.h"
#include "engine/weights/x070_layout.h"

namespace gander::engine {
namespace {

using weights_internal::DType;
using weights_internal::DTypeName;
using weights_internal::DTypeSize;
using weights_internal::ShapeString;
using weights_internal::TensorFile;
using weights_internal::TensorView;
using weights_internal::X070Tensor;

constexpr int kMaxLayers = 4096;
constexpr char kFingerprintDomain[] = "gander/rwkv7-x070/fingerprint/v1";

using TensorIndex = absl::flat_hash_map<absl::string_view, const TensorView*>;

// ---------------------------------------------------------------- names

absl::Status UnexpectedTensor(absl::string_view name) {
  std::string hint = "unknown variant or not an RWKV-7 x070 checkpoint";
  if (absl::StrContains(name, "s_emb")) {
    hint = "unknown variant (DeepEmbed 'ffn.s_emb' tensors); only plain RWKV-7 x070 is supported";
  } else if (absl::StrContains(name, "time_")) {
    hint = "unknown variant (an RWKV-4/5/6 checkpoint?); only RWKV-7 x070 is supported";
  }
  return absl::InvalidArgumentError(absl::StrCat("unexpected tensor '", name, "': ", hint));
}

// Checks that `name` is an x070 tensor name; sets *layer (-1 outside blocks).
absl::Status ClassifyName(absl::string_view name, int* layer) {
  *layer = -1;
  if (weights_internal::IsX070TopLevelName(name)) return absl::OkStatus();
  if (!absl::ConsumePrefix(&name, "blocks.")) return UnexpectedTensor(name);
  const size_t dot = name.find('.');
  const absl::string_view digits = name.substr(0, dot);
  const bool canonical = !digits.empty() && digits.size() <= 4 &&
                         std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) &&
                         (digits.size() == 1 || digits[0] != '0');
  int index = 0;
  if (dot == absl::string_view::npos || !canonical || !absl::SimpleAtoi(digits, &index) ||
      index >= kMaxLayers) {
    return UnexpectedTensor(absl::StrCat("blocks.", name));
  }
  if (!weights_internal::IsX070BlockSuffix(name.substr(dot + 1), index)) {
    return UnexpectedTensor(absl::StrCat("blocks.", name));
  }
  *layer = index;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- config

absl::StatusOr<const TensorView*> Need(const TensorIndex& index, absl::string_view name) {
  auto it = index.find(name);
  if (it == index.end()) {
    return absl::InvalidArgumentError(absl::StrCat("missing tensor '", name, "'"));
  }
  return it->second;
}

// The two dimensions of a 2-D tensor named `name`; `meaning` is its
// symbolic shape ("[V, C]") for messages.
absl::Status Dims2(const TensorIndex& index, absl::string_view name, absl::string_view meaning,
                   int* rows, int* cols) {
  GANDER_ASSIGN_OR_RETURN(const TensorView* t, Need(index, name));
  if (t->shape.size() != 2 || t->shape[0] <= 0 || t->shape[1] <= 0 || t->shape[0] > INT_MAX ||
      t->shape[1] > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has shape ",
                                                   ShapeString(t->shape), ", expected ", meaning));
  }
  *rows = static_cast<int>(t->shape[0]);
  *cols = static_cast<int>(t->shape[1]);
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> DeriveConfig(const TensorIndex& index, int layers,
                                         bool layer0_value_lora) {
  ModelConfig c;
  c.layers = layers;
  GANDER_RETURN_IF_ERROR(Dims2(index, "emb.weight", "[V, C]", &c.vocab, &c.embd));
  GANDER_RETURN_IF_ERROR(Dims2(index, "blocks.0.att.r_k", "[H, N]", &c.heads, &c.head_size));
  if (static_cast<int64_t>(c.heads) * c.head_size != c.embd) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor 'blocks.0.att.r_k' has shape [", c.heads, ", ", c.head_size,
                     "], expected [H, N] with H * N = C = ", c.embd, " (from emb.weight)"));
  }
  int unused;
  GANDER_RETURN_IF_ERROR(Dims2(index, "blocks.0.ffn.key.weight", "[F, C]", &c.ffn, &unused));
  GANDER_RETURN_IF_ERROR(Dims2(index, "blocks.0.att.w1", "[C, Dw]", &unused, &c.lora_w));
  GANDER_RETURN_IF_ERROR(Dims2(index, "blocks.0.att.a1", "[C, Da]", &unused, &c.lora_a));
  GANDER_RETURN_IF_ERROR(Dims2(index, "blocks.0.att.g1", "[C, Dg]", &unused, &c.lora_g));
  if (layers > 1) {
    GANDER_RETURN_IF_ERROR(Dims2(index, "blocks.1.att.v1", "[C, Dv]", &unused, &c.lora_v));
  } else if (layer0_value_lora) {
    GANDER_RETURN_IF_ERROR(Dims2(index, "blocks.0.att.v1", "[C, Dv]", &unused, &c.lora_v));
  }
  return c;
}

// ---------------------------------------------------------------- fingerprint

void HashU64(XXH3_state_t* state, uint64_t value) {
  uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  XXH3_128bits_update(state, bytes, sizeof(bytes));
}

void HashString(XXH3_state_t* state, absl::string_view text) {
  HashU64(state, text.size());
  XXH3_128bits_update(state, text.data(), text.size());
}

// XXH3-128 over: a domain string; the config's ten fields; then, for each
// tensor in name order, its name, dtype name, rank, dimensions, byte count
// and bytes. Integers are 64-bit little-endian; strings are length-prefixed.
absl::StatusOr<std::string> Fingerprint(const ModelConfig& c,
                                        const std::vector<TensorView>& tensors) {
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(),
                                                                        &XXH3_freeState);
  if (state == nullptr || XXH3_128bits_reset(state.get()) != XXH_OK) {
    return absl::ResourceExhaustedError("cannot allocate a hash state");
  }
  HashString(state.get(), kFingerprintDomain);
  for (int field : {c.layers, c.embd, c.head_size, c.heads, c.ffn, c.vocab, c.lora_w, c.lora_a,
                    c.lora_v, c.lora_g}) {
    HashU64(state.get(), static_cast<uint64_t>(field));
  }
  std::vector<const TensorView*> sorted;
  sorted.reserve(tensors.size());
  for (const TensorView& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorView* a, const TensorView* b) { return a->name < b->name; });
  for (const TensorView* t : sorted) {
    HashString(state.get(), t->name);
    HashString(state.get(), DTypeName(t->dtype));
    HashU64(state.get(), t->shape.size());
    for (int64_t dim : t->shape) HashU64(state.get(), static_cast<uint64_t>(dim));
    HashU64(state.get(), t->byte_size);
    XXH3_128bits_update(state.get(), t->data, t->byte_size);
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state.get()));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : canonical.digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 15]);
  }
  return hex;
}

// ---------------------------------------------------------------- conversion

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// What a ModelWeights keeps alive: buffers made at load and, when some
// matrix points into it, the file's mapping.
struct WeightStorage {
  std::shared_ptr<const weights_internal::MappedFile> mapping;
  std::vector<std::unique_ptr<void, FreeDeleter>> buffers;
};

float LoadFloat(DType dtype, const uint8_t* data, size_t i) {
  switch (dtype) {
    case DType::kF32: {
      float v;
      std::memcpy(&v, data + 4 * i, 4);
      return v;
    }
    case DType::kBF16: {
      uint16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      return Bf16ToFloat(v);
    }
    case DType::kF16: {
      uint16_t v;
      std::memcpy(&v, data + 2 * i, 2);
      return HalfToFloat(v);
    }
  }
  return 0;
}

uint16_t LoadBf16(DType dtype, const uint8_t* data, size_t i) {
  if (dtype == DType::kBF16) {
    uint16_t v;
    std::memcpy(&v, data + 2 * i, 2);
    return v;
  }
  return FloatToBf16(LoadFloat(dtype, data, i));
}

class Converter {
 public:
  Converter(WeightType type, const std::shared_ptr<const weights_internal::MappedFile>& mapping,
            WeightStorage* storage)
      : type_(type), mapping_(mapping), storage_(storage) {}

  std::vector<float> Vector(const TensorView& t) {
    const size_t n = t.NumElements();
    std::vector<float> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = LoadFloat(t.dtype, t.data, i);
    return out;
  }

  // A 2-D file tensor as a Matrix (out, in); `transpose` for the LoRA
  // matrices, stored (in, out).
  absl::StatusOr<Matrix> Make(const TensorView& t, bool transpose) {
    Matrix m;
    m.type = type_;
    m.rows = static_cast<int>(transpose ? t.shape[1] : t.shape[0]);
    m.cols = static_cast<int>(transpose ? t.shape[0] : t.shape[1]);
    const size_t element = type_ == WeightType::kBF16 ? 2 : 4;
    const bool same_type = (type_ == WeightType::kBF16 && t.dtype == DType::kBF16) ||
                           (type_ == WeightType::kF32 && t.dtype == DType::kF32);
    if (!transpose && same_type && reinterpret_cast<uintptr_t>(t.data) % element == 0) {
      m.data = t.data;  // zero copy: the matrix is the file's bytes
      storage_->mapping = mapping_;
      return m;
    }
    const size_t rows = m.rows, cols = m.cols, n = rows * cols;
    void* buffer = nullptr;
    if (posix_memalign(&buffer, 64, std::max<size_t>(n * element, 64)) != 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot allocate ", n * element, " bytes for tensor '", t.name, "'"));
    }
    storage_->buffers.emplace_back(buffer);
    if (!transpose) {
      ConvertLinear(t.dtype, t.data, n, buffer);
    } else if (type_ == WeightType::kBF16) {
      // Element (r, c) of the result is file element c * rows + r.
      uint16_t* out = static_cast<uint16_t*>(buffer);
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < cols; ++c)
          out[r * cols + c] = LoadBf16(t.dtype, t.data, c * rows + r);
      }
    } else {
      float* out = static_cast<float*>(buffer);
      for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < cols; ++c)
          out[r * cols + c] = LoadFloat(t.dtype, t.data, c * rows + r);
      }
    }
    m.data = buffer;
    return m;
  }

 private:
  // n elements of `dtype` at `data` -> `out` as type_, in order (one loop
  // per source type, for the big matrices).
  void ConvertLinear(DType dtype, const uint8_t* data, size_t n, void* out) const {
    if (type_ == WeightType::kBF16) {
      uint16_t* o = static_cast<uint16_t*>(out);
      switch (dtype) {
        case DType::kBF16:
          std::memcpy(o, data, n * 2);
          return;
        case DType::kF16:
          for (size_t i = 0; i < n; ++i) o[i] = FloatToBf16(LoadFloat(DType::kF16, data, i));
          return;
        case DType::kF32:
          for (size_t i = 0; i < n; ++i) o[i] = FloatToBf16(LoadFloat(DType::kF32, data, i));
          return;
      }
    }
    float* o = static_cast<float*>(out);
    switch (dtype) {
      case DType::kF32:
        std::memcpy(o, data, n * 4);
        return;
      case DType::kBF16:
        for (size_t i = 0; i < n; ++i) o[i] = LoadFloat(DType::kBF16, data, i);
        return;
      case DType::kF16:
        for (size_t i = 0; i < n; ++i) o[i] = LoadFloat(DType::kF16, data, i);
        return;
    }
  }

  WeightType type_;
  const std::shared_ptr<const weights_internal::MappedFile>& mapping_;
  WeightStorage* storage_;
};

absl::StatusOr<ModelWeights> Load(const TensorFile& file, const LoadOptions& options) {
  // Every name must be one we understand before anything else is believed.
  TensorIndex index;
  int max_layer = -1;
  for (const TensorView& t : file.tensors()) {
    int layer;
    GANDER_RETURN_IF_ERROR(ClassifyName(t.name, &layer));
    max_layer = std::max(max_layer, layer);
    index[t.name] = &t;
  }
  // A one-layer model can only tell its value LoRA rank from layer 0's v1.
  const bool layer0_value_lora = index.contains("blocks.0.att.v1");
  GANDER_ASSIGN_OR_RETURN(ModelConfig config,
                          DeriveConfig(index, max_layer + 1, layer0_value_lora));

  // Exactly the expected tensors, each with its expected shape. Layer 0's
  // value residual LoRA is unused: each of its three tensors may be absent
  // (files differ), but one that is present must have its shape.
  const std::vector<X070Tensor> expected =
      weights_internal::X070Tensors(config, /*layer0_value_lora=*/true);
  absl::flat_hash_set<absl::string_view> expected_names;
  for (const X070Tensor& e : expected) {
    expected_names.insert(e.name);
    auto it = index.find(e.name);
    if (it == index.end()) {
      if (e.layer == 0 && (e.suffix == "att.v0" || e.suffix == "att.v1" || e.suffix == "att.v2")) {
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "missing tensor '", e.name, "' (expected shape ", ShapeString(e.shape), ")"));
    }
    if (it->second->shape != e.shape) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", e.name, "' has shape ",
                                                     ShapeString(it->second->shape), ", expected ",
                                                     ShapeString(e.shape)));
    }
  }
  for (const TensorView& t : file.tensors()) {
    if (!expected_names.contains(t.name)) return UnexpectedTensor(t.name);
  }

  ModelWeights w;
  w.config = config;
  w.type = options.type;
  GANDER_ASSIGN_OR_RETURN(w.fingerprint, Fingerprint(config, file.tensors()));

  auto storage = std::make_shared<WeightStorage>();
  Converter convert(options.type, file.mapping(), storage.get());
  auto at = [&](const std::string& name) -> const TensorView& { return *index.at(name); };
  GANDER_ASSIGN_OR_RETURN(w.emb, convert.Make(at("emb.weight"), false));
  w.ln0_weight = convert.Vector(at("blocks.0.ln0.weight"));
  w.ln0_bias = convert.Vector(at("blocks.0.ln0.bias"));
  w.layers.resize(config.layers);
  for (int l = 0; l < config.layers; ++l) {
    LayerWeights& lw = w.layers[l];
    const std::string p = absl::StrCat("blocks.", l, ".");
    auto vec = [&](absl::string_view suffix) {
      return convert.Vector(at(absl::StrCat(p, suffix)));
    };
    lw.ln1_weight = vec("ln1.weight");
    lw.ln1_bias = vec("ln1.bias");
    lw.ln2_weight = vec("ln2.weight");
    lw.ln2_bias = vec("ln2.bias");
    lw.x_r = vec("att.x_r");
    lw.x_w = vec("att.x_w");
    lw.x_k = vec("att.x_k");
    lw.x_v = vec("att.x_v");
    lw.x_a = vec("att.x_a");
    lw.x_g = vec("att.x_g");
    lw.w0 = vec("att.w0");
    lw.a0 = vec("att.a0");
    lw.k_k = vec("att.k_k");
    lw.k_a = vec("att.k_a");
    lw.r_k = vec("att.r_k");
    lw.ln_x_weight = vec("att.ln_x.weight");
    lw.ln_x_bias = vec("att.ln_x.bias");
    lw.ffn_x_k = vec("ffn.x_k");
    struct {
      Matrix* matrix;
      const char* suffix;
      bool lora;
    } matrices[] = {
        {&lw.w1, "att.w1", true},
        {&lw.w2, "att.w2", true},
        {&lw.a1, "att.a1", true},
        {&lw.a2, "att.a2", true},
        {&lw.g1, "att.g1", true},
        {&lw.g2, "att.g2", true},
        {&lw.receptance, "att.receptance.weight", false},
        {&lw.key, "att.key.weight", false},
        {&lw.value, "att.value.weight", false},
        {&lw.output, "att.output.weight", false},
        {&lw.ffn_key, "ffn.key.weight", false},
        {&lw.ffn_value, "ffn.value.weight", false},
        // Layer 0's value residual is unused: left absent (rows == 0).
        {l > 0 ? &lw.v1 : nullptr, "att.v1", true},
        {l > 0 ? &lw.v2 : nullptr, "att.v2", true},
    };
    for (const auto& m : matrices) {
      if (m.matrix == nullptr) continue;
      GANDER_ASSIGN_OR_RETURN(*m.matrix, convert.Make(at(absl::StrCat(p, m.suffix)), m.lora));
    }
    if (l > 0) lw.v0 = vec("att.v0");
  }
  w.ln_out_weight = convert.Vector(at("ln_out.weight"));
  w.ln_out_bias = convert.Vector(at("ln_out.bias"));
  GANDER_ASSIGN_OR_RETURN(w.head, convert.Make(at("head.weight"), false));
  w.storage = std::move(storage);
  return w;
}

}  // namespace

absl::StatusOr<ModelWeights> LoadModelWeights(const std::string& path, const LoadOptions& options) {
  GANDER_ASSIGN_OR_RETURN(TensorFile file, TensorFile::Open(path));
  absl::StatusOr<ModelWeights> weights = Load(file, options);
  if (!weights.ok() && !absl::StartsWith(weights.status().message(), path)) {
    return absl::Status(weights.status().code(),
                        absl::StrCat(path, ": ", weights.status().message()));
  }
  return weights;
}

}  // namespace gander::engine
