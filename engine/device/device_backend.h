// A Backend (engine/backend.h) over an accelerator's DeviceExecutor: keeps
// streams' states resident in device slots across steps, and copies them in
// and out only when a stream arrives, is pushed out by others (least
// recently used first), is synced for a checkpoint, or is released.
//
// Per Run: validate the batch (INVALID_ARGUMENT, nothing touched), place
// every stream in a slot (SlotTable; RESOURCE_EXHAUSTED when the batch has
// more streams than slots), copy evicted dirty states out and new ones in,
// then run the batch as passes of at most max_rows rows (PassPlan).
//
// Failure: if a copy or a pass fails, the streams of the batch are dropped
// from their slots. A stream whose only current copy was on the device is
// then lost: its Release (and Sync) returns DATA_LOSS. A stream that had
// just been loaded keeps its (unchanged) host state. Nothing aborts.
//
// Ownership: owns the executor. Thread-compatible (one scheduler loop).
//
// Example:
//   auto backend = std::make_unique<DeviceBackend>(std::move(executor), weights.fingerprint,
//   "cuda", "fp16"); scheduler = Scheduler::Create(backend.get(), tokenizer, options);
#ifndef GANDER_ENGINE_DEVICE_DEVICE_BACKEND_H_
#define GANDER_ENGINE_DEVICE_DEVICE_BACKEND_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "engine/backend.h"
#include "engine/device/device_executor.h"
#include "engine/device/slot_table.h"

namespace gander::engine::device {

class DeviceBackend final : public Backend {
 public:
  DeviceBackend(std::unique_ptr<DeviceExecutor> executor, std::string fingerprint, const char* name,
                const char* weight_dtype);

  const ModelConfig& config() const override { return executor_->config(); }
  const std::string& fingerprint() const override { return fingerprint_; }
  const char* name() const override { return name_; }
  const char* weight_dtype() const override { return weight_dtype_; }

  absl::Status Run(absl::Span<const Segment> segments, absl::Span<float> logits) override;
  absl::Status Sync(RecurrentState* state) override;
  absl::Status Release(RecurrentState* state) override;

  // For tests and metrics.
  int resident() const { return slots_.resident(); }
  DeviceExecutor& executor() { return *executor_; }

 private:
  // Drops the batch's states from their slots after a failure; those whose
  // newest copy was on the device become lost.
  void DropAfterFailure(absl::Span<const Segment> segments,
                        const absl::flat_hash_set<const void*>& was_dirty);

  std::unique_ptr<DeviceExecutor> executor_;
  std::string fingerprint_;
  const char* name_;
  const char* weight_dtype_;
  SlotTable slots_;
  absl::flat_hash_set<const void*> lost_;
};

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_DEVICE_BACKEND_H_
