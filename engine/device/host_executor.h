// A DeviceExecutor whose "device" is host memory and whose forward pass is
// the CPU Model: the reference that DeviceBackend's slot, copy and pass
// logic is tested against on any machine, with failures on demand.
//
// It checks what a real device would silently get wrong: a pass that names
// a slot never loaded, repeats a slot, or has more rows than max_rows fails
// with FAILED_PRECONDITION.
//
// Ownership: borrows the Model (must outlive it). Thread-compatible.
//
// Example:
//   auto executor = std::make_unique<HostExecutor>(model.get(), /*slots=*/4, /*max_rows=*/16);
//   DeviceBackend backend(std::move(executor), model->fingerprint(), "host", "fp32");
#ifndef GANDER_ENGINE_DEVICE_HOST_EXECUTOR_H_
#define GANDER_ENGINE_DEVICE_HOST_EXECUTOR_H_

#include <vector>

#include "engine/device/device_executor.h"
#include "engine/model.h"
#include "engine/recurrent_state.h"

namespace gander::engine::device {

class HostExecutor final : public DeviceExecutor {
 public:
  HostExecutor(Model* model, int slots, int max_rows);

  const ModelConfig& config() const override { return model_->config(); }
  int slot_count() const override { return static_cast<int>(slots_.size()); }
  int max_rows() const override { return max_rows_; }
  absl::Status Load(absl::Span<const SlotCopy> copies) override;
  absl::Status Store(absl::Span<const SlotCopy> copies) override;
  absl::Status Forward(const Pass& pass, absl::Span<float> logits) override;

  // The next `n`th call of that kind (1 = the next one) fails with INTERNAL;
  // a failing Forward first scribbles over its slots, as a device might.
  void FailLoadAt(int n) { fail_load_ = n; }
  void FailStoreAt(int n) { fail_store_ = n; }
  void FailForwardAt(int n) { fail_forward_ = n; }

  // Counters for tests.
  int loads() const { return loads_; }
  int stores() const { return stores_; }
  int passes() const { return passes_; }

 private:
  Model* model_;
  int max_rows_;
  std::vector<RecurrentState> slots_;
  std::vector<bool> loaded_;
  int fail_load_ = 0, fail_store_ = 0, fail_forward_ = 0;
  int loads_ = 0, stores_ = 0, passes_ = 0;
};

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_HOST_EXECUTOR_H_
