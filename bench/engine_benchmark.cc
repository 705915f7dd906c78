// Speed of the CPU engine on a random model shaped like a released one.
//
//   BM_Decode/B/dtype       one token for each of B streams (tokens/s = B per step)
//   BM_Prefill/T/dtype      T tokens of one stream (tokens/s = T per call)
//   BM_Load/dtype           loading the model file (memory-mapped .pth)
//   (dtype 0 = bf16 weights, 1 = fp32 weights)
//
// The model is written at start-up to $TMPDIR with `gander init-random`'s
// generator. --shape=0.1b (default: L=12, C=768, V=65536, the shape of the
// released RWKV-7 0.1B) or --shape=tiny (L=2, C=128, V=1024, for a quick check).
//
// Run: bazel run -c opt //bench:engine_benchmark -- --benchmark_min_time=2
// Decode at B=1 reads every weight once per token, so its ceiling is the
// machine's memory bandwidth (bench/memory_bandwidth_benchmark); the
// `weight_GBps` counter reports the weight bytes read per second.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bandwidth.h"
#include "engine/model.h"
#include "engine/weights/random_model.h"

namespace {

using gander::engine::LoadOptions;
using gander::engine::Model;
using gander::engine::RecurrentState;
using gander::engine::WeightType;

gander::engine::RandomModelSpec g_spec;
std::string g_path;
// The machine's read bandwidth (GB/s), measured at start-up in this run.
double g_read_gbps = 0;

WeightType TypeOf(int64_t arg) { return arg == 0 ? WeightType::kBF16 : WeightType::kF32; }

// Loaded models, one per weight type, kept across benchmarks.
Model* GetModel(WeightType type) {
  static std::map<WeightType, std::unique_ptr<Model>> models;
  auto& slot = models[type];
  if (!slot) {
    LoadOptions options;
    options.type = type;
    auto model = Model::Load(g_path, options);
    if (!model.ok()) {
      std::fprintf(stderr, "load failed: %s\n", model.status().ToString().c_str());
      std::exit(1);
    }
    slot = *std::move(model);
  }
  return slot.get();
}

// Bytes of matrix weights read by one pass over all rows (the head once).
double WeightBytes(const Model& model) {
  const auto& c = model.config();
  const double per_layer = 4.0 * c.embd * c.embd + 2.0 * c.embd * c.ffn +
                           2.0 * c.embd * (c.lora_w + c.lora_a + c.lora_v + c.lora_g);
  const double params = c.layers * per_layer + static_cast<double>(c.vocab) * c.embd;
  return params * (model.weights().type == WeightType::kBF16 ? 2 : 4);
}

void BM_Decode(benchmark::State& state) {
  Model* model = GetModel(TypeOf(state.range(1)));
  const int batch = static_cast<int>(state.range(0));
  std::vector<RecurrentState> states(batch, model->NewState());
  std::vector<RecurrentState*> ptrs;
  for (auto& s : states) ptrs.push_back(&s);
  std::vector<int> tokens(batch);
  std::vector<float> logits(static_cast<size_t>(batch) * model->config().vocab);
  int step = 0;
  for (auto _ : state) {
    for (int b = 0; b < batch; ++b) tokens[b] = (step * 31 + b * 7) % model->config().vocab;
    ++step;
    auto s = model->DecodeBatch(tokens, ptrs, absl::MakeSpan(logits));
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight_GBps"] =
      benchmark::Counter(WeightBytes(*model) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  // Fraction of the read bandwidth measured at start-up that this decode
  // reaches (weight bytes per step over step time).
  state.counters["of_read_bw"] = benchmark::Counter(WeightBytes(*model) / 1e9 / g_read_gbps,
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Prefill(benchmark::State& state) {
  Model* model = GetModel(TypeOf(state.range(1)));
  const int t = static_cast<int>(state.range(0));
  std::vector<int> tokens(t);
  for (int i = 0; i < t; ++i) tokens[i] = (i * 131 + 17) % model->config().vocab;
  std::vector<float> logits(model->config().vocab);
  for (auto _ : state) {
    RecurrentState s = model->NewState();
    auto status = model->Prefill(tokens, &s, absl::MakeSpan(logits));
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(t), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Load(benchmark::State& state) {
  LoadOptions options;
  options.type = TypeOf(state.range(0));
  for (auto _ : state) {
    auto model = Model::Load(g_path, options);
    if (!model.ok()) state.SkipWithError(model.status().ToString().c_str());
    benchmark::DoNotOptimize(model);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape = "0.1b";
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--shape=", 8) == 0) {
      shape = argv[i] + 8;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (shape == "0.1b") {
    g_spec.layers = 12;
    g_spec.embd = 768;
    g_spec.vocab = 65536;
  } else if (shape == "tiny") {
    g_spec.layers = 2;
    g_spec.embd = 128;
    g_spec.vocab = 1024;
  } else {
    std::fprintf(stderr, "--shape must be 0.1b or tiny\n");
    return 2;
  }
  g_spec.seed = 7;
  g_read_gbps = gander::bench::MeasureReadBandwidth(
      size_t{1} << 29, static_cast<int>(std::thread::hardware_concurrency()));
  std::fprintf(stderr, "read bandwidth (512 MiB, all cores, best of 5): %.1f GB/s\n", g_read_gbps);
  const char* tmp = std::getenv("TMPDIR");
  g_path = std::string(tmp ? tmp : "/tmp") + "/gander-bench-" + shape + ".pth";
  auto written = gander::engine::WriteRandomModel(
      g_spec, g_path, gander::engine::TensorFormat::kPth, gander::engine::FileDtype::kBF16);
  if (!written.ok()) {
    std::fprintf(stderr, "cannot write %s: %s\n", g_path.c_str(), written.ToString().c_str());
    return 1;
  }

  for (int dtype : {0, 1}) {
    for (int b : {1, 16, 64}) {
      benchmark::RegisterBenchmark("BM_Decode", BM_Decode)->Args({b, dtype})->UseRealTime();
    }
    benchmark::RegisterBenchmark("BM_Prefill", BM_Prefill)->Args({512, dtype})->UseRealTime();
    benchmark::RegisterBenchmark("BM_Load", BM_Load)->Arg(dtype)->UseRealTime();
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::remove(g_path.c_str());
  return 0;
}
