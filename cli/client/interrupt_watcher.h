// Turns Ctrl-C (SIGINT) into a call on an ordinary thread, so that what it
// does (send a Cancel over gRPC, print, exit) runs outside the signal
// handler. The handler only posts a semaphore (async-signal-safe); a thread
// owned by the watcher waits on it and calls `on_interrupt` once per signal.
//
// Example:
//   InterruptWatcher watcher([&] { session->CancelGeneration(); });
//   ... // while `watcher` lives, Ctrl-C calls the lambda
//
// Ownership and thread safety: at most one watcher exists at a time in a
// process (a second one fails to start: Start returns FAILED_PRECONDITION);
// `on_interrupt` runs on the watcher's thread, never concurrently with
// itself. The destructor restores the previous SIGINT disposition and joins
// the thread (so `on_interrupt` must not block forever).
#ifndef GANDER_CLI_CLIENT_INTERRUPT_WATCHER_H_
#define GANDER_CLI_CLIENT_INTERRUPT_WATCHER_H_

#include <signal.h>

#include <functional>
#include <thread>

#include "absl/status/status.h"

namespace gander::cli::client {

class InterruptWatcher {
 public:
  explicit InterruptWatcher(std::function<void()> on_interrupt);
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;
  ~InterruptWatcher();

  // Installs the SIGINT handler and starts the thread. FAILED_PRECONDITION
  // when another watcher is active; INTERNAL when sigaction fails.
  absl::Status Start();

 private:
  std::function<void()> on_interrupt_;
  std::thread thread_;
  struct sigaction previous_ {};
  bool started_ = false;
};

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_INTERRUPT_WATCHER_H_
