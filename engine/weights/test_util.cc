#include "engine/weights/test_util.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/weights/bf16.h"
#include "engine/weights/x070_layout.h"
#include "gtest/gtest.h"

namespace gander::engine::weights_test {

using weights_internal::DType;

std::string TempPath(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", counter++, "_", name);
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFileOrDie(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), bytes.size());
  EXPECT_TRUE(out.good()) << path;
}

std::vector<LoadedTensor> LoadedTensors(const ModelWeights& w) {
  std::vector<LoadedTensor> out;
  auto vec = [&](std::string name, const std::vector<float>& v) {
    out.push_back({std::move(name), &v, nullptr, false});
  };
  auto mat = [&](std::string name, const Matrix& m, bool lora) {
    out.push_back({std::move(name), nullptr, &m, lora});
  };
  mat("emb.weight", w.emb, false);
  vec("blocks.0.ln0.weight", w.ln0_weight);
  vec("blocks.0.ln0.bias", w.ln0_bias);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& lw = w.layers[l];
    const std::string p = absl::StrCat("blocks.", l, ".");
    vec(p + "ln1.weight", lw.ln1_weight);
    vec(p + "ln1.bias", lw.ln1_bias);
    vec(p + "ln2.weight", lw.ln2_weight);
    vec(p + "ln2.bias", lw.ln2_bias);
    vec(p + "att.x_r", lw.x_r);
    vec(p + "att.x_w", lw.x_w);
    vec(p + "att.x_k", lw.x_k);
    vec(p + "att.x_v", lw.x_v);
    vec(p + "att.x_a", lw.x_a);
    vec(p + "att.x_g", lw.x_g);
    vec(p + "att.w0", lw.w0);
    vec(p + "att.a0", lw.a0);
    vec(p + "att.k_k", lw.k_k);
    vec(p + "att.k_a", lw.k_a);
    vec(p + "att.r_k", lw.r_k);
    vec(p + "att.ln_x.weight", lw.ln_x_weight);
    vec(p + "att.ln_x.bias", lw.ln_x_bias);
    vec(p + "ffn.x_k", lw.ffn_x_k);
    mat(p + "att.w1", lw.w1, true);
    mat(p + "att.w2", lw.w2, true);
    mat(p + "att.a1", lw.a1, true);
    mat(p + "att.a2", lw.a2, true);
    mat(p + "att.g1", lw.g1, true);
    mat(p + "att.g2", lw.g2, true);
    if (l > 0) {
      vec(p + "att.v0", lw.v0);
      mat(p + "att.v1", lw.v1, true);
      mat(p + "att.v2", lw.v2, true);
    }
    mat(p + "att.receptance.weight", lw.receptance, false);
    mat(p + "att.key.weight", lw.key, false);
    mat(p + "att.value.weight", lw.value, false);
    mat(p + "att.output.weight", lw.output, false);
    mat(p + "ffn.key.weight", lw.ffn_key, false);
    mat(p + "ffn.value.weight", lw.ffn_value, false);
  }
  vec("ln_out.weight", w.ln_out_weight);
  vec("ln_out.bias", w.ln_out_bias);
  mat("head.weight", w.head, false);
  return out;
}

float MatrixAt(const Matrix& m, int r, int c) {
  const size_t i = static_cast<size_t>(r) * m.cols + c;
  if (m.type == WeightType::kBF16) return Bf16ToFloat(static_cast<const uint16_t*>(m.data)[i]);
  return static_cast<const float*>(m.data)[i];
}

std::vector<float> FileLayoutValues(const LoadedTensor& t) {
  if (t.vector != nullptr) return *t.vector;
  const Matrix& m = *t.matrix;
  std::vector<float> out;
  out.reserve(static_cast<size_t>(m.rows) * m.cols);
  if (!t.transposed) {
    for (int r = 0; r < m.rows; ++r) {
      for (int c = 0; c < m.cols; ++c) out.push_back(MatrixAt(m, r, c));
    }
  } else {
    // The file holds the transpose: [cols, rows].
    for (int c = 0; c < m.cols; ++c) {
      for (int r = 0; r < m.rows; ++r) out.push_back(MatrixAt(m, r, c));
    }
  }
  return out;
}

std::string EncodeValues(const std::vector<float>& values, DType dtype) {
  std::string bytes(values.size() * weights_internal::DTypeSize(dtype), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&bytes[4 * i], &values[i], 4);
    } else {
      const uint16_t h = dtype == DType::kBF16 ? FloatToBf16(values[i]) : FloatToHalf(values[i]);
      std::memcpy(&bytes[2 * i], &h, 2);
    }
  }
  return bytes;
}

std::vector<EditableTensor> RandomModelTensors(const RandomModelSpec& spec, DType dtype) {
  absl::StatusOr<ModelConfig> config = RandomModelConfig(spec);
  EXPECT_TRUE(config.ok()) << config.status();
  std::vector<EditableTensor> out;
  if (!config.ok()) return out;
  for (const auto& t : weights_internal::X070Tensors(*config, spec.layer0_value_lora)) {
    out.push_back({{t.name, dtype, t.shape, {}}, RandomTensorValues(spec, t.name)});
  }
  return out;
}

absl::Status WriteTensors(const std::string& path, const std::vector<EditableTensor>& tensors,
                          TensorFormat format, const weights_internal::PthWriteOptions& options) {
  std::vector<weights_internal::TensorToWrite> headers;
  for (const EditableTensor& t : tensors) headers.push_back(t.header);
  auto bytes = [&](size_t i, std::string* out) {
    *out = EncodeValues(tensors[i].values, tensors[i].header.dtype);
    return absl::OkStatus();
  };
  if (format == TensorFormat::kPth)
    return weights_internal::WritePth(path, headers, bytes, options);
  return weights_internal::WriteSafetensors(path, headers, bytes);
}

}  // namespace gander::engine::weights_test
