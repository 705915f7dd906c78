#include "bench/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace gander::bench {
namespace {

using U64x4 = uint64_t __attribute__((vector_size(32)));

__attribute__((target("avx2"))) uint64_t SumAvx2(const uint64_t* p, size_t words) {
  U64x4 a = {}, b = {}, c = {}, d = {};
  const U64x4* v = reinterpret_cast<const U64x4*>(p);
  for (size_t i = 0; i + 16 <= words; i += 16, v += 4) {
    a += v[0];
    b += v[1];
    c += v[2];
    d += v[3];
  }
  const U64x4 t = (a + b) + (c + d);
  return t[0] + t[1] + t[2] + t[3];
}

uint64_t SumBaseline(const uint64_t* p, size_t words) {
  U64x4 a = {}, b = {};
  const U64x4* v = reinterpret_cast<const U64x4*>(p);
  for (size_t i = 0; i + 8 <= words; i += 8, v += 2) {
    a += v[0];
    b += v[1];
  }
  const U64x4 t = a + b;
  return t[0] + t[1] + t[2] + t[3];
}

}  // namespace

uint64_t SumWords(const uint64_t* p, size_t words) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? SumAvx2(p, words) : SumBaseline(p, words);
}

double MeasureReadBandwidth(size_t bytes, int threads, int repeats) {
  const size_t words = bytes / sizeof(uint64_t) / threads / 16 * 16 * threads;
  uint64_t* buffer = static_cast<uint64_t*>(std::aligned_alloc(64, words * sizeof(uint64_t)));
  for (size_t i = 0; i < words; ++i) buffer[i] = i;
  const size_t slice = words / threads;
  double best = 0;
  std::vector<uint64_t> sums(threads);
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) {
      pool.emplace_back([&, t] { sums[t] = SumWords(buffer + t * slice, slice); });
    }
    sums[0] = SumWords(buffer, slice);
    for (auto& th : pool) th.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, words * sizeof(uint64_t) / seconds / 1e9);
  }
  std::free(buffer);
  return best;
}

}  // namespace gander::bench
