#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/weights/bf16.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/wkv7.h"

namespace gander::engine {
namespace {

namespace cpu = ::gander::kernels::cpu;

constexpr float kLayerNormEps = 1e-5f;
constexpr float kGroupNormEps = 64e-5f;
constexpr float kDecayScale = 0.6065306597126334f;  // exp(-0.5)

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

// Activations of one Forward call, [rows, width] row-major each.
struct Model::Scratch {
  int rows = 0;
  std::vector<float> x, xa, xr, xw, xk, xv, xa2, xg;         // [rows, C]
  std::vector<float> r, k, v, w, a, g, kk, v_first, y, tmp;  // [rows, C]
  std::vector<float> lw, la, lv, lg;                         // [rows, D*]
  std::vector<float> hidden;                                 // [rows, F]
  std::vector<float> head_in;                                // [rows, C]

  void Resize(int n, const ModelConfig& c) {
    if (n <= rows) return;
    rows = n;
    const size_t rc = static_cast<size_t>(n) * c.embd;
    for (auto* buf : {&x, &xa, &xr, &xw, &xk, &xv, &xa2, &xg, &r, &k, &v, &w, &a, &g, &kk, &v_first,
                      &y, &tmp, &head_in}) {
      buf->resize(rc);
    }
    lw.resize(static_cast<size_t>(n) * c.lora_w);
    la.resize(static_cast<size_t>(n) * c.lora_a);
    lv.resize(static_cast<size_t>(n) * std::max(c.lora_v, 1));
    lg.resize(static_cast<size_t>(n) * c.lora_g);
    hidden.resize(static_cast<size_t>(n) * c.ffn);
  }
};

absl::StatusOr<std::unique_ptr<Model>> Model::Create(ModelWeights weights, int threads) {
  if (weights.layers.empty() || weights.config.layers != static_cast<int>(weights.layers.size())) {
    return absl::InvalidArgumentError("model weights have no layers or a layer count mismatch");
  }
  return std::unique_ptr<Model>(new Model(std::move(weights), threads));
}

absl::StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path,
                                                   const LoadOptions& options, int threads) {
  absl::StatusOr<ModelWeights> weights = LoadModelWeights(path, options);
  if (!weights.ok()) return weights.status();
  return Create(*std::move(weights), threads);
}

Model::Model(ModelWeights weights, int threads)
    : weights_(std::move(weights)),
      pool_(std::make_unique<cpu::ThreadPool>(threads)),
      scratch_(std::make_unique<Scratch>()) {}

Model::~Model() = default;

absl::Status Model::Step(int token, RecurrentState* state, absl::Span<float> logits) {
  const int tokens[1] = {token};
  return Prefill(tokens, state, logits, /*all_logits=*/false);
}

absl::Status Model::Prefill(absl::Span<const int> tokens, RecurrentState* state,
                            absl::Span<float> logits, bool all_logits) {
  if (tokens.empty()) return absl::InvalidArgumentError("no tokens to run");
  for (int token : tokens) {
    if (absl::Status s = CheckTokenId(config(), token); !s.ok()) return s;
  }
  if (absl::Status s = CheckStateShape(config(), state); !s.ok()) return s;
  const size_t want = (all_logits ? tokens.size() : 1) * static_cast<size_t>(config().vocab);
  if (logits.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits has ", logits.size(), " floats; expected ", want));
  }
  std::vector<RecurrentState*> states(tokens.size(), state);
  std::vector<bool> want_logits(tokens.size(), all_logits);
  want_logits.back() = true;
  Forward(tokens, states, want_logits, logits.data());
  return absl::OkStatus();
}

absl::Status Model::DecodeBatch(absl::Span<const int> tokens,
                                absl::Span<RecurrentState* const> states,
                                absl::Span<float> logits) {
  if (tokens.empty()) return absl::InvalidArgumentError("no tokens to run");
  if (states.size() != tokens.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("got ", tokens.size(), " tokens but ", states.size(), " states"));
  }
  absl::flat_hash_set<const RecurrentState*> seen;
  for (size_t b = 0; b < tokens.size(); ++b) {
    if (absl::Status s = CheckTokenId(config(), tokens[b]); !s.ok()) return s;
    if (absl::Status s = CheckStateShape(config(), states[b]); !s.ok()) return s;
    if (!seen.insert(states[b]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("stream ", b, " shares its state with an earlier stream of the batch"));
    }
  }
  const size_t want = tokens.size() * static_cast<size_t>(config().vocab);
  if (logits.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits has ", logits.size(), " floats; expected ", want));
  }
  Forward(tokens, states, std::vector<bool>(tokens.size(), true), logits.data());
  return absl::OkStatus();
}

absl::Status Model::Run(absl::Span<const Segment> segments, absl::Span<float> logits) {
  if (absl::Status s = CheckRunArguments(config(), segments, logits); !s.ok()) return s;
  size_t rows = 0;
  for (const Segment& segment : segments) rows += segment.tokens.size();
  std::vector<int> tokens;
  std::vector<RecurrentState*> states;
  std::vector<bool> want_logits;
  tokens.reserve(rows);
  states.reserve(rows);
  want_logits.reserve(rows);
  for (const Segment& segment : segments) {
    for (size_t t = 0; t < segment.tokens.size(); ++t) {
      tokens.push_back(segment.tokens[t]);
      states.push_back(segment.state);
      want_logits.push_back(t + 1 == segment.tokens.size());
    }
  }
  Forward(tokens, states, want_logits, logits.data());
  return absl::OkStatus();
}

void Model::Forward(absl::Span<const int> tokens, absl::Span<RecurrentState* const> states,
                    const std::vector<bool>& want_logits, float* logits) {
  const ModelConfig& c = config();
  const int rows = static_cast<int>(tokens.size());
  const int C = c.embd, H = c.heads, N = c.head_size, F = c.ffn;
  Scratch& s = *scratch_;
  s.Resize(rows, c);
  cpu::ThreadPool* pool = pool_.get();

  auto row = [C](std::vector<float>& buf, int r) {
    return buf.data() + static_cast<size_t>(r) * C;
  };
  // y[rows, m.rows] = x[rows, m.cols] · m^T
  auto project = [&](const Matrix& m, const float* x, float* y) {
    if (m.type == WeightType::kBF16) {
      cpu::MatMulBF16(static_cast<const uint16_t*>(m.data), m.rows, m.cols, x, rows, y, pool);
    } else {
      cpu::MatMulF32(static_cast<const float*>(m.data), m.rows, m.cols, x, rows, y, pool);
    }
  };
  // A row starts a stream's segment when its state differs from the row
  // before; it ends one when the next row's state differs.
  std::vector<bool> first(rows), last(rows);
  for (int r = 0; r < rows; ++r) {
    first[r] = r == 0 || states[r] != states[r - 1];
    last[r] = r == rows - 1 || states[r] != states[r + 1];
  }

  // Embedding, then ln0.
  for (int r = 0; r < rows; ++r) {
    float* x = row(s.x, r);
    const size_t offset = static_cast<size_t>(tokens[r]) * C;
    if (weights_.emb.type == WeightType::kBF16) {
      const uint16_t* e = static_cast<const uint16_t*>(weights_.emb.data) + offset;
      for (int i = 0; i < C; ++i) x[i] = Bf16ToFloat(e[i]);
    } else {
      std::memcpy(x, static_cast<const float*>(weights_.emb.data) + offset, C * sizeof(float));
    }
    cpu::LayerNorm(x, C, weights_.ln0_weight.data(), weights_.ln0_bias.data(), kLayerNormEps, x);
  }

  for (int l = 0; l < c.layers; ++l) {
    const LayerWeights& L = weights_.layers[l];

    // ---- Time mixing ----
    for (int r = 0; r < rows; ++r) {
      cpu::LayerNorm(row(s.x, r), C, L.ln1_weight.data(), L.ln1_bias.data(), kLayerNormEps,
                     row(s.xa, r));
    }
    for (int r = 0; r < rows; ++r) {
      const float* xa = row(s.xa, r);
      const float* prev = first[r] ? states[r]->att_shift(l) : row(s.xa, r - 1);
      float *xr = row(s.xr, r), *xw = row(s.xw, r), *xk = row(s.xk, r);
      float *xv = row(s.xv, r), *xa2 = row(s.xa2, r), *xg = row(s.xg, r);
      for (int i = 0; i < C; ++i) {
        const float d = prev[i] - xa[i];
        xr[i] = xa[i] + d * L.x_r[i];
        xw[i] = xa[i] + d * L.x_w[i];
        xk[i] = xa[i] + d * L.x_k[i];
        xv[i] = xa[i] + d * L.x_v[i];
        xa2[i] = xa[i] + d * L.x_a[i];
        xg[i] = xa[i] + d * L.x_g[i];
      }
    }
    for (int r = 0; r < rows; ++r) {
      if (last[r]) std::memcpy(states[r]->att_shift(l), row(s.xa, r), C * sizeof(float));
    }

    project(L.receptance, s.xr.data(), s.r.data());
    project(L.key, s.xk.data(), s.k.data());
    project(L.value, s.xv.data(), s.v.data());

    // Decay w = exp(-e^-0.5 * sigmoid(w0 + tanh(xw W1) W2)).
    project(L.w1, s.xw.data(), s.lw.data());
    for (size_t i = 0; i < static_cast<size_t>(rows) * c.lora_w; ++i) s.lw[i] = std::tanh(s.lw[i]);
    project(L.w2, s.lw.data(), s.w.data());
    // In-context learning rate a = sigmoid(a0 + (xa A1) A2).
    project(L.a1, s.xa2.data(), s.la.data());
    project(L.a2, s.la.data(), s.a.data());
    // Output gate g = sigmoid(xg G1) G2.
    project(L.g1, s.xg.data(), s.lg.data());
    for (size_t i = 0; i < static_cast<size_t>(rows) * c.lora_g; ++i) s.lg[i] = Sigmoid(s.lg[i]);
    project(L.g2, s.lg.data(), s.g.data());
    if (l > 0) {
      project(L.v1, s.xv.data(), s.lv.data());
      project(L.v2, s.lv.data(), s.tmp.data());
    }

    for (int r = 0; r < rows; ++r) {
      float *w = row(s.w, r), *a = row(s.a, r), *k = row(s.k, r), *kk = row(s.kk, r);
      float *v = row(s.v, r), *vf = row(s.v_first, r);
      for (int i = 0; i < C; ++i) {
        w[i] = std::exp(-kDecayScale * Sigmoid(L.w0[i] + w[i]));
        a[i] = Sigmoid(L.a0[i] + a[i]);
        kk[i] = k[i] * L.k_k[i];
      }
      for (int h = 0; h < H; ++h) {
        float sq = 0;
        for (int j = 0; j < N; ++j) sq += kk[h * N + j] * kk[h * N + j];
        const float inv = 1.0f / std::max(std::sqrt(sq), 1e-12f);
        for (int j = 0; j < N; ++j) kk[h * N + j] *= inv;
      }
      for (int i = 0; i < C; ++i) k[i] = k[i] * (1.0f + (a[i] - 1.0f) * L.k_a[i]);
      if (l == 0) {
        std::memcpy(vf, v, C * sizeof(float));
      } else {
        const float* vr = row(s.tmp, r);
        for (int i = 0; i < C; ++i) v[i] = v[i] + (vf[i] - v[i]) * Sigmoid(L.v0[i] + vr[i]);
      }
    }

    // The recurrence: heads are independent, so threads split the heads and
    // each walks every row in order (a stream's tokens stay sequential).
    pool->ParallelFor(H, 1, [&](int64_t h0, int64_t h1) {
      const int hn = static_cast<int>(h1 - h0);
      const size_t off = static_cast<size_t>(h0) * N;
      for (int r = 0; r < rows; ++r) {
        cpu::Wkv7Step(hn, N, states[r]->wkv(l) + off * N, row(s.r, r) + off, row(s.w, r) + off,
                      row(s.k, r) + off, row(s.v, r) + off, row(s.kk, r) + off, row(s.a, r) + off,
                      row(s.y, r) + off);
      }
    });

    for (int r = 0; r < rows; ++r) {
      float *y = row(s.y, r), *rr = row(s.r, r), *k = row(s.k, r), *v = row(s.v, r);
      const float* g = row(s.g, r);
      cpu::GroupNorm(y, H, N, L.ln_x_weight.data(), L.ln_x_bias.data(), kGroupNormEps, y);
      for (int h = 0; h < H; ++h) {
        float bonus = 0;
        for (int j = 0; j < N; ++j) bonus += rr[h * N + j] * k[h * N + j] * L.r_k[h * N + j];
        for (int i = 0; i < N; ++i) y[h * N + i] += bonus * v[h * N + i];
      }
      for (int i = 0; i < C; ++i) y[i] *= g[i];
    }
    project(L.output, s.y.data(), s.tmp.data());
    for (size_t i = 0; i < static_cast<size_t>(rows) * C; ++i) s.x[i] += s.tmp[i];

    // ---- Channel mixing ----
    for (int r = 0; r < rows; ++r) {
      cpu::LayerNorm(row(s.x, r), C, L.ln2_weight.data(), L.ln2_bias.data(), kLayerNormEps,
                     row(s.xa, r));
    }
    for (int r = 0; r < rows; ++r) {
      const float* xf = row(s.xa, r);
      const float* prev = first[r] ? states[r]->ffn_shift(l) : row(s.xa, r - 1);
      float* xk = row(s.xk, r);
      for (int i = 0; i < C; ++i) xk[i] = xf[i] + (prev[i] - xf[i]) * L.ffn_x_k[i];
    }
    for (int r = 0; r < rows; ++r) {
      if (last[r]) std::memcpy(states[r]->ffn_shift(l), row(s.xa, r), C * sizeof(float));
    }
    project(L.ffn_key, s.xk.data(), s.hidden.data());
    for (size_t i = 0; i < static_cast<size_t>(rows) * F; ++i) {
      const float h = std::max(s.hidden[i], 0.0f);
      s.hidden[i] = h * h;
    }
    project(L.ffn_value, s.hidden.data(), s.tmp.data());
    for (size_t i = 0; i < static_cast<size_t>(rows) * C; ++i) s.x[i] += s.tmp[i];
  }

  // Head, only for the rows whose logits are wanted.
  int out_rows = 0;
  for (int r = 0; r < rows; ++r) {
    if (!want_logits[r]) continue;
    cpu::LayerNorm(row(s.x, r), C, weights_.ln_out_weight.data(), weights_.ln_out_bias.data(),
                   kLayerNormEps, row(s.head_in, out_rows));
    ++out_rows;
  }
  const Matrix& head = weights_.head;
  if (head.type == WeightType::kBF16) {
    cpu::MatMulBF16(static_cast<const uint16_t*>(head.data), head.rows, head.cols, s.head_in.data(),
                    out_rows, logits, pool);
  } else {
    cpu::MatMulF32(static_cast<const float*>(head.data), head.rows, head.cols, s.head_in.data(),
                   out_rows, logits, pool);
  }
}

}  // namespace gander::engine
