#include "engine/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_status.h"
#include "engine/device/device_backend.h"
#include "engine/device/device_executor.h"
#include "engine/device/forward_program.h"
#include "engine/device/graph_cache.h"
#include "engine/weights/bf16.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/rwkv7_ops.h"
#include "kernels/cuda/wkv7.h"

namespace gander::engine::cuda {
namespace {

namespace k = ::gander::kernels::cuda;
using device::DeviceExecutor;
using device::DeviceMatrix;
using device::GraphCache;
using device::Pass;

// Returns the Status of a failed expression producing an absl::Status.
#define GANDER_RETURN_IF_NOT_OK(expr)                                 \
  do {                                                                \
    if (absl::Status gander_status_ = (expr); !gander_status_.ok()) { \
      return gander_status_;                                          \
    }                                                                 \
  } while (false)

k::DataType KernelType(CudaWeightType type) {
  switch (type) {
    case CudaWeightType::kF16:
      return k::DataType::kF16;
    case CudaWeightType::kBF16:
      return k::DataType::kBF16;
    case CudaWeightType::kF32:
      break;
  }
  return k::DataType::kF32;
}

const char* TypeName(CudaWeightType type) {
  switch (type) {
    case CudaWeightType::kF16:
      return "fp16";
    case CudaWeightType::kBF16:
      return "bf16";
    case CudaWeightType::kF32:
      break;
  }
  return "fp32";
}

// Runs fn(begin, end) over [0, n) split across the machine's cores.
void ParallelChunks(size_t n, const std::function<void(size_t, size_t)>& fn) {
  const size_t threads =
      std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 1 + n / (1 << 20));
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] { fn(n * t / threads, n * (t + 1) / threads); });
  }
  for (std::thread& w : workers) w.join();
}

// Device memory for the lifetime of the executor; freed in one place.
class DeviceArena {
 public:
  ~DeviceArena() {
    for (void* p : blocks_) cudaFree(p);
  }
  template <typename T>
  absl::Status Alloc(size_t count, T** out) {
    void* p = nullptr;
    GANDER_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)));
    blocks_.push_back(p);
    *out = static_cast<T*>(p);
    return absl::OkStatus();
  }
  // Copies a host vector to new device memory.
  absl::Status Upload(const std::vector<float>& host, const float** out) {
    float* p = nullptr;
    GANDER_RETURN_IF_NOT_OK(Alloc(host.size(), &p));
    GANDER_CUDA_RETURN_IF_ERROR(
        cudaMemcpy(p, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
    *out = p;
    return absl::OkStatus();
  }

 private:
  std::vector<void*> blocks_;
};

// The forward program's operations (engine/device/forward_program.h) as
// kernels/cuda launches and cuBLAS products on one stream.
class CudaForwardOps final : public device::ForwardOps {
 public:
  void Bind(cudaStream_t stream, cublasHandle_t cublas, k::DataType type, uint16_t* x16) {
    stream_ = stream;
    cublas_ = cublas;
    type_ = type;
    x16_ = x16;
  }

  absl::Status Embed(const DeviceMatrix& emb, device::DeviceType, const int* tokens, int rows,
                     float* x) override {
    GANDER_CUDA_RETURN_IF_ERROR(
        k::Embed(emb.data, type_, emb.rows, emb.cols, tokens, rows, x, stream_));
    return absl::OkStatus();
  }
  absl::Status LayerNorm(const float* x, const int* src_rows, int rows, int c, const float* weight,
                         const float* bias, float eps, float* y) override {
    GANDER_CUDA_RETURN_IF_ERROR(k::LayerNorm(x, src_rows, rows, c, weight, bias, eps, y, stream_));
    return absl::OkStatus();
  }
  absl::Status TokenShiftMix(const float* xa, const int* prev_row, const int* row_slot,
                             const float* slots, int64_t slot_stride, int64_t shift_offset,
                             int rows, int c, int count, const float* const* mix,
                             float* const* out) override {
    if (count < 1 || count > 6) return absl::InvalidArgumentError("1 to 6 mixes");
    k::MixArgs mixes;
    mixes.count = count;
    for (int m = 0; m < count; ++m) {
      mixes.mix[m] = mix[m];
      mixes.out[m] = out[m];
    }
    GANDER_CUDA_RETURN_IF_ERROR(k::TokenShiftMix(xa, prev_row, row_slot, slots, slot_stride,
                                                 shift_offset, rows, c, mixes, stream_));
    return absl::OkStatus();
  }
  absl::Status StoreShift(const float* xa, const int* seg_last_row, const int* seg_slot,
                          int segments, int c, float* slots, int64_t slot_stride,
                          int64_t shift_offset) override {
    GANDER_CUDA_RETURN_IF_ERROR(k::StoreShift(xa, seg_last_row, seg_slot, segments, c, slots,
                                              slot_stride, shift_offset, stream_));
    return absl::OkStatus();
  }
  absl::Status Activate(Activation act, float* x, int64_t n) override {
    const k::Activation kind = act == Activation::kTanh      ? k::Activation::kTanh
                               : act == Activation::kSigmoid ? k::Activation::kSigmoid
                                                             : k::Activation::kSquaredRelu;
    GANDER_CUDA_RETURN_IF_ERROR(k::Activate(kind, x, n, stream_));
    return absl::OkStatus();
  }
  absl::Status TimeMixPrep(const TimeMixPrepArgs& a) override {
    k::TimeMixPrepArgs args;
    args.rows = a.rows;
    args.heads = a.heads;
    args.n = a.n;
    args.first_layer = a.first_layer;
    args.w = a.w;
    args.a = a.a;
    args.k = a.k;
    args.kk = a.kk;
    args.v = a.v;
    args.v_first = a.v_first;
    args.v_residual = a.v_residual;
    args.w0 = a.w0;
    args.a0 = a.a0;
    args.k_k = a.k_k;
    args.k_a = a.k_a;
    args.v0 = a.v0;
    GANDER_CUDA_RETURN_IF_ERROR(k::TimeMixPrep(args, stream_));
    return absl::OkStatus();
  }
  absl::Status Wkv7(int segments, const int* seg_start, const int* seg_len, const int* seg_slot,
                    float* slots, int64_t slot_stride, int64_t wkv_offset, int heads, int n,
                    const float* r, const float* w, const float* k, const float* v, const float* kk,
                    const float* a, float* y) override {
    GANDER_CUDA_RETURN_IF_ERROR(k::Wkv7(segments, seg_start, seg_len, seg_slot, slots, slot_stride,
                                        wkv_offset, heads, n, r, w, k, v, kk, a, y, stream_));
    return absl::OkStatus();
  }
  absl::Status GroupNormBonusGate(float* y, const float* r, const float* k, const float* v,
                                  const float* g, const float* r_k, const float* ln_weight,
                                  const float* ln_bias, float eps, int rows, int heads,
                                  int n) override {
    GANDER_CUDA_RETURN_IF_ERROR(k::GroupNormBonusGate(y, r, k, v, g, r_k, ln_weight, ln_bias, eps,
                                                      rows, heads, n, stream_));
    return absl::OkStatus();
  }
  absl::Status AddInPlace(const float* x, float* y, int64_t n) override {
    GANDER_CUDA_RETURN_IF_ERROR(k::AddScaled(1.0f, x, y, n, stream_));
    return absl::OkStatus();
  }
  // Converts x to the weights' type when they are 16-bit, then cuBLAS.
  absl::Status Project(const DeviceMatrix& m, const float* x, int t, float* y) override {
    const void* input = x;
    if (type_ != k::DataType::kF32) {
      GANDER_CUDA_RETURN_IF_ERROR(
          k::ConvertFloats(x, type_, x16_, static_cast<int64_t>(t) * m.cols, stream_));
      input = x16_;
    }
    GANDER_CUBLAS_RETURN_IF_ERROR(k::Gemm(cublas_, type_, m.data, m.rows, m.cols, input, t, y));
    return absl::OkStatus();
  }

 private:
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  k::DataType type_ = k::DataType::kF32;
  uint16_t* x16_ = nullptr;  // [max_rows, max(C, F)]: GEMM inputs in 16 bits
};

class CudaExecutor final : public DeviceExecutor {
 public:
  CudaExecutor(const ModelConfig& config, const CudaBackendOptions& options)
      : config_(config),
        options_(options),
        type_(KernelType(options.weight_type)),
        graphs_({.capacity = options.graph_capacity,
                 .capture_after = options.graph_capture_after,
                 .max_batch = std::min(options.slots, options.max_rows)}) {}

  ~CudaExecutor() override {
    cudaSetDevice(options_.device);
    if (stream_ != nullptr) cudaStreamSynchronize(stream_);
    if (copy_stream_ != nullptr) cudaStreamSynchronize(copy_stream_);
    for (auto& [batch, exec] : graph_execs_) cudaGraphExecDestroy(exec);
    for (cudaEvent_t e : {copy_done_, compute_done_, staging_free_[0], staging_free_[1]}) {
      if (e != nullptr) cudaEventDestroy(e);
    }
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (copy_stream_ != nullptr) cudaStreamDestroy(copy_stream_);
    for (void* p : {static_cast<void*>(plan_host_), static_cast<void*>(staging_[0]),
                    static_cast<void*>(staging_[1])}) {
      if (p != nullptr) cudaFreeHost(p);
    }
  }

  absl::Status Init(const ModelWeights& weights);

  const ModelConfig& config() const override { return config_; }
  int slot_count() const override { return options_.slots; }
  int max_rows() const override { return options_.max_rows; }
  absl::Status Load(absl::Span<const SlotCopy> copies) override;
  absl::Status Store(absl::Span<const SlotCopy> copies) override;
  absl::Status Forward(const Pass& pass, absl::Span<float> logits) override;

 private:
  absl::Status UploadMatrix(const Matrix& m, DeviceMatrix* out);
  // Every kernel of one pass of `rows` rows, `segments` segments and
  // `logit_rows` logits rows (engine/device/forward_program.h), reading the
  // index arrays from the device buffers: the sequence a CUDA graph
  // captures.
  absl::Status EnqueueForward(int rows, int segments, int logit_rows) {
    return device::EnqueueForward(ops_, config_, weights_, buffers_, arrays_, slots_, rows,
                                  segments, logit_rows);
  }
  // Captures the decode step of `batch` streams (EnqueueForward(batch,
  // batch, batch)) as a graph; *captured is false when capture failed (the
  // size then stays eager). Errors: destroying graphs failed.
  absl::Status CaptureDecodeGraph(int batch, bool* captured);
  float* slot(int s) const { return slots_ + static_cast<size_t>(s) * config_.StateFloats(); }

  ModelConfig config_;
  CudaBackendOptions options_;
  k::DataType type_;
  DeviceArena arena_;
  cudaStream_t stream_ = nullptr;       // compute
  cudaStream_t copy_stream_ = nullptr;  // state copies
  cudaEvent_t copy_done_ = nullptr, compute_done_ = nullptr;
  cudaEvent_t staging_free_[2] = {nullptr, nullptr};
  cublasHandle_t cublas_ = nullptr;

  // Weights, activation buffers and the pass's index arrays on the device.
  device::DeviceWeights weights_;
  device::DeviceBuffers buffers_;
  device::DevicePassArrays arrays_;
  CudaForwardOps ops_;

  // States: [slots, StateFloats].
  float* slots_ = nullptr;
  uint16_t* x16_ = nullptr;

  // Index arrays of a pass, packed [kPlanArrays][max_rows] int32, in pinned
  // host memory and on the device (one copy per pass).
  static constexpr int kPlanArrays = 8;
  int* plan_host_ = nullptr;
  int* plan_device_ = nullptr;

  // Two pinned staging buffers of one state each: the host copy of one
  // state overlaps the DMA of the next.
  float* staging_[2] = {nullptr, nullptr};

  GraphCache graphs_;
  absl::flat_hash_map<int, cudaGraphExec_t> graph_execs_;
};

absl::Status CudaExecutor::UploadMatrix(const Matrix& m, DeviceMatrix* out) {
  out->rows = m.rows;
  out->cols = m.cols;
  if (m.rows == 0) return absl::OkStatus();
  const size_t n = static_cast<size_t>(m.rows) * m.cols;
  auto value = [&m](size_t i) {
    return m.type == WeightType::kBF16 ? Bf16ToFloat(static_cast<const uint16_t*>(m.data)[i])
                                       : static_cast<const float*>(m.data)[i];
  };
  if (type_ == k::DataType::kF32) {
    std::vector<float> host(n);
    ParallelChunks(n, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) host[i] = value(i);
    });
    const float* p = nullptr;
    GANDER_RETURN_IF_NOT_OK(arena_.Upload(host, &p));
    out->data = p;
    return absl::OkStatus();
  }
  std::vector<uint16_t> host(n);
  if (type_ == k::DataType::kBF16 && m.type == WeightType::kBF16) {
    std::memcpy(host.data(), m.data, n * sizeof(uint16_t));
  } else {
    // The largest models hold billions of elements: convert on every core.
    const bool half = type_ == k::DataType::kF16;
    ParallelChunks(n, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        host[i] = half ? FloatToHalf(value(i)) : FloatToBf16(value(i));
      }
    });
  }
  uint16_t* p = nullptr;
  GANDER_RETURN_IF_NOT_OK(arena_.Alloc(n, &p));
  GANDER_CUDA_RETURN_IF_ERROR(
      cudaMemcpy(p, host.data(), n * sizeof(uint16_t), cudaMemcpyHostToDevice));
  out->data = p;
  return absl::OkStatus();
}

absl::Status CudaExecutor::Init(const ModelWeights& weights) {
  GANDER_CUDA_RETURN_IF_ERROR(cudaSetDevice(options_.device));
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  GANDER_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&copy_done_, cudaEventDisableTiming));
  GANDER_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&compute_done_, cudaEventDisableTiming));
  for (cudaEvent_t& e : staging_free_) {
    GANDER_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  GANDER_CUBLAS_RETURN_IF_ERROR(cublasCreate(&cublas_));
  GANDER_CUBLAS_RETURN_IF_ERROR(cublasSetStream(cublas_, stream_));
  // A workspace of our own keeps cuBLAS from allocating during graph capture.
  constexpr size_t kCublasWorkspace = 32u << 20;
  uint8_t* workspace = nullptr;
  GANDER_RETURN_IF_NOT_OK(arena_.Alloc(kCublasWorkspace, &workspace));
  GANDER_CUBLAS_RETURN_IF_ERROR(cublasSetWorkspace(cublas_, workspace, kCublasWorkspace));
  // Pedantic math: no reduced-precision shortcuts in fp32 products.
  GANDER_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(
      cublas_, type_ == k::DataType::kF32 ? CUBLAS_PEDANTIC_MATH : CUBLAS_DEFAULT_MATH));

  // Weights, converted to the device's type on the way.
  const device::DeviceType device_type = type_ == k::DataType::kF16    ? device::DeviceType::kF16
                                         : type_ == k::DataType::kBF16 ? device::DeviceType::kBF16
                                                                       : device::DeviceType::kF32;
  absl::StatusOr<device::DeviceWeights> placed = device::PlaceWeights(
      weights, device_type,
      [this](const std::vector<float>& host) -> absl::StatusOr<const float*> {
        const float* p = nullptr;
        GANDER_RETURN_IF_NOT_OK(arena_.Upload(host, &p));
        return p;
      },
      [this](const Matrix& m) -> absl::StatusOr<DeviceMatrix> {
        DeviceMatrix out;
        GANDER_RETURN_IF_NOT_OK(UploadMatrix(m, &out));
        return out;
      });
  if (!placed.ok()) return placed.status();
  weights_ = *std::move(placed);

  // State slots, zeroed.
  const size_t state_floats = config_.StateFloats();
  GANDER_RETURN_IF_NOT_OK(arena_.Alloc(state_floats * options_.slots, &slots_));
  GANDER_CUDA_RETURN_IF_ERROR(cudaMemset(slots_, 0, state_floats * options_.slots * sizeof(float)));

  // Activations.
  const size_t rows = options_.max_rows;
  const size_t C = config_.embd;
  absl::StatusOr<device::DeviceBuffers> buffers = device::AllocateBuffers(
      config_, options_.max_rows, [this](size_t floats) -> absl::StatusOr<float*> {
        float* p = nullptr;
        GANDER_RETURN_IF_NOT_OK(arena_.Alloc(floats, &p));
        return p;
      });
  if (!buffers.ok()) return buffers.status();
  buffers_ = *buffers;
  const size_t widest = std::max<size_t>({C, static_cast<size_t>(config_.ffn)});
  GANDER_RETURN_IF_NOT_OK(arena_.Alloc(rows * widest, &x16_));

  // Pass index arrays.
  GANDER_CUDA_RETURN_IF_ERROR(
      cudaMallocHost(reinterpret_cast<void**>(&plan_host_), kPlanArrays * rows * sizeof(int)));
  GANDER_RETURN_IF_NOT_OK(arena_.Alloc(kPlanArrays * rows, &plan_device_));
  arrays_.tokens = plan_device_;
  arrays_.row_slot = plan_device_ + rows;
  arrays_.prev_row = plan_device_ + 2 * rows;
  arrays_.seg_start = plan_device_ + 3 * rows;
  arrays_.seg_len = plan_device_ + 4 * rows;
  arrays_.seg_slot = plan_device_ + 5 * rows;
  arrays_.seg_last_row = plan_device_ + 6 * rows;
  arrays_.logit_row = plan_device_ + 7 * rows;
  ops_.Bind(stream_, cublas_, type_, x16_);

  for (float*& buf : staging_) {
    GANDER_CUDA_RETURN_IF_ERROR(
        cudaMallocHost(reinterpret_cast<void**>(&buf), state_floats * sizeof(float)));
  }
  GANDER_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  return absl::OkStatus();
}

absl::Status CudaExecutor::Load(absl::Span<const SlotCopy> copies) {
  GANDER_CUDA_RETURN_IF_ERROR(cudaSetDevice(options_.device));
  const size_t bytes = config_.StateFloats() * sizeof(float);
  for (size_t i = 0; i < copies.size(); ++i) {
    const int b = static_cast<int>(i % 2);
    if (copies[i].slot < 0 || copies[i].slot >= options_.slots) {
      return absl::InvalidArgumentError(absl::StrCat("no device slot ", copies[i].slot));
    }
    // The DMA that last read this staging buffer must be done.
    GANDER_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(staging_free_[b]));
    std::memcpy(staging_[b], copies[i].host, bytes);
    GANDER_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot(copies[i].slot), staging_[b], bytes,
                                                cudaMemcpyHostToDevice, copy_stream_));
    GANDER_CUDA_RETURN_IF_ERROR(cudaEventRecord(staging_free_[b], copy_stream_));
  }
  // The next pass on the compute stream starts after the copies.
  GANDER_CUDA_RETURN_IF_ERROR(cudaEventRecord(copy_done_, copy_stream_));
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream_, copy_done_, 0));
  return absl::OkStatus();
}

absl::Status CudaExecutor::Store(absl::Span<const SlotCopy> copies) {
  GANDER_CUDA_RETURN_IF_ERROR(cudaSetDevice(options_.device));
  const size_t bytes = config_.StateFloats() * sizeof(float);
  for (const SlotCopy& copy : copies) {
    if (copy.slot < 0 || copy.slot >= options_.slots) {
      return absl::InvalidArgumentError(absl::StrCat("no device slot ", copy.slot));
    }
  }
  // Copies start after every pass queued so far.
  GANDER_CUDA_RETURN_IF_ERROR(cudaEventRecord(compute_done_, stream_));
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(copy_stream_, compute_done_, 0));
  // DMA of copy i overlaps the host copy-out of copy i - 1.
  for (size_t i = 0; i <= copies.size(); ++i) {
    if (i < copies.size()) {
      const int b = static_cast<int>(i % 2);
      GANDER_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(staging_[b], slot(copies[i].slot), bytes,
                                                  cudaMemcpyDeviceToHost, copy_stream_));
      GANDER_CUDA_RETURN_IF_ERROR(cudaEventRecord(staging_free_[b], copy_stream_));
    }
    if (i > 0) {
      const int prev = static_cast<int>((i - 1) % 2);
      GANDER_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(staging_free_[prev]));
      std::memcpy(copies[i - 1].host, staging_[prev], bytes);
    }
  }
  return absl::OkStatus();
}

absl::Status CudaExecutor::CaptureDecodeGraph(int batch, bool* captured) {
  *captured = false;
  cudaGraph_t graph = nullptr;
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  const absl::Status enqueued = EnqueueForward(batch, batch, batch);
  // The capture always ends, whatever happened inside it.
  const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
  cudaGraphExec_t exec = nullptr;
  cudaError_t instantiated = cudaErrorStreamCaptureInvalidated;
  if (enqueued.ok() && ended == cudaSuccess) {
    instantiated = cudaGraphInstantiate(&exec, graph, 0);
  }
  if (graph != nullptr) GANDER_CUDA_RETURN_IF_ERROR(cudaGraphDestroy(graph));
  if (enqueued.ok() && ended == cudaSuccess && instantiated == cudaSuccess) {
    graph_execs_[batch] = exec;
    graphs_.Captured(batch);
    *captured = true;
  } else {
    // Capture is an optimisation: this batch size runs eagerly from now on.
    // The capture's error is dropped here on purpose; if the kernels
    // themselves fail, the eager run that follows reports it.
    (void)cudaGetLastError();
    graphs_.CaptureFailed(batch);
  }
  for (int evicted : graphs_.TakeEvicted()) {
    auto it = graph_execs_.find(evicted);
    if (it == graph_execs_.end()) continue;
    const cudaGraphExec_t old = it->second;
    graph_execs_.erase(it);
    GANDER_CUDA_RETURN_IF_ERROR(cudaGraphExecDestroy(old));
  }
  return absl::OkStatus();
}

absl::Status CudaExecutor::Forward(const Pass& pass, absl::Span<float> logits) {
  const int rows = pass.rows(), segments = pass.segments();
  const int logit_rows = static_cast<int>(pass.logit_row.size());
  if (rows < 1 || rows > options_.max_rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("a pass of ", rows, " rows; this backend takes 1 to ", options_.max_rows));
  }
  // The logits of a pass are consecutive rows of the caller's output
  // (PlanPasses keeps segments in order).
  for (int i = 1; i < logit_rows; ++i) {
    if (pass.logit_dest[i] != pass.logit_dest[0] + i) {
      return absl::InternalError("a pass's logits rows are not consecutive");
    }
  }
  const size_t vocab = config_.vocab;
  if (logit_rows > 0 &&
      (pass.logit_dest[0] + static_cast<size_t>(logit_rows)) * vocab > logits.size()) {
    return absl::InvalidArgumentError("logits output too small for the pass");
  }
  GANDER_CUDA_RETURN_IF_ERROR(cudaSetDevice(options_.device));

  // Index arrays: one pinned buffer, one copy.
  const size_t R = options_.max_rows;
  auto put = [&](int array, const std::vector<int>& values) {
    std::memcpy(plan_host_ + array * R, values.data(), values.size() * sizeof(int));
  };
  // The previous pass's copy has finished reading plan_host_: every Forward
  // ends by waiting for its stream.
  put(0, pass.tokens);
  put(1, pass.row_slot);
  put(2, pass.prev_row);
  put(3, pass.seg_start);
  put(4, pass.seg_len);
  put(5, pass.seg_slot);
  put(6, pass.seg_last_row);
  put(7, pass.logit_row);
  GANDER_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(
      plan_device_, plan_host_, kPlanArrays * R * sizeof(int), cudaMemcpyHostToDevice, stream_));

  GraphCache::Action action = pass.decode_only() ? graphs_.Plan(rows) : GraphCache::Action::kEager;
  if (action == GraphCache::Action::kCapture) {
    bool captured = false;
    GANDER_RETURN_IF_NOT_OK(CaptureDecodeGraph(rows, &captured));
    action = captured ? GraphCache::Action::kReplay : GraphCache::Action::kEager;
  }
  if (action == GraphCache::Action::kReplay) {
    GANDER_CUDA_RETURN_IF_ERROR(cudaGraphLaunch(graph_execs_.at(rows), stream_));
  } else {
    GANDER_RETURN_IF_NOT_OK(EnqueueForward(rows, segments, logit_rows));
  }

  if (logit_rows > 0) {
    GANDER_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(logits.data() + pass.logit_dest[0] * vocab,
                                                buffers_.logits, logit_rows * vocab * sizeof(float),
                                                cudaMemcpyDeviceToHost, stream_));
  }
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  return absl::OkStatus();
}

absl::Status CheckOptions(const ModelWeights& weights, const CudaBackendOptions& options) {
  const ModelConfig& c = weights.config;
  if (c.head_size != 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("the CUDA backend runs head size 64; this model has ", c.head_size));
  }
  if (weights.layers.size() != static_cast<size_t>(c.layers) || c.layers < 1) {
    return absl::InvalidArgumentError("model weights have no layers or a layer count mismatch");
  }
  if (options.slots < 1 || options.max_rows < 1 || options.graph_capacity < 0 ||
      options.graph_capture_after < 1 || options.device < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CUDA backend options out of range: slots ", options.slots, ", max_rows ", options.max_rows,
        ", graph_capacity ", options.graph_capacity, ", graph_capture_after ",
        options.graph_capture_after, ", device ", options.device));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CudaDeviceAvailable() {
  int count = 0;
  GANDER_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  if (count == 0) return CudaStatus(cudaErrorNoDevice, "cudaGetDeviceCount(&count)");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(const ModelWeights& weights,
                                                           const CudaBackendOptions& options) {
  GANDER_RETURN_IF_NOT_OK(CheckOptions(weights, options));
  GANDER_RETURN_IF_NOT_OK(CudaDeviceAvailable());
  auto executor = std::make_unique<CudaExecutor>(weights.config, options);
  GANDER_RETURN_IF_NOT_OK(executor->Init(weights));
  return std::unique_ptr<Backend>(std::make_unique<device::DeviceBackend>(
      std::move(executor), weights.fingerprint, "cuda", TypeName(options.weight_type)));
}

}  // namespace gander::engine::cuda
