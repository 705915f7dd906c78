// The RWKV-7 forward pass on an NVIDIA GPU, as an engine Backend.
//
// Weights are copied to the device at creation, every matrix converted to
// the chosen type (fp16 or bf16 run the projections on tensor cores with
// float32 accumulation; fp32 is plain float32, for exactness tests). All
// activations and every recurrent state stay float32.
//
// States live in a pool of `slots` device slots (DeviceBackend: streams stay
// resident across steps and are copied in and out through pinned host
// buffers when they arrive, are evicted, synced or released). A batch runs
// as passes of at most `max_rows` tokens; a decode step of B streams is
// captured once as a CUDA graph and replayed (engine/device/graph_cache.h).
//
// Failure: every CUDA and cuBLAS call is checked; errors come back as a
// Status naming the call and the error (engine/cuda/cuda_status.h):
// FAILED_PRECONDITION with no usable device, RESOURCE_EXHAUSTED when device
// memory runs out, INTERNAL otherwise. Nothing aborts.
//
// Thread-compatible: one thread (the scheduler's loop) at a time; the
// device is selected on every call, so that thread may differ from the
// creating one.
//
// Example:
//   auto backend = CreateCudaBackend(weights, {.weight_type = CudaWeightType::kF16});
//   if (!backend.ok()) return backend.status();
//   auto scheduler = Scheduler::Create(backend->get(), tokenizer, options);
#ifndef GANDER_ENGINE_CUDA_CUDA_BACKEND_H_
#define GANDER_ENGINE_CUDA_CUDA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/weights/model_weights.h"

namespace gander::engine::cuda {

enum class CudaWeightType { kF16, kBF16, kF32 };

struct CudaBackendOptions {
  int device = 0;
  CudaWeightType weight_type = CudaWeightType::kF16;
  int slots = 64;       // device state slots (>= the scheduler's max_running)
  int max_rows = 1024;  // tokens per pass (>= the scheduler's max_step_tokens for one pass a step)
  int graph_capacity = 32;      // decode graphs kept; 0 disables graphs
  int graph_capture_after = 2;  // uses of a batch size before its graph is captured
};

// Uploads `weights` (the host copy may be dropped afterwards) and allocates
// the slots and activation buffers. INVALID_ARGUMENT for bad options or a
// head size other than 64.
absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(const ModelWeights& weights,
                                                           const CudaBackendOptions& options);

// OK when at least one CUDA device is usable; otherwise FAILED_PRECONDITION
// naming the CUDA error (for example cudaErrorNoDevice).
absl::Status CudaDeviceAvailable();

}  // namespace gander::engine::cuda

#endif  // GANDER_ENGINE_CUDA_CUDA_BACKEND_H_
