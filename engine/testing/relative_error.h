// The accuracy metric the engine's tests use against reference outputs:
// max|got - want| / std(want) over a whole output (logits [V] or a state),
// so one bound fits outputs of any scale. Test-only.
//
// Example:
//   EXPECT_LE(MaxErrorOverStd(logits, golden), 1e-5);
#ifndef GANDER_ENGINE_TESTING_RELATIVE_ERROR_H_
#define GANDER_ENGINE_TESTING_RELATIVE_ERROR_H_

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/types/span.h"

namespace gander::engine::testing {

// Infinity when the sizes differ or `want` is empty.
inline double MaxErrorOverStd(absl::Span<const float> got, absl::Span<const float> want) {
  if (got.size() != want.size() || want.empty()) return std::numeric_limits<double>::infinity();
  double mean = 0;
  for (float w : want) mean += w;
  mean /= want.size();
  double var = 0;
  for (float w : want) var += (w - mean) * (w - mean);
  const double sd = std::sqrt(var / want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
  }
  return worst / sd;
}

}  // namespace gander::engine::testing

#endif  // GANDER_ENGINE_TESTING_RELATIVE_ERROR_H_
