#include "engine/device/pass_plan.h"

#include <algorithm>

namespace gander::engine::device {

std::vector<Pass> PlanPasses(absl::Span<const absl::Span<const int>> tokens,
                             absl::Span<const int> slots, int max_rows) {
  std::vector<Pass> passes;
  if (tokens.empty() || max_rows < 1) return passes;
  passes.emplace_back();
  for (size_t s = 0; s < tokens.size(); ++s) {
    size_t done = 0;
    while (done < tokens[s].size()) {
      if (passes.back().rows() == max_rows) passes.emplace_back();
      Pass& pass = passes.back();
      const int take = static_cast<int>(
          std::min<size_t>(tokens[s].size() - done, static_cast<size_t>(max_rows - pass.rows())));
      const int start = pass.rows();
      const int seg = pass.segments();
      pass.seg_start.push_back(start);
      pass.seg_len.push_back(take);
      pass.seg_slot.push_back(slots[s]);
      pass.seg_last_row.push_back(start + take - 1);
      for (int t = 0; t < take; ++t) {
        pass.tokens.push_back(tokens[s][done + t]);
        pass.row_slot.push_back(slots[s]);
        pass.prev_row.push_back(t == 0 ? -1 : start + t - 1);
      }
      done += take;
      if (done == tokens[s].size()) {
        pass.logit_seg.push_back(seg);
        pass.logit_row.push_back(start + take - 1);
        pass.logit_dest.push_back(static_cast<int>(s));
      }
    }
  }
  return passes;
}

}  // namespace gander::engine::device
