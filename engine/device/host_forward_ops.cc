#include "engine/device/host_forward_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/weights/bf16.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/wkv7.h"

namespace gander::engine::device {
namespace {

namespace cpu = ::gander::kernels::cpu;

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

absl::Status HostForwardOps::Embed(const DeviceMatrix& emb, DeviceType type, const int* tokens,
                                   int rows, float* x) {
  const int c = emb.cols;
  for (int r = 0; r < rows; ++r) {
    if (tokens[r] < 0 || tokens[r] >= emb.rows) {
      return absl::InvalidArgumentError(absl::StrCat("token ", tokens[r], " out of range"));
    }
    const size_t at = static_cast<size_t>(tokens[r]) * c;
    for (int i = 0; i < c; ++i) {
      float value = 0;
      switch (type) {
        case DeviceType::kF32:
          value = static_cast<const float*>(emb.data)[at + i];
          break;
        case DeviceType::kF16:
          value = HalfToFloat(static_cast<const uint16_t*>(emb.data)[at + i]);
          break;
        case DeviceType::kBF16:
          value = Bf16ToFloat(static_cast<const uint16_t*>(emb.data)[at + i]);
          break;
      }
      x[static_cast<size_t>(r) * c + i] = value;
    }
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::LayerNorm(const float* x, const int* src_rows, int rows, int c,
                                       const float* weight, const float* bias, float eps,
                                       float* y) {
  for (int r = 0; r < rows; ++r) {
    const int src = src_rows != nullptr ? src_rows[r] : r;
    cpu::LayerNorm(x + static_cast<size_t>(src) * c, c, weight, bias, eps,
                   y + static_cast<size_t>(r) * c);
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::TokenShiftMix(const float* xa, const int* prev_row,
                                           const int* row_slot, const float* slots,
                                           int64_t slot_stride, int64_t shift_offset, int rows,
                                           int c, int count, const float* const* mix,
                                           float* const* out) {
  for (int r = 0; r < rows; ++r) {
    const float* x = xa + static_cast<size_t>(r) * c;
    const float* prev = prev_row[r] >= 0 ? xa + static_cast<size_t>(prev_row[r]) * c
                                         : slots + row_slot[r] * slot_stride + shift_offset;
    for (int m = 0; m < count; ++m) {
      float* o = out[m] + static_cast<size_t>(r) * c;
      for (int i = 0; i < c; ++i) o[i] = x[i] + (prev[i] - x[i]) * mix[m][i];
    }
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::StoreShift(const float* xa, const int* seg_last_row,
                                        const int* seg_slot, int segments, int c, float* slots,
                                        int64_t slot_stride, int64_t shift_offset) {
  for (int s = 0; s < segments; ++s) {
    std::memcpy(slots + seg_slot[s] * slot_stride + shift_offset,
                xa + static_cast<size_t>(seg_last_row[s]) * c, c * sizeof(float));
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::Activate(Activation act, float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    switch (act) {
      case Activation::kTanh:
        x[i] = std::tanh(x[i]);
        break;
      case Activation::kSigmoid:
        x[i] = Sigmoid(x[i]);
        break;
      case Activation::kSquaredRelu: {
        const float h = std::max(x[i], 0.0f);
        x[i] = h * h;
        break;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::TimeMixPrep(const TimeMixPrepArgs& p) {
  constexpr float kDecayScale = 0.6065306597126334f;  // exp(-0.5)
  const int c = p.heads * p.n;
  for (int r = 0; r < p.rows; ++r) {
    const size_t o = static_cast<size_t>(r) * c;
    for (int i = 0; i < c; ++i) {
      p.w[o + i] = std::exp(-kDecayScale * Sigmoid(p.w0[i] + p.w[o + i]));
      p.a[o + i] = Sigmoid(p.a0[i] + p.a[o + i]);
      p.kk[o + i] = p.k[o + i] * p.k_k[i];
    }
    for (int h = 0; h < p.heads; ++h) {
      float sq = 0;
      for (int j = 0; j < p.n; ++j) sq += p.kk[o + h * p.n + j] * p.kk[o + h * p.n + j];
      const float inv = 1.0f / std::max(std::sqrt(sq), 1e-12f);
      for (int j = 0; j < p.n; ++j) p.kk[o + h * p.n + j] *= inv;
    }
    for (int i = 0; i < c; ++i) {
      p.k[o + i] = p.k[o + i] * (1.0f + (p.a[o + i] - 1.0f) * p.k_a[i]);
      if (p.first_layer) {
        p.v_first[o + i] = p.v[o + i];
      } else {
        p.v[o + i] += (p.v_first[o + i] - p.v[o + i]) * Sigmoid(p.v0[i] + p.v_residual[o + i]);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::Wkv7(int segments, const int* seg_start, const int* seg_len,
                                  const int* seg_slot, float* slots, int64_t slot_stride,
                                  int64_t wkv_offset, int heads, int n, const float* r,
                                  const float* w, const float* k, const float* v, const float* kk,
                                  const float* a, float* y) {
  const size_t width = static_cast<size_t>(heads) * n;
  for (int s = 0; s < segments; ++s) {
    float* state = slots + seg_slot[s] * slot_stride + wkv_offset;
    for (int t = seg_start[s]; t < seg_start[s] + seg_len[s]; ++t) {
      const size_t o = t * width;
      cpu::Wkv7Step(heads, n, state, r + o, w + o, k + o, v + o, kk + o, a + o, y + o);
    }
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::GroupNormBonusGate(float* y, const float* r, const float* k,
                                                const float* v, const float* g, const float* r_k,
                                                const float* ln_weight, const float* ln_bias,
                                                float eps, int rows, int heads, int n) {
  const int c = heads * n;
  for (int row = 0; row < rows; ++row) {
    const size_t o = static_cast<size_t>(row) * c;
    cpu::GroupNorm(y + o, heads, n, ln_weight, ln_bias, eps, y + o);
    for (int h = 0; h < heads; ++h) {
      float bonus = 0;
      for (int j = 0; j < n; ++j) bonus += r[o + h * n + j] * k[o + h * n + j] * r_k[h * n + j];
      for (int i = 0; i < n; ++i) y[o + h * n + i] += bonus * v[o + h * n + i];
    }
    for (int i = 0; i < c; ++i) y[o + i] *= g[o + i];
  }
  return absl::OkStatus();
}

absl::Status HostForwardOps::AddInPlace(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
  return absl::OkStatus();
}

absl::Status HostForwardOps::Project(const DeviceMatrix& m, const float* x, int t, float* y) {
  if (m.rows == 0 || m.data == nullptr) return absl::InternalError("projection with no matrix");
  cpu::MatMulF32(static_cast<const float*>(m.data), m.rows, m.cols, x, t, y, nullptr);
  return absl::OkStatus();
}

HostForwardExecutor::HostForwardExecutor(const ModelConfig& config, int slots, int max_rows)
    : config_(config),
      slots_(slots),
      max_rows_(max_rows),
      slot_memory_(config.StateFloats() * std::max(slots, 0), 0.0f) {}

absl::StatusOr<std::unique_ptr<HostForwardExecutor>> HostForwardExecutor::Create(
    const ModelWeights& weights, int slots, int max_rows) {
  if (weights.type != WeightType::kF32) {
    return absl::InvalidArgumentError("HostForwardExecutor needs fp32 weights");
  }
  if (slots < 1 || max_rows < 1) return absl::InvalidArgumentError("slots and max_rows >= 1");
  const ModelConfig& c = weights.config;
  std::unique_ptr<HostForwardExecutor> e(new HostForwardExecutor(c, slots, max_rows));
  // The weights stay where they are: the "device" is host memory.
  absl::StatusOr<DeviceWeights> placed = PlaceWeights(
      weights, DeviceType::kF32,
      [](const std::vector<float>& v) -> absl::StatusOr<const float*> { return v.data(); },
      [](const Matrix& m) -> absl::StatusOr<DeviceMatrix> {
        return DeviceMatrix{m.rows, m.cols, m.data};
      });
  if (!placed.ok()) return placed.status();
  e->weights_ = *std::move(placed);
  HostForwardExecutor* raw = e.get();
  absl::StatusOr<DeviceBuffers> buffers =
      AllocateBuffers(c, max_rows, [raw](size_t floats) -> absl::StatusOr<float*> {
        raw->activations_.emplace_back(floats);
        return raw->activations_.back().data();
      });
  if (!buffers.ok()) return buffers.status();
  e->buffers_ = *buffers;
  return e;
}

absl::Status HostForwardExecutor::Load(absl::Span<const SlotCopy> copies) {
  for (const SlotCopy& copy : copies) {
    std::memcpy(slot_memory_.data() + copy.slot * config_.StateFloats(), copy.host,
                config_.StateFloats() * sizeof(float));
  }
  return absl::OkStatus();
}

absl::Status HostForwardExecutor::Store(absl::Span<const SlotCopy> copies) {
  for (const SlotCopy& copy : copies) {
    std::memcpy(copy.host, slot_memory_.data() + copy.slot * config_.StateFloats(),
                config_.StateFloats() * sizeof(float));
  }
  return absl::OkStatus();
}

absl::Status HostForwardExecutor::Forward(const Pass& pass, absl::Span<float> logits) {
  DevicePassArrays arrays;
  arrays.tokens = pass.tokens.data();
  arrays.row_slot = pass.row_slot.data();
  arrays.prev_row = pass.prev_row.data();
  arrays.seg_start = pass.seg_start.data();
  arrays.seg_len = pass.seg_len.data();
  arrays.seg_slot = pass.seg_slot.data();
  arrays.seg_last_row = pass.seg_last_row.data();
  arrays.logit_row = pass.logit_row.data();
  const int logit_rows = static_cast<int>(pass.logit_row.size());
  if (absl::Status s =
          EnqueueForward(ops_, config_, weights_, buffers_, arrays, slot_memory_.data(),
                         pass.rows(), pass.segments(), logit_rows);
      !s.ok()) {
    return s;
  }
  const size_t vocab = config_.vocab;
  for (int k = 0; k < logit_rows; ++k) {
    std::memcpy(logits.data() + pass.logit_dest[k] * vocab, buffers_.logits + k * vocab,
                vocab * sizeof(float));
  }
  return absl::OkStatus();
}

}  // namespace gander::engine::device
