#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace gander::kernels::cpu {
namespace {

constexpr uint64_t kParticipantsMask = (uint64_t{1} << 15) - 1;
constexpr uint64_t kStopBit = uint64_t{1} << 15;
constexpr int kGenerationShift = 16;
constexpr int kMaxThreads = 1024;
constexpr uint64_t kJobClosedBit = uint64_t{1} << 31;
constexpr uint64_t kJobActiveMask = kJobClosedBit - 1;

inline uint64_t JobGenerationBits(uint64_t generation) { return (generation & 0xffffffffu) << 32; }

// Chunks handed out per participating thread: a few, so that a thread that
// is descheduled or slow to wake does not hold the whole call back.
constexpr int64_t kChunksPerThread = 4;

// Pause iterations the caller spins for before it yields while waiting for
// the workers (about 10 to 50 microseconds).
constexpr int kCallerSpins = 1 << 10;

// The pool whose chunk the current thread is running, to run nested calls
// inline.
thread_local const ThreadPool* tls_running_pool = nullptr;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int ResolveThreads(int requested) {
  int n = requested;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(n, 1, kMaxThreads);
}

// Sets tls_running_pool for a scope.
class RunningPoolScope {
 public:
  explicit RunningPoolScope(const ThreadPool* pool) : saved_(tls_running_pool) {
    tls_running_pool = pool;
  }
  ~RunningPoolScope() { tls_running_pool = saved_; }

 private:
  const ThreadPool* saved_;
};

}  // namespace

ThreadPool::ThreadPool(int num_threads) : ThreadPool(ThreadPoolOptions{num_threads}) {}

ThreadPool::ThreadPool(const ThreadPoolOptions& options)
    : num_threads_(ResolveThreads(options.num_threads)),
      spin_microseconds_(std::max(0, options.spin_microseconds)) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 0; i + 1 < num_threads_; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    control_.fetch_or(kStopBit, std::memory_order_seq_cst);
    sleep_cv_.notify_all();
  }
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::ParallelFor(int64_t n, int64_t min_chunk,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(min_chunk, 1);
  // At most n / min_chunk chunks, so that every chunk (of ceil(n / chunks)
  // indices, the last one possibly fewer) has at least min_chunk.
  const int64_t max_chunks = std::max<int64_t>(n / min_chunk, 1);
  if (num_threads_ == 1 || max_chunks == 1 || tls_running_pool == this) {
    fn(0, n);
    return;
  }

  std::lock_guard<std::mutex> call_lock(call_mu_);
  RunningPoolScope scope(this);

  int64_t num_chunks = std::min<int64_t>(max_chunks, num_threads_ * kChunksPerThread);
  const int64_t chunk = (n + num_chunks - 1) / num_chunks;
  num_chunks = (n + chunk - 1) / chunk;
  const int participants = static_cast<int>(std::min<int64_t>(num_threads_, num_chunks));

  job_.fn = &fn;
  job_.n = n;
  job_.chunk = chunk;
  job_.num_chunks = num_chunks;
  job_.next_chunk.store(0, std::memory_order_relaxed);
  const uint64_t old_control = control_.load(std::memory_order_relaxed);
  const uint64_t generation = (old_control >> kGenerationShift) + 1;
  job_.state.store(JobGenerationBits(generation), std::memory_order_relaxed);

  // Publish: the job's fields above happen-before any worker's read of them
  // (release here, acquire in the worker).
  control_.store((generation << kGenerationShift) | static_cast<uint64_t>(participants),
                 std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    // Taking the mutex orders this notification after a sleeper's check of
    // control_ (it holds the mutex from that check until it waits).
    std::lock_guard<std::mutex> lock(sleep_mu_);
    sleep_cv_.notify_all();
  }

  RunChunks();

  // Every chunk is claimed: close the job to late workers, then wait for the
  // ones still running a chunk. Spin briefly, then yield: with more runnable
  // threads than cores a long spin would keep the awaited worker off the core.
  job_.state.fetch_or(kJobClosedBit, std::memory_order_acq_rel);
  int spins = 0;
  while ((job_.state.load(std::memory_order_acquire) & kJobActiveMask) != 0) {
    if (++spins < kCallerSpins) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::RunChunks() {
  const std::function<void(int64_t, int64_t)>& fn = *job_.fn;
  for (;;) {
    const int64_t c = job_.next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (c >= job_.num_chunks) return;
    const int64_t begin = c * job_.chunk;
    fn(begin, std::min(job_.n, begin + job_.chunk));
  }
}

uint64_t ThreadPool::WaitForControlChange(uint64_t seen) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::microseconds(spin_microseconds_);
  for (uint32_t i = 0;; ++i) {
    const uint64_t control = control_.load(std::memory_order_acquire);
    if (control != seen) return control;
    CpuRelax();
    if ((i & 63) == 63 && Clock::now() >= deadline) break;
  }
  std::unique_lock<std::mutex> lock(sleep_mu_);
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  uint64_t control;
  while ((control = control_.load(std::memory_order_seq_cst)) == seen) {
    sleep_cv_.wait(lock);
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return control;
}

void ThreadPool::WorkerLoop(int worker_index) {
  RunningPoolScope scope(this);
  uint64_t seen = 0;
  for (;;) {
    seen = WaitForControlChange(seen);
    if (seen & kStopBit) return;
    const int participants = static_cast<int>(seen & kParticipantsMask);
    if (worker_index + 1 >= participants) continue;  // Not needed this time.
    // Join the job if it is still the one published with `seen` and open.
    const uint64_t generation_bits = JobGenerationBits(seen >> kGenerationShift);
    uint64_t state = job_.state.load(std::memory_order_acquire);
    bool joined = false;
    while ((state & ~kJobActiveMask) == generation_bits) {  // Same job, not closed.
      if (job_.state.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    RunChunks();
    job_.state.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace gander::kernels::cpu
