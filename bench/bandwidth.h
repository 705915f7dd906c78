// Memory read bandwidth of this machine, measured the way memory-bound
// kernels read: wide vector loads streaming through a buffer far larger than
// the caches. Benchmarks use it to report what fraction of the machine's
// bandwidth a kernel reaches, measured in the same run.
//
// Example:
//   double gbps = gander::bench::MeasureReadBandwidth(512 << 20, 2);
#ifndef GANDER_BENCH_BANDWIDTH_H_
#define GANDER_BENCH_BANDWIDTH_H_

#include <cstddef>
#include <cstdint>

namespace gander::bench {

// Sum of words [0, words) of p (words a multiple of 16, p 32-byte aligned),
// with 256-bit loads where the CPU has AVX2 (chosen at run time).
uint64_t SumWords(const uint64_t* p, size_t words);

// Best of `repeats` passes of `threads` threads each summing its slice of a
// `bytes` buffer, in GB/s (1e9 bytes per second).
double MeasureReadBandwidth(size_t bytes, int threads, int repeats = 5);

}  // namespace gander::bench

#endif  // GANDER_BENCH_BANDWIDTH_H_
