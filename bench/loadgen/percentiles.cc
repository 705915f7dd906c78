#include "bench/loadgen/percentiles.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace gander::bench {

double PercentileOfSorted(absl::Span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  if (!(p > 0)) return sorted.front();  // also NaN
  if (p >= 100) return sorted.back();
  // p * n first: exact whenever p is a whole number, so p = 50 of 10
  // samples is rank 5, not 5.000000001 rounded up to 6.
  const double exact_rank = p * static_cast<double>(sorted.size()) / 100.0;
  size_t rank = static_cast<size_t>(std::ceil(exact_rank));
  rank = std::min(std::max<size_t>(rank, 1), sorted.size());
  return sorted[rank - 1];
}

LatencySummary Summarize(std::vector<double> samples) {
  LatencySummary summary;
  if (samples.empty()) return summary;
  std::sort(samples.begin(), samples.end());
  summary.count = samples.size();
  summary.p50 = PercentileOfSorted(samples, 50);
  summary.p99 = PercentileOfSorted(samples, 99);
  summary.max = samples.back();
  summary.mean =
      std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return summary;
}

}  // namespace gander::bench
