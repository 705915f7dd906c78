// Speed of the CUDA backend (engine/cuda) on random models shaped like the
// released RWKV-7 0.1B, 1.5B and 7.2B (weights made in memory by
// bench/cuda/random_weights.h: no file, no download).
//
// For each shape:
//   decode   B streams (each first prefilled with 8 tokens), `--steps` timed
//            Run calls of B one-token segments after `--warmup` untimed ones
//            (enough for the CUDA graph of B to be captured and replayed):
//            tokens/s = B * steps / seconds, and ms per step;
//   prefill  one fresh stream, `--prefill` tokens in one Run (passes of at
//            most 1024 rows), median of `--prefill_runs` after one warm-up;
//   B = 1    the matrix bytes one token reads (every matrix, head included,
//            embedding excluded: one row of it is read) per second, as a
//            fraction of the device's copy bandwidth measured at start-up.
// Times are wall clock around Run, which returns once the logits are on the
// host. Batches whose device (or host) memory would not fit are skipped and
// the output says so.
//
// Output: progress on stderr; on stdout a markdown section (GPU, date,
// command, bandwidth, one table, notes) to paste into bench/RESULTS.md.
//
// Run:
//   bazel build --config=cuda //bench/cuda:cuda_benchmark
//   bazel-bin/bench/cuda/cuda_benchmark --shapes=0.1b,1.5b,7.2b --type=fp16
//   (--shapes=tiny --batches=1,8 --prefill=256 --steps=8: a quick check)
//
// Exit status: 0 when every measurement ran; 2 when nothing could be
// measured (bad flags, no usable CUDA device), after printing the error; 1
// when a measurement failed (what was measured before is still printed).
#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "bench/cuda/random_weights.h"
#include "common/status_macros.h"
#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_status.h"
#include "engine/model_config.h"
#include "engine/recurrent_state.h"
#include "engine/weights/model_weights.h"
#include "engine/weights/random_model.h"

ABSL_FLAG(std::vector<std::string>, shapes, std::vector<std::string>({"0.1b", "1.5b", "7.2b"}),
          "model shapes: 0.1b (L12 C768), 1.5b (L24 C2048), 7.2b (L32 C4096), all V 65536 and "
          "head size 64; tiny (L2 C128 V1024) for a quick check");
ABSL_FLAG(std::vector<std::string>, batches,
          std::vector<std::string>({"1", "8", "64", "256", "1024"}), "decode batch sizes B");
ABSL_FLAG(int, prefill, 4096, "tokens of the timed prefill (0: no prefill)");
ABSL_FLAG(int, prefill_runs, 3, "timed prefills per shape (the median is reported)");
ABSL_FLAG(int, steps, 64, "timed decode steps per batch size");
ABSL_FLAG(int, warmup, 4,
          "untimed decode steps before the timed ones (the backend captures a batch size's CUDA "
          "graph after 2 uses)");
ABSL_FLAG(std::string, type, "fp16", "device weight type: fp16 or bf16");
ABSL_FLAG(int, device, 0, "CUDA device index");
ABSL_FLAG(uint64_t, seed, 7, "seed of the random weights");

namespace gander::bench {
namespace {

using engine::Backend;
using engine::ModelConfig;
using engine::ModelWeights;
using engine::RandomModelSpec;
using engine::RecurrentState;
using engine::WeightType;
using engine::cuda::CudaBackendOptions;
using engine::cuda::CudaWeightType;
using Clock = std::chrono::steady_clock;

constexpr double kGB = 1e9;
constexpr size_t kGiB = size_t{1} << 30;
// Device memory kept free beyond the estimate: CUDA context allocations,
// cuBLAS workspace (32 MiB), CUDA graphs, cudaMalloc rounding.
constexpr size_t kDeviceHeadroom = 3 * kGiB / 2;
// Tokens each decode stream is prefilled with before its steps.
constexpr int kDecodeContext = 8;
constexpr int kMinMaxRows = 1024;

struct Shape {
  const char* name;
  int layers, embd, vocab;
};
constexpr Shape kShapes[] = {
    {"tiny", 2, 128, 1024},
    {"0.1b", 12, 768, 65536},
    {"1.5b", 24, 2048, 65536},
    {"7.2b", 32, 4096, 65536},
};

struct Flags {
  std::vector<Shape> shapes;
  std::vector<int> batches;  // ascending, distinct
  int prefill, prefill_runs, steps, warmup, device;
  CudaWeightType type;
  const char* type_name;
  uint64_t seed;
};

absl::StatusOr<Flags> ReadFlags() {
  Flags f;
  for (const std::string& name : absl::GetFlag(FLAGS_shapes)) {
    const Shape* found = nullptr;
    for (const Shape& s : kShapes) {
      if (name == s.name) found = &s;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--shapes: unknown shape '", name, "' (0.1b, 1.5b, 7.2b or tiny)"));
    }
    f.shapes.push_back(*found);
  }
  if (f.shapes.empty()) return absl::InvalidArgumentError("--shapes: no shape given");
  for (const std::string& item : absl::GetFlag(FLAGS_batches)) {
    int b = 0;
    if (!absl::SimpleAtoi(item, &b) || b < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--batches: '", item, "' is not a positive integer"));
    }
    f.batches.push_back(b);
  }
  std::sort(f.batches.begin(), f.batches.end());
  f.batches.erase(std::unique(f.batches.begin(), f.batches.end()), f.batches.end());
  f.prefill = absl::GetFlag(FLAGS_prefill);
  f.prefill_runs = absl::GetFlag(FLAGS_prefill_runs);
  f.steps = absl::GetFlag(FLAGS_steps);
  f.warmup = absl::GetFlag(FLAGS_warmup);
  f.device = absl::GetFlag(FLAGS_device);
  f.seed = absl::GetFlag(FLAGS_seed);
  if (f.batches.empty() && f.prefill == 0) {
    return absl::InvalidArgumentError("nothing to measure: --batches is empty and --prefill=0");
  }
  for (const auto& [name, value, min] :
       {std::make_tuple("prefill", f.prefill, 0),
        std::make_tuple("prefill_runs", f.prefill_runs, 1), std::make_tuple("steps", f.steps, 1),
        std::make_tuple("warmup", f.warmup, 0), std::make_tuple("device", f.device, 0)}) {
    if (value < min) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, "=", value, ": must be >= ", min));
    }
  }
  const std::string type = absl::GetFlag(FLAGS_type);
  if (type == "fp16") {
    f.type = CudaWeightType::kF16;
    f.type_name = "fp16";
  } else if (type == "bf16") {
    f.type = CudaWeightType::kBF16;
    f.type_name = "bf16";
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--type=", type, ": must be fp16 or bf16"));
  }
  return f;
}

// ------------------------------------------------------------ device facts

struct DeviceBuffer {
  void* p = nullptr;
  ~DeviceBuffer() {
    if (p != nullptr) cudaFree(p);
  }
};

struct TimingEvents {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  ~TimingEvents() {
    if (start != nullptr) cudaEventDestroy(start);
    if (stop != nullptr) cudaEventDestroy(stop);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

// Best of 5 device-to-device copies of `bytes` (read + write counted), in
// bytes per second.
absl::StatusOr<double> CopyBandwidth(size_t bytes) {
  DeviceBuffer src, dst;
  GANDER_CUDA_RETURN_IF_ERROR(cudaMalloc(&src.p, bytes));
  GANDER_CUDA_RETURN_IF_ERROR(cudaMalloc(&dst.p, bytes));
  GANDER_CUDA_RETURN_IF_ERROR(cudaMemset(src.p, 1, bytes));
  GANDER_CUDA_RETURN_IF_ERROR(cudaMemset(dst.p, 0, bytes));
  TimingEvents t;
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&t.stream, cudaStreamNonBlocking));
  GANDER_CUDA_RETURN_IF_ERROR(cudaEventCreate(&t.start));
  GANDER_CUDA_RETURN_IF_ERROR(cudaEventCreate(&t.stop));
  // One untimed copy first.
  GANDER_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, t.stream));
  GANDER_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(t.stream));
  float best_ms = 0;
  for (int i = 0; i < 5; ++i) {
    GANDER_CUDA_RETURN_IF_ERROR(cudaEventRecord(t.start, t.stream));
    GANDER_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, t.stream));
    GANDER_CUDA_RETURN_IF_ERROR(cudaEventRecord(t.stop, t.stream));
    GANDER_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(t.stop));
    float ms = 0;
    GANDER_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, t.start, t.stop));
    if (i == 0 || ms < best_ms) best_ms = ms;
  }
  if (best_ms <= 0) return absl::InternalError("device copy timed at 0 ms");
  return 2.0 * static_cast<double>(bytes) / (best_ms * 1e-3);
}

struct MemInfo {
  size_t free = 0, total = 0;
};

absl::StatusOr<MemInfo> DeviceMemory() {
  MemInfo m;
  GANDER_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&m.free, &m.total));
  return m;
}

size_t HostMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
}

// ------------------------------------------------------------ model sizes

// Elements of every matrix the forward pass reads in full for one token:
// all layers' projections, channel mix and LoRAs (layer 0 has no value
// LoRA) and the head; the embedding only with `with_emb`.
double MatrixElements(const ModelConfig& c, bool with_emb) {
  const double C = c.embd;
  double total = 0;
  for (int l = 0; l < c.layers; ++l) {
    total += 4 * C * C + 2 * C * c.ffn + 2 * C * (c.lora_w + c.lora_a + c.lora_g);
    if (l > 0) total += 2 * C * c.lora_v;
  }
  total += static_cast<double>(c.vocab) * C * (with_emb ? 2 : 1);
  return total;
}

// Device bytes of the uploaded weights (16-bit matrices, float32 vectors).
double DeviceWeightBytes(const ModelConfig& c) {
  const double vectors = 4.0 * c.embd + c.layers * 19.0 * c.embd;
  return 2 * MatrixElements(c, /*with_emb=*/true) + 4 * vectors;
}

// Device bytes of the backend's activation buffers for passes of `rows`.
double ActivationBytes(const ModelConfig& c, int rows) {
  const double per_row_floats = 19.0 * c.embd + c.lora_w + c.lora_a + std::max(c.lora_v, 1) +
                                c.lora_g + c.ffn + c.vocab + 8 /* index arrays */;
  const double per_row_halves = std::max(c.embd, c.ffn);
  return rows * (4 * per_row_floats + 2 * per_row_halves);
}

double StateBytes(const ModelConfig& c) { return 4.0 * c.StateFloats(); }

// ------------------------------------------------------------ report

struct Report {
  std::string gpu;
  std::string date;
  std::string command;
  double bandwidth = 0;  // bytes/s, 0 until measured
  size_t bandwidth_bytes = 0;
  std::vector<std::string> rows;   // table rows
  std::vector<std::string> notes;  // bullet lines

  void Print(std::FILE* out) const {
    std::fprintf(out, "## CUDA backend (engine/cuda)\n\n");
    if (!gpu.empty()) std::fprintf(out, "GPU: %s. Measured %s.\n\n", gpu.c_str(), date.c_str());
    std::fprintf(out, "`%s`\n\n", command.c_str());
    if (bandwidth > 0) {
      std::fprintf(out,
                   "Device memory bandwidth: %.0f GB/s (cudaMemcpy device to device of %.1f GiB, "
                   "read + write bytes counted, best of 5).\n\n",
                   bandwidth / kGB, static_cast<double>(bandwidth_bytes) / kGiB);
    }
    if (!rows.empty()) {
      std::fprintf(out, "| model | weights | B | decode tok/s | ms/step |\n");
      std::fprintf(out, "|---|---|---:|---:|---:|\n");
      for (const std::string& r : rows) std::fprintf(out, "%s\n", r.c_str());
      std::fprintf(out, "\n");
    }
    for (const std::string& n : notes) std::fprintf(out, "- %s\n", n.c_str());
    std::fflush(out);
  }
};

void Note(Report* report, std::string line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  report->notes.push_back(std::move(line));
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A token for stream b at step s: varied, deterministic, in [0, V).
int TokenFor(int b, int s, int vocab) {
  return static_cast<int>((1000003ull * s + 7919ull * b + 11) % static_cast<uint64_t>(vocab));
}

absl::Status CheckFinite(absl::Span<const float> logits, absl::string_view what) {
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) {
      return absl::InternalError(
          absl::StrCat(what, ": logit ", i, " is not finite (", logits[i], ")"));
    }
  }
  return absl::OkStatus();
}

// Releases every state of `states` from the backend (the first error wins).
absl::Status ReleaseAll(Backend* backend, std::vector<RecurrentState>* states) {
  absl::Status first;
  for (RecurrentState& s : *states) first.Update(backend->Release(&s));
  return first;
}

// Decode at batch size b: returns the seconds of `steps` timed steps.
absl::StatusOr<double> TimeDecode(Backend* backend, const ModelConfig& c, int b,
                                  const Flags& flags) {
  std::vector<RecurrentState> states;
  states.reserve(b);
  for (int i = 0; i < b; ++i) states.emplace_back(c);
  std::vector<float> logits(static_cast<size_t>(b) * c.vocab);

  // Each stream's context: kDecodeContext tokens, all in one Run.
  std::vector<int> context(static_cast<size_t>(b) * kDecodeContext);
  std::vector<Backend::Segment> segments(b);
  for (int i = 0; i < b; ++i) {
    for (int t = 0; t < kDecodeContext; ++t) {
      context[static_cast<size_t>(i) * kDecodeContext + t] = TokenFor(i, t, c.vocab);
    }
    segments[i] = {absl::MakeConstSpan(context).subspan(static_cast<size_t>(i) * kDecodeContext,
                                                        kDecodeContext),
                   &states[i]};
  }
  absl::Status status = backend->Run(segments, absl::MakeSpan(logits));

  std::vector<int> tokens(b);
  for (int i = 0; i < b; ++i) segments[i].tokens = absl::MakeConstSpan(&tokens[i], 1);
  auto step = [&](int s) {
    for (int i = 0; i < b; ++i) tokens[i] = TokenFor(i, kDecodeContext + s, c.vocab);
    return backend->Run(segments, absl::MakeSpan(logits));
  };
  for (int s = 0; s < flags.warmup && status.ok(); ++s) status = step(s);
  double seconds = 0;
  if (status.ok()) {
    const Clock::time_point start = Clock::now();
    for (int s = 0; s < flags.steps && status.ok(); ++s) status = step(flags.warmup + s);
    seconds = Seconds(start, Clock::now());
  }
  if (status.ok()) status = CheckFinite(logits, absl::StrCat("decode B=", b));
  status.Update(ReleaseAll(backend, &states));
  if (!status.ok()) return status;
  return seconds;
}

// Median seconds of prefilling flags.prefill tokens into a fresh stream.
absl::StatusOr<double> TimePrefill(Backend* backend, const ModelConfig& c, const Flags& flags) {
  std::vector<int> tokens(flags.prefill);
  for (int t = 0; t < flags.prefill; ++t) tokens[t] = TokenFor(0, t, c.vocab);
  std::vector<float> logits(c.vocab);
  std::vector<double> times;
  for (int run = 0; run <= flags.prefill_runs; ++run) {  // run 0 is the warm-up
    std::vector<RecurrentState> state;
    state.emplace_back(c);
    const Backend::Segment segment = {tokens, &state[0]};
    const Clock::time_point start = Clock::now();
    absl::Status status = backend->Run(absl::MakeConstSpan(&segment, 1), absl::MakeSpan(logits));
    const double seconds = Seconds(start, Clock::now());
    if (status.ok()) status = CheckFinite(logits, "prefill");
    status.Update(ReleaseAll(backend, &state));
    GANDER_RETURN_IF_ERROR(status);
    if (run > 0) times.push_back(seconds);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

absl::Status BenchShape(const Shape& shape, const Flags& flags, Report* report) {
  RandomModelSpec spec;
  spec.layers = shape.layers;
  spec.embd = shape.embd;
  spec.vocab = shape.vocab;
  spec.seed = flags.seed;
  GANDER_ASSIGN_OR_RETURN(const ModelConfig c, engine::RandomModelConfig(spec));

  // Which batches fit: slots = the largest, max_rows = max(it, 1024).
  GANDER_ASSIGN_OR_RETURN(const MemInfo mem, DeviceMemory());
  const double host = static_cast<double>(HostMemoryBytes());
  const double weights = DeviceWeightBytes(c), state = StateBytes(c);
  auto device_need = [&](int b) {
    return weights + ActivationBytes(c, std::max(b, kMinMaxRows)) + b * state +
           static_cast<double>(kDeviceHeadroom);
  };
  // Host: each stream's RecurrentState and logits (the host weights are
  // dropped once uploaded).
  auto host_need = [&](int b) { return b * (state + 4.0 * c.vocab); };
  const int max_batch = flags.batches.empty() ? 1 : flags.batches.back();
  std::fprintf(stderr,
               "%s: L=%d C=%d V=%d LoRA %d/%d/%d/%d; device memory needed ~%.1f GB of weights "
               "(%s), %.1f MB of state per stream (%.1f GB for B=%d), %.2f GB of activations at "
               "max_rows %d, %.1f GB headroom; %.1f GB free of %.1f GB\n",
               shape.name, c.layers, c.embd, c.vocab, c.lora_w, c.lora_a, c.lora_v, c.lora_g,
               weights / kGB, flags.type_name, state / 1e6, max_batch * state / kGB, max_batch,
               ActivationBytes(c, std::max(max_batch, kMinMaxRows)) / kGB,
               std::max(max_batch, kMinMaxRows), static_cast<double>(kDeviceHeadroom) / kGB,
               static_cast<double>(mem.free) / kGB, static_cast<double>(mem.total) / kGB);
  std::vector<int> batches;
  for (int b : flags.batches) {
    if (device_need(b) > static_cast<double>(mem.free)) {
      Note(report, absl::StrFormat("%s, B=%d skipped: needs ~%.1f GB of device memory, %.1f GB "
                                   "free",
                                   shape.name, b, device_need(b) / kGB, mem.free / kGB));
    } else if (host > 0 && host_need(b) > 0.8 * host) {
      Note(report, absl::StrFormat("%s, B=%d skipped: needs ~%.1f GB of host memory for the "
                                   "states, more than 80%% of the %.1f GB here",
                                   shape.name, b, host_need(b) / kGB, host / kGB));
    } else {
      batches.push_back(b);
    }
  }
  if (batches.empty() && device_need(1) > static_cast<double>(mem.free)) {
    Note(report, absl::StrFormat("%s skipped: the weights alone need ~%.1f GB of device memory, "
                                 "%.1f GB free",
                                 shape.name, device_need(1) / kGB, mem.free / kGB));
    return absl::OkStatus();
  }
  const int slots = batches.empty() ? 1 : batches.back();

  Clock::time_point t0 = Clock::now();
  absl::StatusOr<ModelWeights> host_weights = MakeRandomWeights(spec, WeightType::kBF16);
  GANDER_RETURN_IF_ERROR(host_weights.status());
  std::fprintf(stderr, "%s: made %.1f GB of random bf16 weights in %.1f s\n", shape.name,
               2 * MatrixElements(c, true) / kGB, Seconds(t0, Clock::now()));

  CudaBackendOptions options;
  options.device = flags.device;
  options.weight_type = flags.type;
  options.slots = slots;
  options.max_rows = std::max(slots, kMinMaxRows);
  t0 = Clock::now();
  absl::StatusOr<std::unique_ptr<Backend>> created =
      engine::cuda::CreateCudaBackend(*host_weights, options);
  *host_weights = ModelWeights();  // the device has its copy
  GANDER_RETURN_IF_ERROR(created.status());
  std::unique_ptr<Backend> backend = *std::move(created);
  GANDER_ASSIGN_OR_RETURN(const MemInfo after, DeviceMemory());
  std::fprintf(stderr,
               "%s: backend created in %.1f s (slots %d, max_rows %d); it holds %.1f GB of device "
               "memory (estimate %.1f GB without headroom)\n",
               shape.name, Seconds(t0, Clock::now()), options.slots, options.max_rows,
               (static_cast<double>(mem.free) - after.free) / kGB,
               (device_need(slots) - kDeviceHeadroom) / kGB);

  for (int b : batches) {
    GANDER_ASSIGN_OR_RETURN(const double seconds, TimeDecode(backend.get(), c, b, flags));
    const double tokens_per_s = static_cast<double>(b) * flags.steps / seconds;
    const double ms_per_step = 1e3 * seconds / flags.steps;
    report->rows.push_back(absl::StrFormat("| %s | %s | %d | %.1f | %.3f |", shape.name,
                                           flags.type_name, b, tokens_per_s, ms_per_step));
    std::fprintf(stderr, "%s\n", report->rows.back().c_str());
    if (b == 1 && report->bandwidth > 0) {
      const double bytes = 2 * MatrixElements(c, /*with_emb=*/false);
      const double rate = bytes / (seconds / flags.steps);
      Note(report, absl::StrFormat("%s, B=1: %.3f GB of matrix weights per token (head included, "
                                   "embedding excluded) at %.3f ms/token = %.0f GB/s, %.0f%% of "
                                   "the measured bandwidth",
                                   shape.name, bytes / kGB, ms_per_step, rate / kGB,
                                   100 * rate / report->bandwidth));
    }
  }
  if (flags.prefill > 0) {
    GANDER_ASSIGN_OR_RETURN(const double seconds, TimePrefill(backend.get(), c, flags));
    report->rows.push_back(absl::StrFormat("| %s | %s | prefill T=%d | %.0f | %.3f |", shape.name,
                                           flags.type_name, flags.prefill, flags.prefill / seconds,
                                           1e3 * seconds));
    std::fprintf(stderr, "%s\n", report->rows.back().c_str());
  }
  return absl::OkStatus();
}

absl::Status RunAll(const Flags& flags, Report* report) {
  GANDER_CUDA_RETURN_IF_ERROR(cudaSetDevice(flags.device));
  cudaDeviceProp prop;
  GANDER_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, flags.device));
  int driver = 0, runtime = 0;
  GANDER_CUDA_RETURN_IF_ERROR(cudaDriverGetVersion(&driver));
  GANDER_CUDA_RETURN_IF_ERROR(cudaRuntimeGetVersion(&runtime));
  report->gpu = absl::StrFormat(
      "%s (device %d, compute capability %d.%d, %.1f GiB, %d SMs; CUDA driver %d.%d, runtime "
      "%d.%d)",
      prop.name, flags.device, prop.major, prop.minor,
      static_cast<double>(prop.totalGlobalMem) / kGiB, prop.multiProcessorCount, driver / 1000,
      driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
  std::fprintf(stderr, "GPU: %s\n", report->gpu.c_str());

  // The copy bandwidth: 2 GiB each way, less when that would not fit.
  GANDER_ASSIGN_OR_RETURN(const MemInfo mem, DeviceMemory());
  size_t bytes = 2 * kGiB;
  while (bytes > (size_t{64} << 20) && 2 * bytes + kGiB / 2 > mem.free) bytes /= 2;
  GANDER_ASSIGN_OR_RETURN(report->bandwidth, CopyBandwidth(bytes));
  report->bandwidth_bytes = bytes;
  std::fprintf(stderr, "device copy bandwidth: %.0f GB/s\n", report->bandwidth / kGB);

  for (const Shape& shape : flags.shapes) GANDER_RETURN_IF_ERROR(BenchShape(shape, flags, report));
  return absl::OkStatus();
}

}  // namespace
}  // namespace gander::bench

int main(int argc, char** argv) {
  using gander::bench::Report;
  Report report;
  report.command = absl::StrJoin(argv, argv + argc, " ");
  report.date = absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(), absl::UTCTimeZone());
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<gander::bench::Flags> flags = gander::bench::ReadFlags();
  if (!flags.ok()) {
    std::fprintf(stderr, "cuda_benchmark: %s\n", flags.status().ToString().c_str());
    return 2;
  }
  if (absl::Status device = gander::engine::cuda::CudaDeviceAvailable(); !device.ok()) {
    std::fprintf(stderr, "cuda_benchmark: no usable CUDA device: %s\n", device.ToString().c_str());
    return 2;
  }
  const absl::Status status = gander::bench::RunAll(*flags, &report);
  report.Print(stdout);
  if (!status.ok()) {
    std::fprintf(stderr, "cuda_benchmark: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
