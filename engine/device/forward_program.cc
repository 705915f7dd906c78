#include "engine/device/forward_program.h"

namespace gander::engine::device {
namespace {

constexpr float kLayerNormEps = 1e-5f;
constexpr float kGroupNormEps = 64e-5f;

}  // namespace

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
