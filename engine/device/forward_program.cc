#include "engine/device/forward_program.h"

#include <algorithm>
#include <utility>

namespace gander::engine::device {
namespace {

constexpr float kLayerNormEps = 1e-5f;
constexpr float kGroupNormEps = 64e-5f;

}  // namespace

#define GANDER_PLACE(dst, expr)                 \
  do {                                          \
    auto placed_ = (expr);                      \
    if (!placed_.ok()) return placed_.status(); \
    dst = *placed_;                             \
  } while (false)

absl::StatusOr<DeviceWeights> PlaceWeights(const ModelWeights& weights, DeviceType type,
                                           const PlaceVector& place_vector,
                                           const PlaceMatrix& place_matrix) {
  DeviceWeights out;
  out.type = type;
  GANDER_PLACE(out.emb, place_matrix(weights.emb));
  GANDER_PLACE(out.head, place_matrix(weights.head));
  GANDER_PLACE(out.ln0_weight, place_vector(weights.ln0_weight));
  GANDER_PLACE(out.ln0_bias, place_vector(weights.ln0_bias));
  GANDER_PLACE(out.ln_out_weight, place_vector(weights.ln_out_weight));
  GANDER_PLACE(out.ln_out_bias, place_vector(weights.ln_out_bias));
  for (const LayerWeights& src : weights.layers) {
    DeviceLayer dst;
    const std::pair<const std::vector<float>*, const float**> vectors[] = {
        {&src.ln1_weight, &dst.ln1_weight},
        {&src.ln1_bias, &dst.ln1_bias},
        {&src.ln2_weight, &dst.ln2_weight},
        {&src.ln2_bias, &dst.ln2_bias},
        {&src.x_r, &dst.x_r},
        {&src.x_w, &dst.x_w},
        {&src.x_k, &dst.x_k},
        {&src.x_v, &dst.x_v},
        {&src.x_a, &dst.x_a},
        {&src.x_g, &dst.x_g},
        {&src.w0, &dst.w0},
        {&src.a0, &dst.a0},
        {&src.v0, &dst.v0},
        {&src.k_k, &dst.k_k},
        {&src.k_a, &dst.k_a},
        {&src.r_k, &dst.r_k},
        {&src.ln_x_weight, &dst.ln_x_weight},
        {&src.ln_x_bias, &dst.ln_x_bias},
        {&src.ffn_x_k, &dst.ffn_x_k},
    };
    for (const auto& [host, device] : vectors) GANDER_PLACE(*device, place_vector(*host));
    const std::pair<const Matrix*, DeviceMatrix*> matrices[] = {
        {&src.w1, &dst.w1},
        {&src.w2, &dst.w2},
        {&src.a1, &dst.a1},
        {&src.a2, &dst.a2},
        {&src.v1, &dst.v1},
        {&src.v2, &dst.v2},
        {&src.g1, &dst.g1},
        {&src.g2, &dst.g2},
        {&src.receptance, &dst.receptance},
        {&src.key, &dst.key},
        {&src.value, &dst.value},
        {&src.output, &dst.output},
        {&src.ffn_key, &dst.ffn_key},
        {&src.ffn_value, &dst.ffn_value},
    };
    for (const auto& [host, device] : matrices) GANDER_PLACE(*device, place_matrix(*host));
    out.layers.push_back(dst);
  }
  return out;
}

absl::StatusOr<DeviceBuffers> AllocateBuffers(const ModelConfig& c, int max_rows,
                                              const AllocFloats& alloc) {
  DeviceBuffers b;
  auto rows_of = [max_rows](int width) {
    return static_cast<size_t>(max_rows) * static_cast<size_t>(std::max(width, 1));
  };
  for (float** buf : {&b.x, &b.xa, &b.xr, &b.xw, &b.xk, &b.xv, &b.xa2, &b.xg, &b.r, &b.k, &b.v,
                      &b.w, &b.a, &b.g, &b.kk, &b.v_first, &b.y, &b.tmp, &b.head_in}) {
    GANDER_PLACE(*buf, alloc(rows_of(c.embd)));
  }
  GANDER_PLACE(b.lw, alloc(rows_of(c.lora_w)));
  GANDER_PLACE(b.la, alloc(rows_of(c.lora_a)));
  GANDER_PLACE(b.lv, alloc(rows_of(c.lora_v)));
  GANDER_PLACE(b.lg, alloc(rows_of(c.lora_g)));
  GANDER_PLACE(b.hidden, alloc(rows_of(c.ffn)));
  GANDER_PLACE(b.logits, alloc(rows_of(c.vocab)));
  return b;
}

#undef GANDER_PLACE

#define GANDER_FORWARD_STEP(expr)                                                             \
  do {                                                                                        \
    if (absl::Status forward_status_ = (expr); !forward_status_.ok()) return forward_status_; \
  } while (false)

absl::Status EnqueueForward(ForwardOps& ops, const ModelConfig& c, const DeviceWeights& wt,
                            const DeviceBuffers& b, const DevicePassArrays& p, float* slots,
                            int rows, int segments, int logit_rows) {
  using Act = ForwardOps::Activation;
  const int C = c.embd, H = c.heads, N = c.head_size, F = c.ffn;
  const int64_t stride = static_cast<int64_t>(c.StateFloats());
  const int64_t layer_floats = static_cast<int64_t>(c.LayerStateFloats());
  const int64_t rc = static_cast<int64_t>(rows) * C;

  GANDER_FORWARD_STEP(ops.Embed(wt.emb, wt.type, p.tokens, rows, b.x));
  GANDER_FORWARD_STEP(
      ops.LayerNorm(b.x, nullptr, rows, C, wt.ln0_weight, wt.ln0_bias, kLayerNormEps, b.x));

  for (int l = 0; l < c.layers; ++l) {
    const DeviceLayer& L = wt.layers[l];
    // The layer's part of each slot: att_shift [C], wkv [H][N][N], ffn_shift [C].
    const int64_t att_shift = l * layer_floats;
    const int64_t wkv = att_shift + C;
    const int64_t ffn_shift = wkv + static_cast<int64_t>(H) * N * N;

    // ---- Time mixing ----
    GANDER_FORWARD_STEP(
        ops.LayerNorm(b.x, nullptr, rows, C, L.ln1_weight, L.ln1_bias, kLayerNormEps, b.xa));
    const float* mixes[6] = {L.x_r, L.x_w, L.x_k, L.x_v, L.x_a, L.x_g};
    float* mixed[6] = {b.xr, b.xw, b.xk, b.xv, b.xa2, b.xg};
    GANDER_FORWARD_STEP(ops.TokenShiftMix(b.xa, p.prev_row, p.row_slot, slots, stride, att_shift,
                                          rows, C, 6, mixes, mixed));
    // After the mix has read the saved shifts.
    GANDER_FORWARD_STEP(
        ops.StoreShift(b.xa, p.seg_last_row, p.seg_slot, segments, C, slots, stride, att_shift));

    GANDER_FORWARD_STEP(ops.Project(L.receptance, b.xr, rows, b.r));
    GANDER_FORWARD_STEP(ops.Project(L.key, b.xk, rows, b.k));
    GANDER_FORWARD_STEP(ops.Project(L.value, b.xv, rows, b.v));
    // Decay LoRA: tanh(xw W1) W2.
    GANDER_FORWARD_STEP(ops.Project(L.w1, b.xw, rows, b.lw));
    GANDER_FORWARD_STEP(ops.Activate(Act::kTanh, b.lw, static_cast<int64_t>(rows) * c.lora_w));
    GANDER_FORWARD_STEP(ops.Project(L.w2, b.lw, rows, b.w));
    // In-context learning rate LoRA: (xa A1) A2.
    GANDER_FORWARD_STEP(ops.Project(L.a1, b.xa2, rows, b.la));
    GANDER_FORWARD_STEP(ops.Project(L.a2, b.la, rows, b.a));
    // Gate LoRA: sigmoid(xg G1) G2.
    GANDER_FORWARD_STEP(ops.Project(L.g1, b.xg, rows, b.lg));
    GANDER_FORWARD_STEP(ops.Activate(Act::kSigmoid, b.lg, static_cast<int64_t>(rows) * c.lora_g));
    GANDER_FORWARD_STEP(ops.Project(L.g2, b.lg, rows, b.g));
    // Value residual LoRA (not in layer 0): (xv V1) V2 into tmp.
    if (l > 0) {
      GANDER_FORWARD_STEP(ops.Project(L.v1, b.xv, rows, b.lv));
      GANDER_FORWARD_STEP(ops.Project(L.v2, b.lv, rows, b.tmp));
    }
    ForwardOps::TimeMixPrepArgs prep;
    prep.rows = rows;
    prep.heads = H;
    prep.n = N;
    prep.first_layer = l == 0;
    prep.w = b.w;
    prep.a = b.a;
    prep.k = b.k;
    prep.kk = b.kk;
    prep.v = b.v;
    prep.v_first = b.v_first;
    prep.v_residual = l > 0 ? b.tmp : nullptr;
    prep.w0 = L.w0;
    prep.a0 = L.a0;
    prep.k_k = L.k_k;
    prep.k_a = L.k_a;
    prep.v0 = l > 0 ? L.v0 : nullptr;
    GANDER_FORWARD_STEP(ops.TimeMixPrep(prep));
    GANDER_FORWARD_STEP(ops.Wkv7(segments, p.seg_start, p.seg_len, p.seg_slot, slots, stride, wkv,
                                 H, N, b.r, b.w, b.k, b.v, b.kk, b.a, b.y));
    GANDER_FORWARD_STEP(ops.GroupNormBonusGate(b.y, b.r, b.k, b.v, b.g, L.r_k, L.ln_x_weight,
                                               L.ln_x_bias, kGroupNormEps, rows, H, N));
    GANDER_FORWARD_STEP(ops.Project(L.output, b.y, rows, b.tmp));
    GANDER_FORWARD_STEP(ops.AddInPlace(b.tmp, b.x, rc));

    // ---- Channel mixing ----
    GANDER_FORWARD_STEP(
        ops.LayerNorm(b.x, nullptr, rows, C, L.ln2_weight, L.ln2_bias, kLayerNormEps, b.xa));
    const float* ffn_mix[1] = {L.ffn_x_k};
    float* ffn_mixed[1] = {b.xk};
    GANDER_FORWARD_STEP(ops.TokenShiftMix(b.xa, p.prev_row, p.row_slot, slots, stride, ffn_shift,
                                          rows, C, 1, ffn_mix, ffn_mixed));
    GANDER_FORWARD_STEP(
        ops.StoreShift(b.xa, p.seg_last_row, p.seg_slot, segments, C, slots, stride, ffn_shift));
    GANDER_FORWARD_STEP(ops.Project(L.ffn_key, b.xk, rows, b.hidden));
    GANDER_FORWARD_STEP(ops.Activate(Act::kSquaredRelu, b.hidden, static_cast<int64_t>(rows) * F));
    GANDER_FORWARD_STEP(ops.Project(L.ffn_value, b.hidden, rows, b.tmp));
    GANDER_FORWARD_STEP(ops.AddInPlace(b.tmp, b.x, rc));
  }

  // Head, for the rows whose logits are wanted.
  GANDER_FORWARD_STEP(ops.LayerNorm(b.x, p.logit_row, logit_rows, C, wt.ln_out_weight,
                                    wt.ln_out_bias, kLayerNormEps, b.head_in));
  GANDER_FORWARD_STEP(ops.Project(wt.head, b.head_in, logit_rows, b.logits));
  return absl::OkStatus();
}

#undef GANDER_FORWARD_STEP

}  // namespace gander::engine::device
