// Benchmarks of the CPU matmul at the RWKV-7 0.1B shapes: the [768, 768]
// time-mix projections, the [3072, 768] and [768, 3072] channel mix and the
// [65536, 768] head, for t = 1 (decode), 16 (batched decode) and 512
// (prefill), float32 and bf16 weights, on 1 and 2 threads.
//
// bytes_per_second is weight bytes read per second (rows * cols * element
// size per call); FLOPS counts 2 * rows * cols * t per call. Unless a
// weight matrix alone exceeds the last-level cache, each call uses the next
// of several copies of it (together more than kColdBytes), so weights come
// from memory as they do in a real decode step (the whole model does not
// fit in cache), not from a warm cache.
//
// Quick run:
//   bazel run //kernels/cpu:matmul_benchmark -- --benchmark_min_time=0.2
//       --benchmark_filter='BF16/rows:768/cols:3072/t:1/'
// Arguments: rows / cols / t / threads / isa (0 best, 1 portable).

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace gander::kernels::cpu {
namespace {

using matmul_internal::Isa;

// Total size of the rotating weight copies: well above a 32 MiB L3.
constexpr size_t kColdBytes = size_t{192} << 20;

ThreadPool* PoolFor(int threads) {
  static auto* pools = new std::map<int, std::unique_ptr<ThreadPool>>();
  std::unique_ptr<ThreadPool>& pool = (*pools)[threads];
  if (!pool) pool = std::make_unique<ThreadPool>(threads);
  return pool.get();
}

template <typename W>
W RandomWeight(std::mt19937& rng);

template <>
float RandomWeight<float>(std::mt19937& rng) {
  return std::uniform_real_distribution<float>(-0.05f, 0.05f)(rng);
}

template <>
uint16_t RandomWeight<uint16_t>(std::mt19937& rng) {
  const float f = RandomWeight<float>(rng);
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return static_cast<uint16_t>(u >> 16);
}

// The rotating copies of a random [rows, cols] matrix, kept for the latest
// shape only (Google Benchmark calls a benchmark function several times).
template <typename W>
const std::vector<std::vector<W>>& WeightCopies(int rows, int cols) {
  static auto* shape = new std::pair<int, int>(0, 0);
  static auto* copies = new std::vector<std::vector<W>>();
  if (*shape != std::make_pair(rows, cols)) {
    copies->clear();
    const size_t elems = static_cast<size_t>(rows) * cols;
    const size_t bytes = elems * sizeof(W);
    const size_t count = bytes >= kColdBytes ? 1 : (kColdBytes + bytes - 1) / bytes;
    std::mt19937 rng(1);
    std::vector<W> first(elems);
    for (W& v : first) v = RandomWeight<W>(rng);
    copies->assign(count, first);
    *shape = {rows, cols};
  }
  return *copies;
}

template <typename W>
void BM_MatMul(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0));
  const int cols = static_cast<int>(state.range(1));
  const int64_t t = state.range(2);
  ThreadPool* pool = PoolFor(static_cast<int>(state.range(3)));
  const Isa isa = state.range(4) == 0 ? matmul_internal::BestIsa() : Isa::kPortable;

  const size_t elems = static_cast<size_t>(rows) * cols;
  const size_t bytes = elems * sizeof(W);
  const std::vector<std::vector<W>>& w = WeightCopies<W>(rows, cols);
  const size_t copies = w.size();
  std::mt19937 rng(2);
  std::vector<float> x(static_cast<size_t>(t) * cols);
  for (float& v : x) v = RandomWeight<float>(rng);
  std::vector<float> y(static_cast<size_t>(t) * rows);

  size_t next = 0;
  for (auto _ : state) {
    const W* weights = w[next].data();
    if (++next == copies) next = 0;
    if constexpr (std::is_same_v<W, float>) {
      matmul_internal::MatMulF32WithIsa(isa, weights, rows, cols, x.data(), t, y.data(), pool,
                                        MatMulOutput::kOverwrite);
    } else {
      matmul_internal::MatMulBF16WithIsa(isa, weights, rows, cols, x.data(), t, y.data(), pool,
                                         MatMulOutput::kOverwrite);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
  state.counters["FLOPS"] = benchmark::Counter(
      2.0 * static_cast<double>(elems) * static_cast<double>(t) * state.iterations(),
      benchmark::Counter::kIsRate);
  state.SetLabel(state.range(4) == 0 ? MatMulIsaName() : "portable");
}

void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows", "cols", "t", "threads", "isa"});
  const int64_t shapes[][2] = {{768, 768}, {3072, 768}, {768, 3072}, {65536, 768}};
  for (const auto& shape : shapes) {
    for (int64_t t : {1, 16, 512}) {
      for (int64_t threads : {1, 2}) b->Args({shape[0], shape[1], t, threads, 0});
    }
  }
  // The portable path, for comparison.
  b->Args({768, 3072, 1, 1, 1});
  b->Args({768, 3072, 16, 1, 1});
  b->UseRealTime();
  b->Unit(benchmark::kMicrosecond);
}

// The fixed cost of one ParallelFor call with back-to-back calls (as in a
// decode step): each thread gets one chunk of trivial work.
void BM_ParallelForOverhead(benchmark::State& state) {
  ThreadPool* pool = PoolFor(static_cast<int>(state.range(0)));
  std::vector<int64_t> sink(static_cast<size_t>(pool->num_threads()) * 16);
  int64_t* out = sink.data();
  for (auto _ : state) {
    pool->ParallelFor(pool->num_threads(), 1, [out](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[i * 16] += 1;
    });
  }
  benchmark::DoNotOptimize(sink.data());
}
BENCHMARK(BM_ParallelForOverhead)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

BENCHMARK_TEMPLATE(BM_MatMul, float)->Name("MatMulF32")->Apply(Shapes);
BENCHMARK_TEMPLATE(BM_MatMul, uint16_t)->Name("MatMulBF16")->Apply(Shapes);

}  // namespace
}  // namespace gander::kernels::cpu
