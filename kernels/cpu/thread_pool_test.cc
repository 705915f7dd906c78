#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace gander::kernels::cpu {
namespace {

// Runs ParallelFor(n, min_chunk) and checks that the ranges are non-empty,
// cover [0, n) exactly once and respect min_chunk (all but the last range).
void CheckCoverage(ThreadPool& pool, int64_t n, int64_t min_chunk) {
  SCOPED_TRACE(testing::Message() << "threads=" << pool.num_threads() << " n=" << n
                                  << " min_chunk=" << min_chunk);
  std::vector<std::atomic<int>> hits(std::max<int64_t>(n, 0));
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  pool.ParallelFor(n, min_chunk, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu);
    ranges.emplace_back(begin, end);
  });
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(hits[i].load(), 1) << "index " << i;
  }
  if (n <= 0) {
    EXPECT_TRUE(ranges.empty());
    return;
  }
  std::sort(ranges.begin(), ranges.end());
  EXPECT_EQ(ranges.front().first, 0);
  EXPECT_EQ(ranges.back().second, n);
  for (size_t i = 0; i < ranges.size(); ++i) {
    EXPECT_LT(ranges[i].first, ranges[i].second);
    if (i + 1 < ranges.size()) {
      EXPECT_EQ(ranges[i].second, ranges[i + 1].first);
      EXPECT_GE(ranges[i].second - ranges[i].first, std::max<int64_t>(min_chunk, 1));
    }
  }
}

TEST(ThreadPoolTest, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    ASSERT_EQ(pool.num_threads(), threads);
    for (int64_t n : {-3, 0, 1, 2, 3, 7, 8, 17, 64, 100, 1000, 4099}) {
      for (int64_t min_chunk : {-1, 0, 1, 2, 3, 7, 16, 100, 5000}) {
        CheckCoverage(pool, n, min_chunk);
      }
    }
  }
}

TEST(ThreadPoolTest, DefaultUsesHardwareConcurrency) {
  ThreadPool pool;
  const int hw = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(pool.num_threads(), hw > 0 ? hw : 1);
  CheckCoverage(pool, 1000, 1);
}

TEST(ThreadPoolTest, ClampsThreadCount) {
  EXPECT_GE(ThreadPool(-4).num_threads(), 1);
  ThreadPool big(ThreadPoolOptions{.num_threads = 100000, .spin_microseconds = 0});
  EXPECT_EQ(big.num_threads(), 1024);
  CheckCoverage(big, 5000, 1);
}

TEST(ThreadPoolTest, PoolOfOneRunsInlineOnCaller) {
  ThreadPool pool(1);
  const std::thread::id caller = std::this_thread::get_id();
  int calls = 0;
  pool.ParallelFor(100, 1, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 100);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

// Every one of the pool's threads must run a chunk at the same time: each
// chunk waits for all the others to start, which only completes if the
// chunks run on distinct, concurrent threads.
TEST(ThreadPoolTest, RunsChunksConcurrentlyOnAllThreads) {
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    std::atomic<int> started{0};
    std::atomic<bool> timed_out{false};
    std::mutex mu;
    std::set<std::thread::id> ids;
    pool.ParallelFor(threads, 1, [&](int64_t begin, int64_t end) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(std::this_thread::get_id());
      }
      started.fetch_add(static_cast<int>(end - begin));
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (started.load() < threads) {
        if (std::chrono::steady_clock::now() > deadline) {
          timed_out = true;
          break;
        }
        std::this_thread::yield();
      }
    });
    EXPECT_FALSE(timed_out) << "threads=" << threads;
    EXPECT_EQ(static_cast<int>(ids.size()), threads);
  }
}

TEST(ThreadPoolTest, ManyBackToBackCalls) {
  ThreadPool pool(3);
  std::vector<int64_t> out(257);
  for (int iter = 0; iter < 3000; ++iter) {
    pool.ParallelFor(static_cast<int64_t>(out.size()), 8, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[i] += i;
    });
  }
  for (int64_t i = 0; i < static_cast<int64_t>(out.size()); ++i) {
    ASSERT_EQ(out[i], 3000 * i) << "index " << i;
  }
}

TEST(ThreadPoolTest, WakesSleepingWorkers) {
  ThreadPool pool(ThreadPoolOptions{.num_threads = 3, .spin_microseconds = 0});
  for (int iter = 0; iter < 50; ++iter) {
    // Let the workers fall asleep between some of the calls.
    if (iter % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CheckCoverage(pool, 333, 4);
  }
}

TEST(ThreadPoolTest, NestedCallRunsInline) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(40 * 50);
  pool.ParallelFor(40, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      pool.ParallelFor(50, 1, [&](int64_t b, int64_t e) {
        for (int64_t j = b; j < e; ++j) hits[i * 50 + j].fetch_add(1);
      });
    }
  });
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialisedSafely) {
  ThreadPool pool(3);
  std::vector<int64_t> a(1000), b(1000);
  auto run = [&pool](std::vector<int64_t>* v) {
    for (int iter = 0; iter < 500; ++iter) {
      pool.ParallelFor(static_cast<int64_t>(v->size()), 16, [v](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) (*v)[i] += 1;
      });
    }
  };
  std::thread other(run, &b);
  run(&a);
  other.join();
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i], 500);
    ASSERT_EQ(b[i], 500);
  }
}

}  // namespace
}  // namespace gander::kernels::cpu
