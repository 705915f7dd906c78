// PlanPasses: rows, segments, chunking of long segments and logit routing.
#include "engine/device/pass_plan.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::device {
namespace {

using ::testing::ElementsAre;

std::vector<Pass> Plan(const std::vector<std::vector<int>>& segments, std::vector<int> slots,
                       int max_rows) {
  std::vector<absl::Span<const int>> spans(segments.begin(), segments.end());
  return PlanPasses(spans, slots, max_rows);
}

TEST(PassPlanTest, DecodeBatchIsOnePassOfSingleRows) {
  std::vector<Pass> passes = Plan({{5}, {6}, {7}}, {2, 0, 1}, 8);
  ASSERT_EQ(passes.size(), 1u);
  const Pass& p = passes[0];
  EXPECT_THAT(p.tokens, ElementsAre(5, 6, 7));
  EXPECT_THAT(p.row_slot, ElementsAre(2, 0, 1));
  EXPECT_THAT(p.prev_row, ElementsAre(-1, -1, -1));
  EXPECT_THAT(p.seg_start, ElementsAre(0, 1, 2));
  EXPECT_THAT(p.seg_len, ElementsAre(1, 1, 1));
  EXPECT_THAT(p.seg_slot, ElementsAre(2, 0, 1));
  EXPECT_THAT(p.seg_last_row, ElementsAre(0, 1, 2));
  EXPECT_THAT(p.logit_row, ElementsAre(0, 1, 2));
  EXPECT_THAT(p.logit_dest, ElementsAre(0, 1, 2));
  EXPECT_TRUE(p.decode_only());
}

TEST(PassPlanTest, MixedBatchChainsRowsWithinASegment) {
  std::vector<Pass> passes = Plan({{1}, {2, 3, 4}, {9}}, {0, 1, 2}, 16);
  ASSERT_EQ(passes.size(), 1u);
  const Pass& p = passes[0];
  EXPECT_THAT(p.tokens, ElementsAre(1, 2, 3, 4, 9));
  EXPECT_THAT(p.row_slot, ElementsAre(0, 1, 1, 1, 2));
  EXPECT_THAT(p.prev_row, ElementsAre(-1, -1, 1, 2, -1));
  EXPECT_THAT(p.seg_start, ElementsAre(0, 1, 4));
  EXPECT_THAT(p.seg_len, ElementsAre(1, 3, 1));
  EXPECT_THAT(p.seg_last_row, ElementsAre(0, 3, 4));
  EXPECT_THAT(p.logit_seg, ElementsAre(0, 1, 2));
  EXPECT_THAT(p.logit_row, ElementsAre(0, 3, 4));
  EXPECT_FALSE(p.decode_only());
}

TEST(PassPlanTest, LongSegmentContinuesInTheNextPassAndOnlyItsLastChunkHasLogits) {
  // max_rows 4: [a0] [b0 b1 b2] | [b3 b4 b5 b6] | [b7] [c0]
  std::vector<Pass> passes = Plan({{100}, {0, 1, 2, 3, 4, 5, 6, 7}, {200}}, {3, 1, 0}, 4);
  ASSERT_EQ(passes.size(), 3u);
  EXPECT_THAT(passes[0].tokens, ElementsAre(100, 0, 1, 2));
  EXPECT_THAT(passes[0].seg_slot, ElementsAre(3, 1));
  EXPECT_THAT(passes[0].logit_dest, ElementsAre(0));  // b is not finished
  EXPECT_THAT(passes[1].tokens, ElementsAre(3, 4, 5, 6));
  EXPECT_THAT(passes[1].prev_row, ElementsAre(-1, 0, 1, 2));  // continues from the slot
  EXPECT_THAT(passes[1].seg_slot, ElementsAre(1));
  EXPECT_TRUE(passes[1].logit_dest.empty());
  EXPECT_THAT(passes[2].tokens, ElementsAre(7, 200));
  EXPECT_THAT(passes[2].seg_slot, ElementsAre(1, 0));
  EXPECT_THAT(passes[2].logit_seg, ElementsAre(0, 1));
  EXPECT_THAT(passes[2].logit_dest, ElementsAre(1, 2));
  for (const Pass& p : passes) EXPECT_LE(p.rows(), 4);
}

TEST(PassPlanTest, EveryTokenAppearsOnceInOrderPerSegment) {
  std::vector<std::vector<int>> segments;
  std::vector<int> slots;
  for (int s = 0; s < 7; ++s) {
    std::vector<int> tokens;
    for (int t = 0; t < 1 + s * 5; ++t) tokens.push_back(s * 1000 + t);
    segments.push_back(tokens);
    slots.push_back(6 - s);
  }
  for (int max_rows : {1, 3, 7, 64}) {
    std::vector<std::vector<int>> seen(7);
    std::vector<int> logits_for(7, 0);
    for (const Pass& p : Plan(segments, slots, max_rows)) {
      ASSERT_LE(p.rows(), max_rows);
      for (int s = 0; s < p.segments(); ++s) {
        const int owner = p.tokens[p.seg_start[s]] / 1000;
        EXPECT_EQ(p.seg_slot[s], slots[owner]);
        for (int r = p.seg_start[s]; r <= p.seg_last_row[s]; ++r)
          seen[owner].push_back(p.tokens[r]);
      }
      for (size_t k = 0; k < p.logit_dest.size(); ++k) {
        // A pass's logits are consecutive rows of the caller's output (the
        // CUDA executor copies them back in one piece).
        EXPECT_EQ(p.logit_dest[k], p.logit_dest[0] + static_cast<int>(k));
        ++logits_for[p.logit_dest[k]];
        EXPECT_EQ(p.logit_row[k], p.seg_last_row[p.logit_seg[k]]);
      }
    }
    EXPECT_EQ(seen, segments) << "max_rows " << max_rows;
    EXPECT_THAT(logits_for, ::testing::Each(1));
  }
}

}  // namespace
}  // namespace gander::engine::device
