// Latency statistics for the load generator: nearest-rank percentiles and a
// summary (count, p50, p99, max, mean) of a set of samples.
//
// The p-th percentile (nearest rank) is the smallest sample such that at
// least p% of the samples are <= it: the sample at rank ceil(p/100 * n) in
// ascending order (rank 1 for p = 0). It is always one of the samples, so
// p99 of 10 samples is the largest, not an interpolation.
//
// Example:
//   LatencySummary s = Summarize({3.0, 1.0, 2.0, 4.0});
//   // s.count == 4, s.p50 == 2.0, s.p99 == 4.0, s.max == 4.0, s.mean == 2.5
//
// Thread safety: pure functions. Samples are in any unit (the caller's).
#ifndef GANDER_BENCH_LOADGEN_PERCENTILES_H_
#define GANDER_BENCH_LOADGEN_PERCENTILES_H_

#include <cstddef>
#include <vector>

#include "absl/types/span.h"

namespace gander::bench {

// The nearest-rank p-th percentile of `sorted` (ascending). p is clamped to
// [0, 100]; an empty span gives 0.
double PercentileOfSorted(absl::Span<const double> sorted, double p);

// Count, percentiles, maximum and mean of some samples.
struct LatencySummary {
  size_t count = 0;  // number of samples; 0: every other field is 0
  double p50 = 0;    // median (nearest rank)
  double p99 = 0;    // 99th percentile (nearest rank)
  double max = 0;    // largest sample
  double mean = 0;   // arithmetic mean
};

// Summarizes `samples` (taken by value: sorted in place).
LatencySummary Summarize(std::vector<double> samples);

}  // namespace gander::bench

#endif  // GANDER_BENCH_LOADGEN_PERCENTILES_H_
