#include "cli/client/interrupt_watcher.h"

#include <semaphore.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace gander::cli::client {
namespace {

sem_t g_interrupts;
std::atomic<bool> g_active{false};
std::atomic<bool> g_stopping{false};

extern "C" void OnSigint(int) {
  const int saved = errno;
  sem_post(&g_interrupts);
  errno = saved;
}

}  // namespace

InterruptWatcher::InterruptWatcher(std::function<void()> on_interrupt)
    : on_interrupt_(std::move(on_interrupt)) {}

absl::Status InterruptWatcher::Start() {
  if (started_) return absl::OkStatus();
  bool expected = false;
  if (!g_active.compare_exchange_strong(expected, true)) {
    return absl::FailedPreconditionError("another interrupt watcher is active");
  }
  g_stopping = false;
  sem_init(&g_interrupts, /*pshared=*/0, /*value=*/0);
  struct sigaction action {};
  action.sa_handler = OnSigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(SIGINT, &action, &previous_) != 0) {
    const int error = errno;
    sem_destroy(&g_interrupts);
    g_active = false;
    return absl::InternalError(absl::StrCat("sigaction(SIGINT): ", std::strerror(error)));
  }
  thread_ = std::thread([this] {
    while (true) {
      while (sem_wait(&g_interrupts) != 0 && errno == EINTR) {
      }
      if (g_stopping) return;
      if (on_interrupt_) on_interrupt_();
    }
  });
  started_ = true;
  return absl::OkStatus();
}

InterruptWatcher::~InterruptWatcher() {
  if (!started_) return;
  sigaction(SIGINT, &previous_, nullptr);
  g_stopping = true;
  sem_post(&g_interrupts);
  thread_.join();
  sem_destroy(&g_interrupts);
  g_active = false;
}

}  // namespace gander::cli::client
