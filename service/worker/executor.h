// A fixed pool of threads running queued tasks in arrival order: where the
// worker does its blocking work (store reads and commits, state encoding), so
// gRPC's callback threads and the scheduler's loop never wait on storage.
//
// Thread safety: Submit is safe from any thread. The destructor runs the
// tasks already queued, then joins the threads.
#ifndef GANDER_SERVICE_WORKER_EXECUTOR_H_
#define GANDER_SERVICE_WORKER_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace gander::service {

class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void Submit(std::function<void()> task);

 private:
  void Run();
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_WORKER_EXECUTOR_H_
