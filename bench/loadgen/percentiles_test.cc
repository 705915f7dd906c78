#include "bench/loadgen/percentiles.h"

#include <vector>

#include "gtest/gtest.h"

namespace gander::bench {
namespace {

std::vector<double> OneTo(int n) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

TEST(PercentileOfSortedTest, NearestRankOnOneToHundred) {
  const std::vector<double> v = OneTo(100);
  EXPECT_EQ(PercentileOfSorted(v, 0), 1);
  EXPECT_EQ(PercentileOfSorted(v, 1), 1);
  EXPECT_EQ(PercentileOfSorted(v, 1.5), 2);
  EXPECT_EQ(PercentileOfSorted(v, 50), 50);
  EXPECT_EQ(PercentileOfSorted(v, 50.01), 51);
  EXPECT_EQ(PercentileOfSorted(v, 99), 99);
  EXPECT_EQ(PercentileOfSorted(v, 99.5), 100);
  EXPECT_EQ(PercentileOfSorted(v, 100), 100);
}

TEST(PercentileOfSortedTest, SmallSetsNeverInterpolate) {
  const std::vector<double> ten = OneTo(10);
  EXPECT_EQ(PercentileOfSorted(ten, 50), 5);
  EXPECT_EQ(PercentileOfSorted(ten, 51), 6);
  EXPECT_EQ(PercentileOfSorted(ten, 99), 10);
  EXPECT_EQ(PercentileOfSorted(ten, 10), 1);
  EXPECT_EQ(PercentileOfSorted(ten, 10.0001), 2);
  const std::vector<double> one = {7.5};
  EXPECT_EQ(PercentileOfSorted(one, 0), 7.5);
  EXPECT_EQ(PercentileOfSorted(one, 50), 7.5);
  EXPECT_EQ(PercentileOfSorted(one, 100), 7.5);
  const std::vector<double> two = {1, 9};
  EXPECT_EQ(PercentileOfSorted(two, 50), 1);
  EXPECT_EQ(PercentileOfSorted(two, 51), 9);
}

TEST(PercentileOfSortedTest, EmptyAndOutOfRange) {
  EXPECT_EQ(PercentileOfSorted({}, 50), 0);
  const std::vector<double> v = OneTo(4);
  EXPECT_EQ(PercentileOfSorted(v, -5), 1);
  EXPECT_EQ(PercentileOfSorted(v, 250), 4);
}

TEST(SummarizeTest, SortsAndSummarizes) {
  LatencySummary s = Summarize({3.0, 1.0, 4.0, 2.0});
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.p50, 2.0);
  EXPECT_EQ(s.p99, 4.0);
  EXPECT_EQ(s.max, 4.0);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
}

TEST(SummarizeTest, ThousandSamplesInReverse) {
  std::vector<double> v;
  for (int i = 1000; i >= 1; --i) v.push_back(i * 0.5);
  LatencySummary s = Summarize(v);
  EXPECT_EQ(s.count, 1000u);
  EXPECT_EQ(s.p50, 250.0);  // rank 500
  EXPECT_EQ(s.p99, 495.0);  // rank 990
  EXPECT_EQ(s.max, 500.0);
  EXPECT_DOUBLE_EQ(s.mean, 250.25);
}

TEST(SummarizeTest, Empty) {
  LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p50, 0);
  EXPECT_EQ(s.max, 0);
  EXPECT_EQ(s.mean, 0);
}

}  // namespace
}  // namespace gander::bench
