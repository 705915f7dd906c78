#include "bench/cuda/random_weights.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/types/span.h"
#include "engine/model.h"
#include "engine/weights/bf16.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::bench {
namespace {

using engine::LayerWeights;
using engine::Matrix;
using engine::Model;
using engine::ModelConfig;
using engine::ModelWeights;
using engine::RandomModelConfig;
using engine::RandomModelSpec;
using engine::RecurrentState;
using engine::WeightType;

RandomModelSpec TinySpec() {
  RandomModelSpec spec;
  spec.layers = 2;
  spec.embd = 128;
  spec.vocab = 256;
  spec.seed = 11;
  return spec;
}

size_t ElementBytes(WeightType type) { return type == WeightType::kBF16 ? 2 : 4; }

// Every matrix of the weights, in a fixed order, with a name for messages.
std::vector<std::pair<std::string, const Matrix*>> Matrices(const ModelWeights& w) {
  std::vector<std::pair<std::string, const Matrix*>> out = {{"emb", &w.emb}, {"head", &w.head}};
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& lw = w.layers[l];
    const std::string p = "layer " + std::to_string(l) + " ";
    for (const auto& [name, m] :
         std::vector<std::pair<const char*, const Matrix*>>{{"w1", &lw.w1},
                                                            {"w2", &lw.w2},
                                                            {"a1", &lw.a1},
                                                            {"a2", &lw.a2},
                                                            {"v1", &lw.v1},
                                                            {"v2", &lw.v2},
                                                            {"g1", &lw.g1},
                                                            {"g2", &lw.g2},
                                                            {"receptance", &lw.receptance},
                                                            {"key", &lw.key},
                                                            {"value", &lw.value},
                                                            {"output", &lw.output},
                                                            {"ffn_key", &lw.ffn_key},
                                                            {"ffn_value", &lw.ffn_value}}) {
      out.push_back({p + name, m});
    }
  }
  return out;
}

// Every float vector of the weights, in a fixed order.
std::vector<const std::vector<float>*> Vectors(const ModelWeights& w) {
  std::vector<const std::vector<float>*> out = {&w.ln0_weight, &w.ln0_bias, &w.ln_out_weight,
                                                &w.ln_out_bias};
  for (const LayerWeights& lw : w.layers) {
    for (const std::vector<float>* v :
         {&lw.ln1_weight, &lw.ln1_bias, &lw.ln2_weight, &lw.ln2_bias, &lw.x_r, &lw.x_w, &lw.x_k,
          &lw.x_v, &lw.x_a, &lw.x_g, &lw.w0, &lw.a0, &lw.v0, &lw.k_k, &lw.k_a, &lw.r_k,
          &lw.ln_x_weight, &lw.ln_x_bias, &lw.ffn_x_k}) {
      out.push_back(v);
    }
  }
  return out;
}

bool SameBytes(const ModelWeights& a, const ModelWeights& b) {
  const auto ma = Matrices(a), mb = Matrices(b);
  for (size_t i = 0; i < ma.size(); ++i) {
    const Matrix& x = *ma[i].second;
    const Matrix& y = *mb[i].second;
    if (x.rows != y.rows || x.cols != y.cols || x.type != y.type) return false;
    const size_t bytes = static_cast<size_t>(x.rows) * x.cols * ElementBytes(x.type);
    if (bytes > 0 && std::memcmp(x.data, y.data, bytes) != 0) return false;
  }
  const auto va = Vectors(a), vb = Vectors(b);
  for (size_t i = 0; i < va.size(); ++i) {
    if (*va[i] != *vb[i]) return false;
  }
  return true;
}

float Element(const Matrix& m, size_t i) {
  return m.type == WeightType::kBF16 ? engine::Bf16ToFloat(static_cast<const uint16_t*>(m.data)[i])
                                     : static_cast<const float*>(m.data)[i];
}

TEST(MakeRandomWeightsTest, ShapedLikeTheLoader) {
  const RandomModelSpec spec = TinySpec();
  absl::StatusOr<ModelWeights> w = MakeRandomWeights(spec, WeightType::kBF16);
  ASSERT_TRUE(w.ok()) << w.status();
  absl::StatusOr<ModelConfig> config = RandomModelConfig(spec);
  ASSERT_TRUE(config.ok()) << config.status();
  const ModelConfig& c = *config;
  EXPECT_TRUE(w->config == c);
  EXPECT_EQ(w->type, WeightType::kBF16);
  EXPECT_TRUE(absl::StartsWith(w->fingerprint, "random-L2-C128-")) << w->fingerprint;
  EXPECT_NE(w->storage, nullptr);
  ASSERT_EQ(w->layers.size(), 2u);

  struct Expected {
    const Matrix* m;
    int rows, cols;
  };
  const LayerWeights& l0 = w->layers[0];
  const LayerWeights& l1 = w->layers[1];
  const int C = c.embd;
  std::vector<Expected> expected = {{&w->emb, c.vocab, C}, {&w->head, c.vocab, C}};
  for (const LayerWeights* lw : {&l0, &l1}) {
    expected.insert(expected.end(), {{&lw->w1, c.lora_w, C},
                                     {&lw->w2, C, c.lora_w},
                                     {&lw->a1, c.lora_a, C},
                                     {&lw->a2, C, c.lora_a},
                                     {&lw->g1, c.lora_g, C},
                                     {&lw->g2, C, c.lora_g},
                                     {&lw->receptance, C, C},
                                     {&lw->key, C, C},
                                     {&lw->value, C, C},
                                     {&lw->output, C, C},
                                     {&lw->ffn_key, c.ffn, C},
                                     {&lw->ffn_value, C, c.ffn}});
  }
  expected.insert(expected.end(), {{&l1.v1, c.lora_v, C}, {&l1.v2, C, c.lora_v}});
  for (const Expected& e : expected) {
    EXPECT_EQ(e.m->rows, e.rows);
    EXPECT_EQ(e.m->cols, e.cols);
    EXPECT_EQ(e.m->type, WeightType::kBF16);
    ASSERT_NE(e.m->data, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(e.m->data) % 64, 0u);
    // U(-1/sqrt(in), 1/sqrt(in)) except the embedding's U(-1, 1); bf16
    // rounding can reach the bound itself.
    const float bound = e.m == &w->emb ? 1.0f : 1.0f / std::sqrt(static_cast<float>(e.cols));
    float max_abs = 0;
    const size_t n = static_cast<size_t>(e.rows) * e.cols;
    for (size_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(Element(*e.m, i)));
    EXPECT_LE(max_abs, bound);
    EXPECT_GT(max_abs, 0.9f * bound);  // spread over the range, not all zero
  }
  // Layer 0 has no value residual LoRA, as loaded files leave it.
  EXPECT_EQ(l0.v1.rows, 0);
  EXPECT_EQ(l0.v2.rows, 0);
  EXPECT_TRUE(l0.v0.empty());
  EXPECT_EQ(l1.v0.size(), static_cast<size_t>(C));
  EXPECT_EQ(l0.r_k.size(), static_cast<size_t>(c.heads) * c.head_size);
  for (const std::vector<float>* v : std::initializer_list<const std::vector<float>*>{
           &l1.ln1_weight, &l1.x_r, &l1.w0, &l1.k_k, &l1.ffn_x_k, &w->ln0_weight,
           &w->ln_out_bias}) {
    EXPECT_EQ(v->size(), static_cast<size_t>(C));
  }
  for (float x : l1.x_k) {
    EXPECT_GE(x, 0.4f);
    EXPECT_LE(x, 0.6f);
  }
}

TEST(MakeRandomWeightsTest, ModelRunsOnThem) {
  for (WeightType type : {WeightType::kBF16, WeightType::kF32}) {
    absl::StatusOr<ModelWeights> w = MakeRandomWeights(TinySpec(), type);
    ASSERT_TRUE(w.ok()) << w.status();
    absl::StatusOr<std::unique_ptr<Model>> model = Model::Create(*w, /*threads=*/1);
    ASSERT_TRUE(model.ok()) << model.status();
    RecurrentState state = (*model)->NewState();
    std::vector<float> logits((*model)->config().vocab);
    for (int token : {3, 200, 17}) {
      ASSERT_TRUE((*model)->Step(token, &state, absl::MakeSpan(logits)).ok());
    }
    float spread = 0;
    for (float x : logits) {
      ASSERT_TRUE(std::isfinite(x));
      spread = std::max(spread, std::fabs(x - logits[0]));
    }
    EXPECT_GT(spread, 1e-3f);  // not a constant output
    for (float x : state.floats()) ASSERT_TRUE(std::isfinite(x));
  }
}

TEST(MakeRandomWeightsTest, DeterministicWhateverTheThreads) {
  RandomModelSpec spec = TinySpec();
  spec.vocab = 20000;  // emb and head span several chunks of parallel work
  absl::StatusOr<ModelWeights> a = MakeRandomWeights(spec, WeightType::kBF16, 1);
  absl::StatusOr<ModelWeights> b = MakeRandomWeights(spec, WeightType::kBF16, 3);
  absl::StatusOr<ModelWeights> c = MakeRandomWeights(spec, WeightType::kBF16);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_NE(a->emb.data, b->emb.data);  // separate buffers, equal bytes
  EXPECT_TRUE(SameBytes(*a, *b));
  EXPECT_TRUE(SameBytes(*a, *c));
  EXPECT_EQ(a->fingerprint, b->fingerprint);

  spec.seed += 1;
  absl::StatusOr<ModelWeights> other = MakeRandomWeights(spec, WeightType::kBF16, 2);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(SameBytes(*a, *other));
  EXPECT_NE(a->fingerprint, other->fingerprint);
}

TEST(MakeRandomWeightsTest, Fp32HoldsTheValuesBf16Rounds) {
  absl::StatusOr<ModelWeights> f32 = MakeRandomWeights(TinySpec(), WeightType::kF32);
  absl::StatusOr<ModelWeights> b16 = MakeRandomWeights(TinySpec(), WeightType::kBF16);
  ASSERT_TRUE(f32.ok() && b16.ok());
  EXPECT_NE(f32->fingerprint, b16->fingerprint);
  const auto mf = Matrices(*f32), mb = Matrices(*b16);
  ASSERT_EQ(mf.size(), mb.size());
  for (size_t k = 0; k < mf.size(); ++k) {
    const Matrix& f = *mf[k].second;
    const Matrix& b = *mb[k].second;
    const size_t n = static_cast<size_t>(f.rows) * f.cols;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(engine::FloatToBf16(Element(f, i)), static_cast<const uint16_t*>(b.data)[i])
          << mf[k].first << " element " << i;
    }
  }
}

TEST(MakeRandomWeightsTest, RejectsBadArguments) {
  RandomModelSpec spec = TinySpec();
  spec.embd = 100;  // not a multiple of the head size
  absl::StatusOr<ModelWeights> w = MakeRandomWeights(spec, WeightType::kBF16);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(w.status().message()), testing::HasSubstr("embd"));

  w = MakeRandomWeights(TinySpec(), WeightType::kBF16, -1);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(w.status().message()), testing::HasSubstr("threads"));
}

}  // namespace
}  // namespace gander::bench
