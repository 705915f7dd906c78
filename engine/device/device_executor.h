// What an accelerator must provide for DeviceBackend: a pool of state slots
// in its memory, copies between slots and host states, and the forward
// pass over a Pass (engine/device/pass_plan.h). The CUDA executor
// (engine/cuda) is one; tests use one that runs the CPU Model over host
// memory.
//
// A slot holds one stream's whole RecurrentState, in RecurrentState's
// layout ([L] x (att_shift [C], wkv [H][N][N], ffn_shift [C]) float32).
//
// Failure: every call returns a Status naming what failed (for CUDA: the
// call and the error name). After a failed Forward the slots of that pass
// are in an unknown state; other slots are untouched unless the device
// itself is lost (then every later call fails too).
//
// Thread-compatible: one thread at a time.
#ifndef GANDER_ENGINE_DEVICE_DEVICE_EXECUTOR_H_
#define GANDER_ENGINE_DEVICE_DEVICE_EXECUTOR_H_

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/device/pass_plan.h"
#include "engine/model_config.h"

namespace gander::engine::device {

class DeviceExecutor {
 public:
  virtual ~DeviceExecutor() = default;

  virtual const ModelConfig& config() const = 0;
  virtual int slot_count() const = 0;  // slots are 0 .. slot_count() - 1
  virtual int max_rows() const = 0;    // the most rows one Forward takes

  // One copy between a slot and a host state of config().StateFloats().
  struct SlotCopy {
    int slot = -1;
    float* host = nullptr;  // read by Load, written by Store
  };
  // Host states into slots, all of them before the next Forward sees them.
  virtual absl::Status Load(absl::Span<const SlotCopy> copies) = 0;
  // Slots into host states; complete when it returns.
  virtual absl::Status Store(absl::Span<const SlotCopy> copies) = 0;

  // Runs `pass` (rows <= max_rows, slots loaded): advances its slots and
  // writes the logits of row pass.logit_row[k] to
  // logits[pass.logit_dest[k] * V, +V). Complete when it returns.
  virtual absl::Status Forward(const Pass& pass, absl::Span<float> logits) = 0;
};

}  // namespace gander::engine::device

#endif  // GANDER_ENGINE_DEVICE_DEVICE_EXECUTOR_H_
