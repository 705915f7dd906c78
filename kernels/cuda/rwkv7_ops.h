// Fused element-wise CUDA kernels of the RWKV-7 forward pass: everything in
// engine/model.cc's Model::Forward that is not a matrix product or the wkv
// recurrence (embedding, layer norm, token shift, activations, the time-mix
// preparation, group norm with the bonus and gate, float -> 16-bit
// conversion). The residual add is AddScaled in elementwise.h.
//
// Framework-free: device pointers, shapes and a stream in, a cudaError_t
// out. Activations are float32, row-major [rows, width], one row per token.
// Launches are asynchronous on `stream`; an error of the launch itself is
// returned, errors during execution surface at the next synchronising call.
// Arguments are checked before any launch: a negative size, an unknown enum
// value or a null pointer where data is needed returns
// cudaErrorInvalidValue and launches nothing; a size of 0 launches nothing
// and returns cudaSuccess. Index arrays (tokens, rows, slots) are int32
// device arrays the caller has validated; the kernels trust them (only
// Embed guards against a bad token). Nothing here allocates or
// synchronises. Every function is reentrant; calls on different streams
// may run concurrently as long as their outputs do not overlap.
//
// State slots: all streams' recurrent states live in one device array
// `slots`; slot s starts at slots + s * slot_stride (floats), and a kernel
// receives the offset (floats, from a slot's start) of the part it reads or
// writes for the current layer, e.g. layer l's att_shift at
// l * (2C + H*N*N) and its ffn_shift at l * (2C + H*N*N) + C + H*N*N.
//
// Example (the start of a layer's time mixing for a batch):
//   namespace k = gander::kernels::cuda;
//   k::LayerNorm(d_x, nullptr, rows, C, d_ln1_w, d_ln1_b, 1e-5f, d_xa, stream);
//   k::MixArgs mix;
//   mix.count = 6;
//   mix.mix[0] = d_x_r; mix.out[0] = d_xr;  ...
//   k::TokenShiftMix(d_xa, d_prev_row, d_row_slot, d_slots, slot_stride, att_offset, rows, C,
//                    mix, stream);
//   k::StoreShift(d_xa, d_seg_last_row, d_seg_slot, segments, C, d_slots, slot_stride,
//                 att_offset, stream);
#ifndef GANDER_KERNELS_CUDA_RWKV7_OPS_H_
#define GANDER_KERNELS_CUDA_RWKV7_OPS_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace gander::kernels::cuda {

// Element type of a weight matrix or a GEMM input.
enum class DataType { kF32, kF16, kBF16 };

// x[r] = float(emb[tokens[r]]) for r in [0, rows).
// emb [vocab, c] of `type` (kF32 floats, kF16 / kBF16 uint16_t bits);
// tokens [rows] int32; x [rows, c]. A token outside [0, vocab) gives a row of
// zeros (the host validates tokens first; this is only memory safety).
// vocab must be >= 1 when rows > 0 and c > 0.
cudaError_t Embed(const void* emb, DataType type, int vocab, int c, const int* tokens, int rows,
                  float* x, cudaStream_t stream);

// y[i] = LayerNorm(x[src_rows ? src_rows[i] : i]) * weight + bias for i in
// [0, rows), with the biased variance and eps inside the square root, as
// kernels/cpu LayerNorm (moments accumulated in double).
// x [*, c] (src_rows null: [rows, c]); src_rows [rows] int32 or null (each
// entry a valid row of x: selects e.g. the rows whose logits are wanted);
// weight, bias [c]; y [rows, c]. y may equal x only when src_rows is null
// (y == x with src_rows set is rejected); otherwise they must not overlap.
cudaError_t LayerNorm(const float* x, const int* src_rows, int rows, int c, const float* weight,
                      const float* bias, float eps, float* y, cudaStream_t stream);

// Up to six token-shift mixes of the same input, computed in one pass.
struct MixArgs {
  int count = 0;             // number of mixes, 1..6
  const float* mix[6] = {};  // mix[m] [c]: the layer's x_r, x_w, ... vector
  float* out[6] = {};        // out[m] [rows, c]
};

// Token shift. For row r: prev = prev_row[r] >= 0 ? xa + prev_row[r] * c
// (normally r - 1, the same stream's previous token) : slots +
// row_slot[r] * slot_stride + shift_offset (that stream's saved shift, [c]);
// then out[m][r][i] = xa[r][i] + (prev[i] - xa[r][i]) * mix[m][i] for m in
// [0, mixes.count).
// xa [rows, c]; prev_row, row_slot [rows] int32 (row_slot read only where
// prev_row < 0); slots as described in the file comment. The outputs must
// not overlap xa, the slots or each other. slot_stride, shift_offset >= 0.
cudaError_t TokenShiftMix(const float* xa, const int* prev_row, const int* row_slot,
                          const float* slots, int64_t slot_stride, int64_t shift_offset, int rows,
                          int c, MixArgs mixes, cudaStream_t stream);

// Saves each segment's last shift input: slots + seg_slot[s] * slot_stride +
// shift_offset [c] <- xa[seg_last_row[s]] for s in [0, segments).
// xa [rows, c]; seg_last_row, seg_slot [segments] int32 (distinct slots).
// Run it after TokenShiftMix of the same layer part has read the slots.
cudaError_t StoreShift(const float* xa, const int* seg_last_row, const int* seg_slot, int segments,
                       int c, float* slots, int64_t slot_stride, int64_t shift_offset,
                       cudaStream_t stream);

enum class Activation {
  kTanh,         // tanh(x)
  kSigmoid,      // 1 / (1 + e^-x)
  kSquaredRelu,  // max(x, 0)^2
};

// x[i] = act(x[i]) for i in [0, n), in place. x [n].
cudaError_t Activate(Activation act, float* x, int64_t n, cudaStream_t stream);

// Arguments of TimeMixPrep. C = heads * n. The per-row buffers are distinct
// and do not overlap.
struct TimeMixPrepArgs {
  int rows = 0, heads = 0, n = 0;  // n = head size
  bool first_layer = false;        // layer 0: v_first = v instead of the residual
  // [rows, C]. In: w, a = the LoRA outputs, k, v = the projections,
  // v_first = layer 0's v (later layers). Out: w = decay, a = learning
  // rate, k = adjusted key, kk = normalised removal key, v (later layers),
  // v_first (layer 0).
  float* w = nullptr;
  float* a = nullptr;
  float* k = nullptr;
  float* kk = nullptr;
  float* v = nullptr;
  float* v_first = nullptr;
  const float* v_residual = nullptr;  // [rows, C]; unused (may be null) in the first layer
  // [C] layer parameters; v0 unused (may be null) in the first layer.
  const float* w0 = nullptr;
  const float* a0 = nullptr;
  const float* k_k = nullptr;
  const float* k_a = nullptr;
  const float* v0 = nullptr;
};

// Per row, exactly engine/model.cc's loop after the LoRA projections:
//   w = exp(-0.6065306597126334 * sigmoid(w0 + w)); a = sigmoid(a0 + a);
//   kk = k * k_k, then kk /= max(||kk|| over each head's n values, 1e-12);
//   k = k * (1 + (a - 1) * k_a);
//   first layer: v_first = v; else v = v + (v_first - v) * sigmoid(v0 + v_residual).
// Any head size n >= 1 works (one warp per head).
cudaError_t TimeMixPrep(const TimeMixPrepArgs& args, cudaStream_t stream);

// Per row and head h (n values each, C = heads * n):
//   y_h = GroupNorm(y_h, eps) * ln_weight_h + ln_bias_h;
//   y_h[i] += (sum_j r_h[j] * k_h[j] * r_k_h[j]) * v_h[i];  then y *= g.
// y [rows, C] in place (the wkv output in, the gated output out); r, k, v,
// g [rows, C] (must not overlap y); r_k, ln_weight, ln_bias [C].
cudaError_t GroupNormBonusGate(float* y, const float* r, const float* k, const float* v,
                               const float* g, const float* r_k, const float* ln_weight,
                               const float* ln_bias, float eps, int rows, int heads, int n,
                               cudaStream_t stream);

// y[i] = x[i] rounded to nearest, ties to even, as fp16 (type kF16) or bf16
// (kBF16) bits, for i in [0, n); kF32 is rejected. NaN stays NaN, overflow
// becomes infinity. x [n] float32, y [n] uint16_t; they must not overlap.
cudaError_t ConvertFloats(const float* x, DataType type, uint16_t* y, int64_t n,
                          cudaStream_t stream);

}  // namespace gander::kernels::cuda

#endif  // GANDER_KERNELS_CUDA_RWKV7_OPS_H_
