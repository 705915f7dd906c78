// Memory bandwidth of this machine: the ceiling for memory-bound work such
// as decoding one token at batch 1, which reads every weight once.
//
//   BM_Memcpy/BYTES              copy (counts bytes read + bytes written)
//   BM_Read/BYTES/threads:T      streaming read by T threads, each over its
//                                own slice of one shared buffer
//
// Buffers are far larger than the caches (256 MiB by default), so the figure
// is DRAM bandwidth. Run:
//   bazel run -c opt //bench:memory_bandwidth_benchmark
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "bench/bandwidth.h"

namespace {

constexpr int64_t kMiB = 1 << 20;

void BM_Memcpy(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> src(bytes, 1), dst(bytes, 0);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * bytes * 2);
}
BENCHMARK(BM_Memcpy)->Arg(16 * kMiB)->Arg(256 * kMiB)->UseRealTime();

// One buffer shared by all threads of a run (32-byte aligned); each thread
// sums its own slice.
uint64_t* shared_buffer = nullptr;

void BM_Read(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  const size_t words = bytes / sizeof(uint64_t);
  if (state.thread_index() == 0) {
    shared_buffer = static_cast<uint64_t*>(std::aligned_alloc(64, bytes));
    for (size_t i = 0; i < words; ++i) shared_buffer[i] = i;
  }
  // Google Benchmark starts the timing loop of all threads together, after
  // thread 0's setup above.
  const size_t slice = words / state.threads() / 16 * 16;
  for (auto _ : state) {
    const uint64_t* p = shared_buffer + slice * state.thread_index();
    benchmark::DoNotOptimize(gander::bench::SumWords(p, slice));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * slice * sizeof(uint64_t));
  if (state.thread_index() == 0) {
    std::free(shared_buffer);
    shared_buffer = nullptr;
  }
}
BENCHMARK(BM_Read)
    ->Arg(16 * kMiB)
    ->Arg(256 * kMiB)
    ->ThreadRange(1, static_cast<int>(std::thread::hardware_concurrency()))
    ->UseRealTime();

}  // namespace
