// The inference worker's Sessions service: the bidirectional token streams
// of proto/gander/v1/sessions.proto, carried out over the engine's Scheduler
// and a StateStore.
//
// One Session per open Sessions.Stream call. It holds the stream's lease
// (renewed in the background, released when the call ends), carries out the
// requests one at a time in order (Cancel acts at once on the running
// generation), streams token events as the scheduler produces them, and
// checkpoints per the stream's policy: every checkpoint is a store Commit,
// reported to the client only after the store acknowledged it (durable).
//
// Memory: an open stream's state lives in memory while it is in use. When
// more than max_resident_streams states are in memory, the least recently
// used idle ones are moved out: a state with changes since its last
// checkpoint is committed first (as a new version, like any checkpoint),
// then its memory is freed. It is read back from the store, transparently,
// by the next request that needs it.
//
// Blocking work (store reads and commits, encoding) runs on the worker's
// executor threads, never on gRPC's callback threads or the scheduler loop.
//
// Thread safety: all public methods are safe from any thread.
#ifndef GANDER_SERVICE_WORKER_WORKER_H_
#define GANDER_SERVICE_WORKER_WORKER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/backend.h"
#include "engine/scheduler/scheduler.h"
#include "engine/tokenizer/tokenizer.h"
#include "gander/v1/sessions.grpc.pb.h"
#include "storage/state_codec.h"
#include "storage/state_store.h"

namespace gander::service {

// Who is calling, and what they may use.
struct Caller {
  std::string tenant;
  // Authentication off: the caller is trusted to act for any tenant (a
  // create may name one; resume and fork skip the tenant check).
  bool any_tenant = false;
  int max_open_streams = 0;        // per tenant, on this worker; 0 = no limit
  int max_tokens_per_request = 0;  // generate and append caps; 0 = the worker's
};

// Observations for metrics; every member may be left empty.
struct WorkerHooks {
  std::function<void(int open, int resident)> on_streams;
  std::function<void(absl::Duration)> on_checkpoint;
  std::function<void(absl::Duration)> on_restore;
  std::function<void(absl::Duration)> on_first_token;
  std::function<void(absl::Duration)> on_inter_token;
  std::function<void(int tokens)> on_tokens_generated;
  std::function<void(absl::StatusCode)> on_call_end;
};

struct WorkerOptions {
  std::string worker_id = "worker";  // the lease owner name: unique per worker
  std::string model_name = "rwkv7";  // what CreateTarget.model may name ("" accepted too)
  storage::StateCodec default_codec = storage::StateCodec::kLossless;
  absl::Duration lease_ttl = absl::Seconds(30);  // renewed every ttl / 3
  int max_open_streams = 1024;                   // on this worker, all tenants
  int max_resident_streams = 256;                // states kept in memory
  int max_tokens_per_request = 4096;             // generate cap and default
  int max_input_tokens_per_request = 65536;      // one append_input
  int max_pending_tokens = 1 << 20;              // input queued, not yet consumed
  int max_queued_requests = 256;                 // per call, not yet carried out
  int max_buffered_events = 65536;               // per call, not yet sent
  int executor_threads = 4;
};

class Worker {
 public:
  using Authenticate = std::function<absl::StatusOr<Caller>(const grpc::ServerContextBase&)>;

  // None of the pointers is owned; all must outlive the worker. tokenizer
  // may be null (token ids only). `authenticate` resolves each call's caller.
  Worker(engine::Backend* model, const engine::Tokenizer* tokenizer, engine::Scheduler* scheduler,
         storage::StateStore* store, Authenticate authenticate, WorkerOptions options,
         WorkerHooks hooks = {});
  // Shutdown() first, if it was not called.
  ~Worker();

  // The gRPC service to register (owned by the worker).
  grpc::Service* sessions_service();

  // Whether `stream_id` has an open session here.
  bool IsOpen(const std::string& stream_id) const;
  int open_streams() const;
  int resident_streams() const;

  // Graceful stop: refuses new calls (UNAVAILABLE), cancels running
  // generations, checkpoints every open stream that changed since its last
  // checkpoint, releases the leases and ends the calls with UNAVAILABLE
  // ("worker shutting down; resume elsewhere"). Returns when done or at the
  // deadline.
  void Shutdown(absl::Time deadline);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_WORKER_WORKER_H_
