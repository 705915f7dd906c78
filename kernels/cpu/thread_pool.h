// A small persistent thread pool for the CPU kernels' data parallelism.
//
// ParallelFor splits an index range [0, n) into contiguous chunks and runs
// them on the calling thread plus the pool's workers, returning once every
// chunk is done. It is built for many short calls (about a hundred per
// decoded token): a call allocates nothing, and workers spin for a short
// while after each call (ThreadPoolOptions::spin_microseconds) before they
// sleep, so back-to-back calls do not pay a kernel wake-up.
//
// Example:
//   ThreadPool pool;  // hardware concurrency: the caller plus N - 1 workers
//   pool.ParallelFor(rows, /*min_chunk=*/16, [&](int64_t begin, int64_t end) {
//     for (int64_t i = begin; i < end; ++i) y[i] = f(i);
//   });
//
// Ownership: the pool owns its worker threads; the destructor stops and
// joins them (it must not run while a ParallelFor on the same pool is in
// progress). `fn` is borrowed for the duration of the call only.
//
// Thread safety: ParallelFor is meant to be driven by one thread at a time
// (the inference worker). Concurrent calls from several threads are safe but
// serialised by an internal mutex. A call made from inside `fn` (nested, on
// the same pool) runs inline on the calling thread instead of deadlocking.
//
// Failure behaviour: none; bad arguments are defined (n <= 0 does nothing,
// min_chunk < 1 counts as 1). `fn` must not throw.
#ifndef GANDER_KERNELS_CPU_THREAD_POOL_H_
#define GANDER_KERNELS_CPU_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gander::kernels::cpu {

struct ThreadPoolOptions {
  // Threads that run chunks, counting the thread that calls ParallelFor
  // (so the pool starts num_threads - 1 workers). 0 means
  // std::thread::hardware_concurrency() (1 when that is unknown). Values are
  // clamped to [1, 1024]. Default: 0.
  int num_threads = 0;
  // How long an idle worker busy-waits for the next call before it sleeps on
  // a condition variable, in microseconds. Longer spins cut the latency of
  // closely spaced calls at the cost of burning a core while idle.
  // Default: 200.
  int spin_microseconds = 200;
};

class ThreadPool {
 public:
  // Starts options.num_threads - 1 worker threads (none for a pool of 1,
  // which runs everything inline).
  explicit ThreadPool(const ThreadPoolOptions& options = {});
  // Shorthand for ThreadPool(ThreadPoolOptions{.num_threads = num_threads}).
  explicit ThreadPool(int num_threads);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that run chunks, the caller included (>= 1).
  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end) over disjoint contiguous ranges that together cover
  // [0, n) exactly once, spread over the calling thread and the workers, and
  // returns when all calls have returned. Every range has at least
  // `min_chunk` indices except possibly the last one (the whole range when
  // n <= min_chunk). A thread may receive several ranges, in no particular
  // order. n <= 0 makes no call.
  void ParallelFor(int64_t n, int64_t min_chunk,
                   const std::function<void(int64_t begin, int64_t end)>& fn);

 private:
  // One ParallelFor call, shared with the workers that take part in it.
  struct Job {
    const std::function<void(int64_t, int64_t)>* fn = nullptr;
    int64_t n = 0;
    int64_t chunk = 0;
    int64_t num_chunks = 0;
    alignas(64) std::atomic<int64_t> next_chunk{0};
    // (generation & 0xffffffff) << 32 | kClosedBit | active workers. A worker
    // joins (active + 1) only while the job of the generation it saw is still
    // open; the caller closes the job once every chunk is claimed and then
    // waits for the active workers alone, never for one that has not started.
    alignas(64) std::atomic<uint64_t> state{0};
  };

  void WorkerLoop(int worker_index);
  // Claims and runs chunks of job_ until none are left.
  void RunChunks();
  // Waits until control_ differs from `seen`; returns the new value.
  uint64_t WaitForControlChange(uint64_t seen);

  int num_threads_;
  int spin_microseconds_;
  std::vector<std::thread> workers_;

  // Serialises ParallelFor callers.
  std::mutex call_mu_;

  Job job_;

  // (generation << 16) | number of participating threads. Workers with
  // index + 1 < participants take part in the job published with it.
  // kStopControl asks the workers to exit.
  alignas(64) std::atomic<uint64_t> control_{0};
  std::atomic<int> sleepers_{0};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
};

}  // namespace gander::kernels::cpu

#endif  // GANDER_KERNELS_CPU_THREAD_POOL_H_
