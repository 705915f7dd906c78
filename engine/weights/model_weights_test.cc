// Round trips: random models written in both formats and both file dtypes,
// loaded at both weight types, compared value by value with the generator.
#include "engine/weights/model_weights.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <tuple>

#include "engine/weights/bf16.h"
#include "engine/weights/random_model.h"
#include "engine/weights/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

using ::testing::HasSubstr;
using weights_internal::DType;
using weights_test::EditableTensor;
using weights_test::FileLayoutValues;
using weights_test::LoadedTensor;
using weights_test::LoadedTensors;
using weights_test::TempPath;

RandomModelSpec Spec(int layers, int embd, int vocab, uint64_t seed) {
  RandomModelSpec spec;
  spec.layers = layers;
  spec.embd = embd;
  spec.vocab = vocab;
  spec.seed = seed;
  return spec;
}

// Distinct LoRA ranks and a non-default F, so a swapped dimension shows.
RandomModelSpec DistinctSpec() {
  RandomModelSpec spec = Spec(3, 128, 96, 42);
  spec.lora_w = 24;
  spec.lora_a = 16;
  spec.lora_v = 8;
  spec.lora_g = 40;
  spec.ffn = 320;
  return spec;
}

std::string Write(const RandomModelSpec& spec, TensorFormat format, FileDtype dtype,
                  const std::string& name = "model") {
  const std::string path = TempPath(name);
  const absl::Status status = WriteRandomModel(spec, path, format, dtype);
  EXPECT_TRUE(status.ok()) << status;
  return path;
}

ModelWeights Load(const std::string& path, WeightType type) {
  LoadOptions options;
  options.type = type;
  absl::StatusOr<ModelWeights> weights = LoadModelWeights(path, options);
  EXPECT_TRUE(weights.ok()) << weights.status();
  return weights.ok() ? *std::move(weights) : ModelWeights();
}

float RoundBf16(float v) { return Bf16ToFloat(FloatToBf16(v)); }

// Byte-for-byte equality of two loaded models.
void ExpectSameWeights(const ModelWeights& a, const ModelWeights& b) {
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  const std::vector<LoadedTensor> ta = LoadedTensors(a), tb = LoadedTensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    ASSERT_EQ(ta[i].name, tb[i].name);
    if (ta[i].vector != nullptr) {
      EXPECT_EQ(*ta[i].vector, *tb[i].vector) << ta[i].name;
      continue;
    }
    const Matrix& ma = *ta[i].matrix;
    const Matrix& mb = *tb[i].matrix;
    ASSERT_EQ(ma.type, mb.type) << ta[i].name;
    ASSERT_EQ(ma.rows, mb.rows) << ta[i].name;
    ASSERT_EQ(ma.cols, mb.cols) << ta[i].name;
    const size_t bytes =
        static_cast<size_t>(ma.rows) * ma.cols * (ma.type == WeightType::kBF16 ? 2 : 4);
    EXPECT_EQ(std::memcmp(ma.data, mb.data, bytes), 0) << ta[i].name;
  }
}

using RoundTripParam = std::tuple<TensorFormat, FileDtype, WeightType>;

class RoundTripTest : public ::testing::TestWithParam<RoundTripParam> {};

TEST_P(RoundTripTest, ValuesAndConfigSurvive) {
  const auto [format, file_dtype, load_type] = GetParam();
  const RandomModelSpec spec = DistinctSpec();
  const ModelWeights w = Load(Write(spec, format, file_dtype), load_type);

  ModelConfig expected;
  expected.layers = 3;
  expected.embd = 128;
  expected.head_size = 64;
  expected.heads = 2;
  expected.ffn = 320;
  expected.vocab = 96;
  expected.lora_w = 24;
  expected.lora_a = 16;
  expected.lora_v = 8;
  expected.lora_g = 40;
  EXPECT_EQ(w.config, expected);
  EXPECT_EQ(w.type, load_type);
  EXPECT_EQ(w.fingerprint.size(), 32u);
  ASSERT_EQ(w.layers.size(), 3u);

  // Shapes in memory: (out, in), LoRAs transposed from the file.
  EXPECT_EQ(w.emb.rows, 96);
  EXPECT_EQ(w.emb.cols, 128);
  EXPECT_EQ(w.layers[1].w1.rows, 24);
  EXPECT_EQ(w.layers[1].w1.cols, 128);
  EXPECT_EQ(w.layers[1].w2.rows, 128);
  EXPECT_EQ(w.layers[1].w2.cols, 24);
  EXPECT_EQ(w.layers[2].v1.rows, 8);
  EXPECT_EQ(w.layers[2].g2.cols, 40);
  EXPECT_EQ(w.layers[0].ffn_key.rows, 320);
  EXPECT_EQ(w.layers[0].ffn_value.cols, 320);
  EXPECT_EQ(w.layers[0].r_k.size(), 128u);
  EXPECT_EQ(w.layers[0].x_r.size(), 128u);
  // Layer 0's value residual LoRA is not loaded.
  EXPECT_EQ(w.layers[0].v1.rows, 0);
  EXPECT_EQ(w.layers[0].v2.rows, 0);
  EXPECT_TRUE(w.layers[0].v0.empty());

  const size_t element = load_type == WeightType::kBF16 ? 2 : 4;
  int checked = 0;
  for (const LoadedTensor& t : LoadedTensors(w)) {
    std::vector<float> want = RandomTensorValues(spec, t.name);
    ASSERT_FALSE(want.empty()) << t.name;
    for (float& v : want) {
      // The file rounds to bf16; a bf16 load rounds matrices again (exactly
      // the same result); vectors are always float32.
      if (file_dtype == FileDtype::kBF16 ||
          (t.matrix != nullptr && load_type == WeightType::kBF16)) {
        v = RoundBf16(v);
      }
    }
    if (t.matrix != nullptr) {
      EXPECT_EQ(t.matrix->type, load_type) << t.name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.matrix->data) % element, 0u) << t.name;
    }
    ASSERT_EQ(FileLayoutValues(t), want) << t.name;
    ++checked;
  }
  EXPECT_EQ(checked,
            3 + 3 * 33 - 3 + 3);  // emb, ln0; 33 per layer but layer 0 v0/v1/v2; ln_out, head
}

INSTANTIATE_TEST_SUITE_P(
    AllCombinations, RoundTripTest,
    ::testing::Combine(::testing::Values(TensorFormat::kPth, TensorFormat::kSafetensors),
                       ::testing::Values(FileDtype::kBF16, FileDtype::kF32),
                       ::testing::Values(WeightType::kBF16, WeightType::kF32)));

TEST(ModelWeightsTest, PthAndSafetensorsLoadIdentically) {
  const RandomModelSpec spec = DistinctSpec();
  for (FileDtype dtype : {FileDtype::kBF16, FileDtype::kF32}) {
    for (WeightType type : {WeightType::kBF16, WeightType::kF32}) {
      const ModelWeights pth = Load(Write(spec, TensorFormat::kPth, dtype), type);
      const ModelWeights st = Load(Write(spec, TensorFormat::kSafetensors, dtype), type);
      ExpectSameWeights(pth, st);
    }
  }
}

TEST(ModelWeightsTest, FingerprintDependsOnTheFileNotTheLoad) {
  const RandomModelSpec spec = Spec(2, 64, 50, 7);
  const std::string bf16_pth = Write(spec, TensorFormat::kPth, FileDtype::kBF16);
  const std::string fp = Load(bf16_pth, WeightType::kBF16).fingerprint;
  EXPECT_THAT(fp, ::testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(Load(bf16_pth, WeightType::kF32).fingerprint, fp);
  EXPECT_EQ(
      Load(Write(spec, TensorFormat::kSafetensors, FileDtype::kBF16), WeightType::kF32).fingerprint,
      fp);
  // Other bytes, other fingerprint: the fp32 file, another seed.
  EXPECT_NE(Load(Write(spec, TensorFormat::kPth, FileDtype::kF32), WeightType::kBF16).fingerprint,
            fp);
  EXPECT_NE(Load(Write(Spec(2, 64, 50, 8), TensorFormat::kPth, FileDtype::kBF16), WeightType::kBF16)
                .fingerprint,
            fp);
  // (The definition itself is pinned by TorchPthTest on a checked-in file.)
}

TEST(ModelWeightsTest, FormatIsChosenByContent) {
  const RandomModelSpec spec = Spec(1, 64, 16, 3);
  const ModelWeights a =
      Load(Write(spec, TensorFormat::kSafetensors, FileDtype::kBF16, "x.pth"), WeightType::kBF16);
  const ModelWeights b =
      Load(Write(spec, TensorFormat::kPth, FileDtype::kBF16, "x.safetensors"), WeightType::kBF16);
  ExpectSameWeights(a, b);
}

TEST(ModelWeightsTest, Zip64AndOtherArchiveNamesLoadTheSame) {
  const RandomModelSpec spec = Spec(2, 64, 40, 9);
  const std::vector<EditableTensor> tensors = weights_test::RandomModelTensors(spec, DType::kBF16);
  weights_internal::PthWriteOptions options;
  options.archive_name = "rwkv-x070-final";
  options.force_zip64 = true;
  const std::string path = TempPath("zip64.pth");
  ASSERT_TRUE(weights_test::WriteTensors(path, tensors, TensorFormat::kPth, options).ok());
  ExpectSameWeights(Load(path, WeightType::kBF16),
                    Load(Write(spec, TensorFormat::kPth, FileDtype::kBF16), WeightType::kBF16));
}

TEST(ModelWeightsTest, HalfPrecisionAndMixedFilesConvert) {
  const RandomModelSpec spec = Spec(2, 64, 40, 11);
  std::vector<EditableTensor> tensors = weights_test::RandomModelTensors(spec, DType::kF16);
  // A mixed file: some tensors bf16 or fp32 instead.
  for (EditableTensor& t : tensors) {
    if (t.header.name == "head.weight" || t.header.name == "blocks.1.att.w0") {
      t.header.dtype = DType::kF32;
    }
    if (t.header.name == "blocks.1.att.key.weight") t.header.dtype = DType::kBF16;
  }
  for (TensorFormat format : {TensorFormat::kPth, TensorFormat::kSafetensors}) {
    const std::string path = TempPath("half");
    ASSERT_TRUE(weights_test::WriteTensors(path, tensors, format).ok());
    for (WeightType type : {WeightType::kF32, WeightType::kBF16}) {
      const ModelWeights w = Load(path, type);
      for (const LoadedTensor& t : LoadedTensors(w)) {
        const EditableTensor* source = nullptr;
        for (const EditableTensor& s : tensors) {
          if (s.header.name == t.name) source = &s;
        }
        ASSERT_NE(source, nullptr) << t.name;
        std::vector<float> want = source->values;
        for (float& v : want) {
          if (source->header.dtype == DType::kF16) v = HalfToFloat(FloatToHalf(v));
          if (source->header.dtype == DType::kBF16) v = RoundBf16(v);
          if (t.matrix != nullptr && type == WeightType::kBF16) v = RoundBf16(v);
        }
        ASSERT_EQ(FileLayoutValues(t), want) << t.name;
      }
    }
  }
}

TEST(ModelWeightsTest, UnalignedSafetensorsDataIsCopied) {
  // Shift the data by one byte (one header padding space less, or more): no
  // bf16 matrix can then be used in place.
  const RandomModelSpec spec = Spec(2, 64, 40, 13);
  const std::string path = Write(spec, TensorFormat::kSafetensors, FileDtype::kBF16);
  std::string file = weights_test::ReadFileOrDie(path);
  uint64_t header = 0;
  for (int i = 0; i < 8; ++i) header |= uint64_t{static_cast<uint8_t>(file[i])} << (8 * i);
  if (file[8 + header - 1] == ' ') {
    file.erase(8 + header - 1, 1);
    --header;
  } else {
    file.insert(8 + header, " ");
    ++header;
  }
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((header >> (8 * i)) & 0xff);
  const std::string shifted = TempPath("shifted.safetensors");
  weights_test::WriteFileOrDie(shifted, file);
  for (WeightType type : {WeightType::kBF16, WeightType::kF32}) {
    const ModelWeights w = Load(shifted, type);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w.emb.data) % 64, 0u);  // a copy, aligned
    ExpectSameWeights(w, Load(path, type));
  }
}

TEST(ModelWeightsTest, LayerZeroValueLoraIsOptional) {
  RandomModelSpec spec = Spec(2, 64, 32, 5);
  spec.layer0_value_lora = false;
  ModelWeights w =
      Load(Write(spec, TensorFormat::kSafetensors, FileDtype::kBF16), WeightType::kBF16);
  EXPECT_EQ(w.config.lora_v, 8);  // from layer 1
  EXPECT_EQ(w.layers[1].v1.rows, 8);
  // One layer and no value LoRA at all: rank 0.
  spec.layers = 1;
  w = Load(Write(spec, TensorFormat::kPth, FileDtype::kBF16), WeightType::kBF16);
  EXPECT_EQ(w.config.layers, 1);
  EXPECT_EQ(w.config.lora_v, 0);
  // With it, the one-layer rank comes from layer 0.
  spec.layer0_value_lora = true;
  w = Load(Write(spec, TensorFormat::kPth, FileDtype::kBF16), WeightType::kBF16);
  EXPECT_EQ(w.config.lora_v, 8);
  EXPECT_EQ(w.layers[0].v1.rows, 0);  // still not loaded: unused
}

// Files that keep layer 0's v0 but drop its v1 and v2 (as some exports do)
// load too; a partial set must still have the right shapes.
TEST(ModelWeightsTest, LayerZeroValueLoraMayBePartial) {
  const RandomModelSpec spec = Spec(2, 64, 32, 6);
  std::vector<weights_test::EditableTensor> tensors =
      weights_test::RandomModelTensors(spec, weights_internal::DType::kBF16);
  std::vector<weights_test::EditableTensor> kept;
  for (auto& t : tensors) {
    if (t.header.name != "blocks.0.att.v1" && t.header.name != "blocks.0.att.v2") {
      kept.push_back(std::move(t));
    }
  }
  const std::string path = TempPath("partial.safetensors");
  ASSERT_TRUE(weights_test::WriteTensors(path, kept, TensorFormat::kSafetensors).ok());
  ModelWeights w = Load(path, WeightType::kBF16);
  EXPECT_EQ(w.config.lora_v, 8);
  EXPECT_EQ(w.layers[1].v1.rows, 8);
}

TEST(ModelWeightsTest, OtherHeadSizes) {
  RandomModelSpec spec = Spec(1, 96, 20, 1);
  spec.head_size = 32;
  const ModelWeights w = Load(Write(spec, TensorFormat::kPth, FileDtype::kF32), WeightType::kF32);
  EXPECT_EQ(w.config.heads, 3);
  EXPECT_EQ(w.config.head_size, 32);
  EXPECT_EQ(w.config.StateFloats(), 2u * 96 + 3 * 32 * 32);
}

TEST(ModelWeightsTest, WeightsOutliveTheFileAndCopies) {
  const RandomModelSpec spec = Spec(1, 64, 30, 2);
  const std::string path = Write(spec, TensorFormat::kPth, FileDtype::kBF16);
  ModelWeights copy;
  {
    const ModelWeights w = Load(path, WeightType::kBF16);
    copy = w;
  }
  ASSERT_EQ(std::remove(path.c_str()), 0);
  std::vector<float> want = RandomTensorValues(spec, "head.weight");
  for (float& v : want) v = RoundBf16(v);
  for (const LoadedTensor& t : LoadedTensors(copy)) {
    if (t.name == "head.weight") {
      EXPECT_EQ(FileLayoutValues(t), want);
    }
  }
}

TEST(RandomModelTest, DerivesRanksLikeReleasedModels) {
  auto config = [](int embd) {
    absl::StatusOr<ModelConfig> c = RandomModelConfig(Spec(1, embd, 10, 0));
    EXPECT_TRUE(c.ok()) << c.status();
    return std::make_tuple(c->lora_w, c->lora_a, c->lora_v, c->lora_g, c->ffn, c->heads);
  };
  EXPECT_EQ(config(768), std::make_tuple(64, 64, 32, 128, 3072, 12));
  EXPECT_EQ(config(1024), std::make_tuple(64, 64, 32, 128, 4096, 16));
  EXPECT_EQ(config(2048), std::make_tuple(96, 96, 64, 256, 8192, 32));
  EXPECT_EQ(config(4096), std::make_tuple(128, 128, 96, 384, 16384, 64));
  EXPECT_EQ(config(64), std::make_tuple(16, 16, 8, 32, 256, 1));
  EXPECT_EQ(config(128), std::make_tuple(32, 32, 16, 64, 512, 2));
}

TEST(RandomModelTest, RefusesBadSpecs) {
  RandomModelSpec spec = Spec(1, 100, 10, 0);  // not a multiple of 64
  absl::Status status =
      WriteRandomModel(spec, TempPath("bad"), TensorFormat::kPth, FileDtype::kBF16);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("RandomModelSpec.embd = 100"));
  spec = Spec(0, 64, 10, 0);
  EXPECT_THAT(std::string(RandomModelConfig(spec).status().message()),
              HasSubstr("RandomModelSpec.layers = 0"));
  spec = Spec(1, 64, 10, 0);
  spec.lora_g = -1;
  EXPECT_THAT(std::string(RandomModelConfig(spec).status().message()),
              HasSubstr("RandomModelSpec.lora_g = -1"));
}

TEST(RandomModelTest, WriteErrorsLeaveNoFile) {
  const std::string path = TempPath("no/such/dir/model.pth");
  const absl::Status status =
      WriteRandomModel(Spec(1, 64, 10, 0), path, TensorFormat::kPth, FileDtype::kBF16);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("no/such/dir/model.pth"));
}

TEST(RandomModelTest, ValuesAreDeterministicAndRealistic) {
  const RandomModelSpec spec = Spec(2, 256, 64, 123);
  EXPECT_EQ(RandomTensorValues(spec, "blocks.1.att.w0"),
            RandomTensorValues(spec, "blocks.1.att.w0"));
  EXPECT_NE(RandomTensorValues(spec, "blocks.1.att.w0"),
            RandomTensorValues(Spec(2, 256, 64, 124), "blocks.1.att.w0"));
  EXPECT_NE(RandomTensorValues(spec, "blocks.0.att.w0"),
            RandomTensorValues(spec, "blocks.1.att.w0"));
  EXPECT_TRUE(RandomTensorValues(spec, "blocks.2.att.w0").empty());

  auto stats = [&](const std::string& name) {
    const std::vector<float> v = RandomTensorValues(spec, name);
    double sum = 0, sq = 0, lo = 1e30, hi = -1e30;
    for (float x : v) {
      sum += x;
      sq += double{x} * x;
      lo = std::min<double>(lo, x);
      hi = std::max<double>(hi, x);
    }
    const double mean = sum / v.size();
    return std::make_tuple(mean, std::sqrt(sq / v.size() - mean * mean), lo, hi);
  };
  auto [mean, sd, lo, hi] = stats("blocks.1.att.w0");
  EXPECT_GE(lo, -4.0);
  EXPECT_LE(hi, 3.0);
  EXPECT_LT(lo, -3.5);  // the decay spans slow and fast channels
  EXPECT_GT(hi, 2.5);
  std::tie(mean, sd, lo, hi) = stats("blocks.0.att.x_k");
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
  std::tie(mean, sd, lo, hi) = stats("blocks.0.att.k_k");
  EXPECT_GE(lo, 0.85);
  EXPECT_LE(hi, 1.0);
  std::tie(mean, sd, lo, hi) = stats("blocks.1.ln1.weight");
  EXPECT_NEAR(mean, 1.0, 0.03);
  EXPECT_NEAR(sd, 0.1, 0.03);
  std::tie(mean, sd, lo, hi) = stats("emb.weight");
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(sd, 1.0, 0.02);
  std::tie(mean, sd, lo, hi) = stats("blocks.0.ffn.value.weight");  // [C, 4C]: 1/sqrt(1024)
  EXPECT_NEAR(sd, 1.0 / 32, 0.002);
  std::tie(mean, sd, lo, hi) = stats("blocks.0.att.w1");  // [C, Dw]: 1/sqrt(C)
  EXPECT_NEAR(sd, 1.0 / 16, 0.003);
}

}  // namespace
}  // namespace gander::engine
