// GraphCache: when to capture, replay, evict and give up.
#include "engine/device/graph_cache.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::device {
namespace {

using Action = GraphCache::Action;

TEST(GraphCacheTest, CapturesAfterRepeatedUseThenReplays) {
  GraphCache cache({.capacity = 4, .capture_after = 2, .max_batch = 64});
  EXPECT_EQ(cache.Plan(8), Action::kEager);
  EXPECT_EQ(cache.Plan(8), Action::kCapture);
  cache.Captured(8);
  EXPECT_TRUE(cache.has_graph(8));
  EXPECT_EQ(cache.Plan(8), Action::kReplay);
  EXPECT_EQ(cache.Plan(8), Action::kReplay);
  EXPECT_EQ(cache.Plan(3), Action::kEager);  // a different size counts on its own
}

TEST(GraphCacheTest, OversizeAndDisabledRunEagerly) {
  GraphCache cache({.capacity = 4, .capture_after = 1, .max_batch = 16});
  EXPECT_EQ(cache.Plan(17), Action::kEager);
  EXPECT_EQ(cache.Plan(17), Action::kEager);
  EXPECT_EQ(cache.Plan(0), Action::kEager);
  GraphCache off({.capacity = 0, .capture_after = 1, .max_batch = 16});
  EXPECT_EQ(off.Plan(4), Action::kEager);
  EXPECT_EQ(off.Plan(4), Action::kEager);
}

TEST(GraphCacheTest, EvictsTheLeastRecentlyReplayed) {
  GraphCache cache({.capacity = 2, .capture_after = 1, .max_batch = 64});
  ASSERT_EQ(cache.Plan(1), Action::kCapture);
  cache.Captured(1);
  ASSERT_EQ(cache.Plan(2), Action::kCapture);
  cache.Captured(2);
  ASSERT_EQ(cache.Plan(1), Action::kReplay);  // 2 is now the older
  ASSERT_EQ(cache.Plan(3), Action::kCapture);
  cache.Captured(3);
  EXPECT_THAT(cache.TakeEvicted(), ::testing::ElementsAre(2));
  EXPECT_TRUE(cache.TakeEvicted().empty());
  EXPECT_TRUE(cache.has_graph(1));
  EXPECT_TRUE(cache.has_graph(3));
  EXPECT_EQ(cache.graphs(), 2);
}

TEST(GraphCacheTest, FailedCaptureIsNotRetried) {
  GraphCache cache({.capacity = 2, .capture_after = 1, .max_batch = 64});
  ASSERT_EQ(cache.Plan(5), Action::kCapture);
  cache.CaptureFailed(5);
  EXPECT_EQ(cache.Plan(5), Action::kEager);
  EXPECT_EQ(cache.Plan(5), Action::kEager);
  EXPECT_FALSE(cache.has_graph(5));
}

TEST(GraphCacheTest, InvalidateAllEvictsEverythingAndRecaptures) {
  GraphCache cache({.capacity = 4, .capture_after = 1, .max_batch = 64});
  for (int b : {4, 1, 2}) {
    ASSERT_EQ(cache.Plan(b), Action::kCapture);
    cache.Captured(b);
  }
  cache.InvalidateAll();
  EXPECT_THAT(cache.TakeEvicted(), ::testing::ElementsAre(1, 2, 4));
  EXPECT_EQ(cache.graphs(), 0);
  EXPECT_EQ(cache.Plan(4), Action::kCapture);
}

}  // namespace
}  // namespace gander::engine::device
