// The RWKV-7 forward pass of one Pass as a sequence of device operations,
// written once for every accelerator: the CUDA executor runs it with
// kernels/cuda (and captures it as a CUDA graph), and the tests run the
// very same sequence with HostForwardOps (plain loops on the CPU) against
// the CPU Model. That checks the order, the buffers, the state offsets and
// the layer-0 special cases on any machine.
//
// Every pointer is in the device's memory (host memory for HostForwardOps).
// Activations are float32 [rows, width] row-major; the index arrays are the
// Pass's (engine/device/pass_plan.h) as int32 arrays; `slots` is the state
// pool [slot_count, StateFloats] in RecurrentState's layout.
//
// Thread-compatible: one thread at a time per ForwardOps.
#ifndef GANDER_ENGINE_DEVICE_FORWARD_PROGRAM_H_
#define GANDER_ENGINE_DEVICE_FORWARD_PROGRAM_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model_config.h"
#include "engine/weights/model_weights.h"

namespace gander::engine::device {

// Element type of weight matrices on the device.
enum class DeviceType { kF32, kF16, kBF16 };

// A weight matrix [rows, cols] (out x in) of the device's weight type;
// rows == 0: absent (layer 0's value LoRA).
struct DeviceMatrix {
  int rows = 0;
  int cols = 0;
  const void* data = nullptr;
};

// One block's weights; vectors are [C] float32 (r_k [H * N]).
struct DeviceLayer {
  const float *ln1_weight = nullptr, *ln1_bias = nullptr, *ln2_weight = nullptr,
              *ln2_bias = nullptr;
  const float *x_r = nullptr, *x_w = nullptr, *x_k = nullptr, *x_v = nullptr, *x_a = nullptr,
              *x_g = nullptr;
  const float *w0 = nullptr, *a0 = nullptr, *v0 = nullptr, *k_k = nullptr, *k_a = nullptr,
              *r_k = nullptr;
  const float *ln_x_weight = nullptr, *ln_x_bias = nullptr, *ffn_x_k = nullptr;
  DeviceMatrix w1, w2, a1, a2, v1, v2, g1, g2, receptance, key, value, output, ffn_key, ffn_value;
};

struct DeviceWeights {
  DeviceType type = DeviceType::kF32;
  DeviceMatrix emb, head;  // [V, C]
  const float *ln0_weight = nullptr, *ln0_bias = nullptr;
  const float *ln_out_weight = nullptr, *ln_out_bias = nullptr;
  std::vector<DeviceLayer> layers;
};

// Activation buffers, each [max_rows, width]: C unless noted.
struct DeviceBuffers {
  float *x = nullptr, *xa = nullptr, *xr = nullptr, *xw = nullptr, *xk = nullptr, *xv = nullptr,
        *xa2 = nullptr, *xg = nullptr;
  float *r = nullptr, *k = nullptr, *v = nullptr, *w = nullptr, *a = nullptr, *g = nullptr,
        *kk = nullptr, *v_first = nullptr, *y = nullptr, *tmp = nullptr, *head_in = nullptr;
  float *lw = nullptr, *la = nullptr, *lv = nullptr, *lg = nullptr;  // [max_rows, D*]
  float* hidden = nullptr;                                           // [max_rows, F]
  float* logits = nullptr;                                           // [max_rows, V]
};

// The Pass's index arrays in device memory.
struct DevicePassArrays {
  const int *tokens = nullptr, *row_slot = nullptr, *prev_row = nullptr;  // [rows]
  const int *seg_start = nullptr, *seg_len = nullptr, *seg_slot = nullptr,
            *seg_last_row = nullptr;  // [segments]
  const int* logit_row = nullptr;     // [logit_rows]
};

// The operations of the forward pass (see kernels/cuda/rwkv7_ops.h and
// wkv7.h for each one's exact contract). Each returns a Status naming what
// failed; implementations may run asynchronously (a CUDA stream).
class ForwardOps {
 public:
  virtual ~ForwardOps() = default;
  virtual absl::Status Embed(const DeviceMatrix& emb, DeviceType type, const int* tokens, int rows,
                             float* x) = 0;
  virtual absl::Status LayerNorm(const float* x, const int* src_rows, int rows, int c,
                                 const float* weight, const float* bias, float eps, float* y) = 0;
  // count mixes (1..6): out[m] = xa + (prev - xa) * mix[m], prev per row.
  virtual absl::Status TokenShiftMix(const float* xa, const int* prev_row, const int* row_slot,
                                     const float* slots, int64_t slot_stride, int64_t shift_offset,
                                     int rows, int c, int count, const float* const* mix,
                                     float* const* out) = 0;
  virtual absl::Status StoreShift(const float* xa, const int* seg_last_row, const int* seg_slot,
                                  int segments, int c, float* slots, int64_t slot_stride,
                                  int64_t shift_offset) = 0;
  enum class Activation { kTanh, kSigmoid, kSquaredRelu };
  virtual absl::Status Activate(Activation act, float* x, int64_t n) = 0;
  struct TimeMixPrepArgs {
    int rows = 0, heads = 0, n = 0;
    bool first_layer = false;
    float *w = nullptr, *a = nullptr, *k = nullptr, *kk = nullptr, *v = nullptr, *v_first = nullptr;
    const float* v_residual = nullptr;
    const float *w0 = nullptr, *a0 = nullptr, *k_k = nullptr, *k_a = nullptr, *v0 = nullptr;
  };
  virtual absl::Status TimeMixPrep(const TimeMixPrepArgs& args) = 0;
  virtual absl::Status Wkv7(int segments, const int* seg_start, const int* seg_len,
                            const int* seg_slot, float* slots, int64_t slot_stride,
                            int64_t wkv_offset, int heads, int n, const float* r, const float* w,
                            const float* k, const float* v, const float* kk, const float* a,
                            float* y) = 0;
  virtual absl::Status GroupNormBonusGate(float* y, const float* r, const float* k, const float* v,
                                          const float* g, const float* r_k, const float* ln_weight,
                                          const float* ln_bias, float eps, int rows, int heads,
                                          int n) = 0;
  // y += x, n floats.
  virtual absl::Status AddInPlace(const float* x, float* y, int64_t n) = 0;
  // y [t, m.rows] = x [t, m.cols] · m^T (x float32; converted to the
  // weights' type by the implementation when it needs to).
  virtual absl::Status Project(const DeviceMatrix& m, const float* x, int t, float* y) = 0;
};

// Lays out `weights` for a device: each vector [C] and each matrix is
// placed by the caller's functions (copied into device memory, converted to
// the device's type, or simply pointed at in host memory). The one place
// that lists every tensor of a layer. Stops at the first failed placement.
using PlaceVector = std::function<absl::StatusOr<const float*>(const std::vector<float>&)>;
using PlaceMatrix = std::function<absl::StatusOr<DeviceMatrix>(const Matrix&)>;
absl::StatusOr<DeviceWeights> PlaceWeights(const ModelWeights& weights, DeviceType type,
                                           const PlaceVector& place_vector,
                                           const PlaceMatrix& place_matrix);

// Allocates every activation buffer for passes of up to `max_rows` rows with
// `alloc(floats)` (floats >= 1).
using AllocFloats = std::function<absl::StatusOr<float*>(size_t floats)>;
absl::StatusOr<DeviceBuffers> AllocateBuffers(const ModelConfig& config, int max_rows,
                                              const AllocFloats& alloc);

// Issues the whole forward pass of a pass of `rows` rows, `segments`
// segments and `logit_rows` logits rows: states in `slots` advance, and
// buffers.logits [logit_rows, V] receives the logits of rows
// arrays.logit_row. Stops at the first failing operation.
absl::Status EnqueueForward(ForwardOps& ops, const ModelConfig& config,
                            const DeviceWeights& weights, const DeviceBuffers& buffers,
                            const DevicePassArrays& arrays, float* slots, int rows, int segments,
                            int logit_rows);

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_FORWARD_PROGRAM_H_
