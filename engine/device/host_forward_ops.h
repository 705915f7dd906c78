// ForwardOps (engine/device/forward_program.h) on the CPU with plain loops
// and kernels/cpu, over host memory, and a DeviceExecutor that runs the
// device forward program with them: the accelerator code path, device
// memory layout and all, executed where no accelerator exists. Tests
// compare it with the CPU Model.
//
// Weights must be fp32 (DeviceType::kF32; Project rejects other types).
// Thread-compatible.
//
// Example:
//   auto executor = HostForwardExecutor::Create(weights, /*slots=*/4, /*max_rows=*/32);
//   DeviceBackend backend(*std::move(executor), weights.fingerprint, "host", "fp32");
#ifndef GANDER_ENGINE_DEVICE_HOST_FORWARD_OPS_H_
#define GANDER_ENGINE_DEVICE_HOST_FORWARD_OPS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/device/device_executor.h"
#include "engine/device/forward_program.h"
#include "engine/weights/model_weights.h"

namespace gander::engine::device {

class HostForwardOps final : public ForwardOps {
 public:
  absl::Status Embed(const DeviceMatrix& emb, DeviceType type, const int* tokens, int rows,
                     float* x) override;
  absl::Status LayerNorm(const float* x, const int* src_rows, int rows, int c, const float* weight,
                         const float* bias, float eps, float* y) override;
  absl::Status TokenShiftMix(const float* xa, const int* prev_row, const int* row_slot,
                             const float* slots, int64_t slot_stride, int64_t shift_offset,
                             int rows, int c, int count, const float* const* mix,
                             float* const* out) override;
  absl::Status StoreShift(const float* xa, const int* seg_last_row, const int* seg_slot,
                          int segments, int c, float* slots, int64_t slot_stride,
                          int64_t shift_offset) override;
  absl::Status Activate(Activation act, float* x, int64_t n) override;
  absl::Status TimeMixPrep(const TimeMixPrepArgs& args) override;
  absl::Status Wkv7(int segments, const int* seg_start, const int* seg_len, const int* seg_slot,
                    float* slots, int64_t slot_stride, int64_t wkv_offset, int heads, int n,
                    const float* r, const float* w, const float* k, const float* v, const float* kk,
                    const float* a, float* y) override;
  absl::Status GroupNormBonusGate(float* y, const float* r, const float* k, const float* v,
                                  const float* g, const float* r_k, const float* ln_weight,
                                  const float* ln_bias, float eps, int rows, int heads,
                                  int n) override;
  absl::Status AddInPlace(const float* x, float* y, int64_t n) override;
  absl::Status Project(const DeviceMatrix& m, const float* x, int t, float* y) override;
};

class HostForwardExecutor final : public DeviceExecutor {
 public:
  // `weights` must be loaded as fp32 and outlive the executor.
  static absl::StatusOr<std::unique_ptr<HostForwardExecutor>> Create(const ModelWeights& weights,
                                                                     int slots, int max_rows);

  const ModelConfig& config() const override { return config_; }
  int slot_count() const override { return slots_; }
  int max_rows() const override { return max_rows_; }
  absl::Status Load(absl::Span<const SlotCopy> copies) override;
  absl::Status Store(absl::Span<const SlotCopy> copies) override;
  absl::Status Forward(const Pass& pass, absl::Span<float> logits) override;

 private:
  HostForwardExecutor(const ModelConfig& config, int slots, int max_rows);

  ModelConfig config_;
  int slots_;
  int max_rows_;
  DeviceWeights weights_;
  std::vector<float> slot_memory_;  // [slots, StateFloats]
  std::vector<std::vector<float>> activations_;
  DeviceBuffers buffers_;
  HostForwardOps ops_;
};

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_HOST_FORWARD_OPS_H_
