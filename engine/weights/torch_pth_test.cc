// A checkpoint written by real PyTorch (testdata/make_torch_pth.py): it must
// load, with every value equal to what the script recorded, whatever torch's
// key order, archive name, memo use and zip details.
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/weights/bf16.h"
#include "engine/weights/model_weights.h"
#include "engine/weights/tensor_file.h"
#include "engine/weights/tensor_writer.h"
#include "engine/weights/test_util.h"
#include "engine/weights/x070_layout.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

using weights_internal::DType;
using weights_internal::DTypeName;
using weights_internal::TensorFile;
using weights_internal::TensorView;
using weights_test::FileLayoutValues;
using weights_test::LoadedTensor;
using weights_test::LoadedTensors;

constexpr char kPth[] = "engine/weights/testdata/tiny_torch.pth";
constexpr char kExpected[] = "engine/weights/testdata/tiny_torch_expected.txt";

struct Expected {
  std::string dtype;
  std::vector<int64_t> shape;
  double sum = 0;
  double weighted_sum = 0;
};

// name -> what the script recorded, in the file's (torch's) order.
std::vector<std::pair<std::string, Expected>> ReadExpected() {
  std::ifstream in(kExpected);
  EXPECT_TRUE(in.good()) << kExpected;
  std::vector<std::pair<std::string, Expected>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    EXPECT_EQ(f.size(), 5u) << line;
    if (f.size() != 5) continue;
    Expected e;
    e.dtype = f[1];
    for (absl::string_view d : absl::StrSplit(f[2], ',')) {
      int64_t v = 0;
      EXPECT_TRUE(absl::SimpleAtoi(d, &v)) << line;
      e.shape.push_back(v);
    }
    EXPECT_TRUE(absl::SimpleAtod(f[3], &e.sum)) << line;
    EXPECT_TRUE(absl::SimpleAtod(f[4], &e.weighted_sum)) << line;
    out.emplace_back(f[0], e);
  }
  return out;
}

// The script's checks over values in file layout.
std::pair<double, double> Sums(const std::vector<float>& values) {
  double sum = 0, weighted = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    sum += values[i];
    weighted += values[i] * static_cast<double>(i % 13 + 1);
  }
  return {sum, weighted};
}

void ExpectSums(const std::string& name, const std::vector<float>& values, const Expected& e) {
  const auto [sum, weighted] = Sums(values);
  EXPECT_NEAR(sum, e.sum, 1e-9 * (1 + std::abs(e.sum))) << name;
  EXPECT_NEAR(weighted, e.weighted_sum, 1e-9 * (1 + std::abs(e.weighted_sum))) << name;
}

std::vector<float> ViewValues(const TensorView& t) {
  std::vector<float> out(t.NumElements());
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t h;
    switch (t.dtype) {
      case DType::kF32:
        std::memcpy(&out[i], t.data + 4 * i, 4);
        break;
      case DType::kBF16:
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = Bf16ToFloat(h);
        break;
      case DType::kF16:
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = HalfToFloat(h);
        break;
    }
  }
  return out;
}

TEST(TorchPthTest, EveryTensorMatchesTheScript) {
  const auto expected = ReadExpected();
  ASSERT_EQ(expected.size(), 39u);
  absl::StatusOr<TensorFile> file = TensorFile::Open(kPth);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->format(), TensorFile::Format::kPth);
  ASSERT_EQ(file->tensors().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const TensorView& t = file->tensors()[i];
    const auto& [name, e] = expected[i];
    ASSERT_EQ(t.name, name);  // torch's order, kept
    EXPECT_EQ(DTypeName(t.dtype), e.dtype) << name;
    EXPECT_EQ(t.shape, e.shape) << name;
    EXPECT_EQ(t.file_offset % 64, 0u) << name;  // torch aligns storages
    ExpectSums(name, ViewValues(t), e);
  }
  // The order differs from the project's writer's (RWKV-LM's) order.
  ModelConfig config;
  config.layers = 1;
  config.embd = 64;
  config.heads = 1;
  config.head_size = 64;
  config.ffn = 256;
  config.vocab = 64;
  config.lora_w = 16;
  config.lora_a = 8;
  config.lora_v = 4;
  config.lora_g = 24;
  const auto layout = weights_internal::X070Tensors(config, true);
  ASSERT_EQ(layout.size(), expected.size());
  bool same_order = true;
  for (size_t i = 0; i < layout.size(); ++i) same_order &= layout[i].name == expected[i].first;
  EXPECT_FALSE(same_order);
}

TEST(TorchPthTest, LoadsWithTheDerivedConfigAndValues) {
  const auto expected = ReadExpected();
  absl::flat_hash_map<std::string, Expected> by_name(expected.begin(), expected.end());
  LoadOptions f32;
  f32.type = WeightType::kF32;
  absl::StatusOr<ModelWeights> w = LoadModelWeights(kPth, f32);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->config.layers, 1);
  EXPECT_EQ(w->config.embd, 64);
  EXPECT_EQ(w->config.heads, 1);
  EXPECT_EQ(w->config.head_size, 64);
  EXPECT_EQ(w->config.ffn, 256);
  EXPECT_EQ(w->config.vocab, 64);
  EXPECT_EQ(w->config.lora_w, 16);
  EXPECT_EQ(w->config.lora_a, 8);
  EXPECT_EQ(w->config.lora_v, 4);
  EXPECT_EQ(w->config.lora_g, 24);
  int checked = 0;
  for (const LoadedTensor& t : LoadedTensors(*w)) {
    ASSERT_TRUE(by_name.contains(t.name)) << t.name;
    ExpectSums(t.name, FileLayoutValues(t), by_name[t.name]);
    ++checked;
  }
  EXPECT_EQ(checked, 36);  // all but layer 0's unused v0, v1, v2

  // A bf16 load holds the same values rounded (fp16/fp32 sources) or as is.
  LoadOptions bf16;
  bf16.type = WeightType::kBF16;
  absl::StatusOr<ModelWeights> b = LoadModelWeights(kPth, bf16);
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<LoadedTensor> tf = LoadedTensors(*w), tb = LoadedTensors(*b);
  for (size_t i = 0; i < tf.size(); ++i) {
    std::vector<float> want = FileLayoutValues(tf[i]);
    if (tf[i].matrix != nullptr) {
      for (float& v : want) v = Bf16ToFloat(FloatToBf16(v));
    }
    EXPECT_EQ(FileLayoutValues(tb[i]), want) << tf[i].name;
  }
  EXPECT_EQ(b->fingerprint, w->fingerprint);
  // Regression guard of the fingerprint definition on a real torch file.
  EXPECT_EQ(w->fingerprint, "6aa95d711887942ab66c4c5c4955767f");
}

TEST(TorchPthTest, SafetensorsCopyHasTheSameFingerprintAndWeights) {
  absl::StatusOr<TensorFile> file = TensorFile::Open(kPth);
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<weights_internal::TensorToWrite> headers;
  for (const TensorView& t : file->tensors()) headers.push_back({t.name, t.dtype, t.shape, {}});
  const std::string copy = weights_test::TempPath("copy.safetensors");
  ASSERT_TRUE(weights_internal::WriteSafetensors(copy, headers, [&](size_t i, std::string* bytes) {
                const TensorView& t = file->tensors()[i];
                bytes->assign(reinterpret_cast<const char*>(t.data), t.byte_size);
                return absl::OkStatus();
              }).ok());
  for (WeightType type : {WeightType::kBF16, WeightType::kF32}) {
    LoadOptions options;
    options.type = type;
    absl::StatusOr<ModelWeights> a = LoadModelWeights(kPth, options);
    absl::StatusOr<ModelWeights> b = LoadModelWeights(copy, options);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(a->fingerprint, b->fingerprint);
    EXPECT_EQ(a->config, b->config);
    const std::vector<LoadedTensor> ta = LoadedTensors(*a), tb = LoadedTensors(*b);
    for (size_t i = 0; i < ta.size(); ++i) {
      EXPECT_EQ(FileLayoutValues(ta[i]), FileLayoutValues(tb[i])) << ta[i].name;
    }
  }
}

}  // namespace
}  // namespace gander::engine
