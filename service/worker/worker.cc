#include "service/worker/worker.h"

#include <atomic>
#include <deque>
#include <list>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "engine/sampler/sampler_state.h"
#include "service/worker/executor.h"

namespace gander::service {
namespace {

using ::gander::v1::StreamRequest;
using ::gander::v1::StreamResponse;

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::Status CheckId(const std::string& id, absl::string_view what) {
  if (ValidId(id)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " \"", id.substr(0, 160), "\" must match [A-Za-z0-9._:-]{1,128}"));
}

std::string NewStreamId() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          static_cast<uint64_t>(absl::GetCurrentTimeNanos()));
  return absl::StrFormat("s-%016x", rng());
}

absl::StatusOr<storage::StateCodec> CodecFromWire(v1::StateCodec codec,
                                                  storage::StateCodec fallback) {
  switch (codec) {
    case v1::STATE_CODEC_UNSPECIFIED:
      return fallback;
    case v1::STATE_CODEC_RAW:
      return storage::StateCodec::kRaw;
    case v1::STATE_CODEC_LOSSLESS:
      return storage::StateCodec::kLossless;
    case v1::STATE_CODEC_BF16:
      return storage::StateCodec::kBF16;
    case v1::STATE_CODEC_INT8:
      return storage::StateCodec::kInt8;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown codec ", static_cast<int>(codec)));
  }
}

v1::FinishReason ToWire(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStopToken:
      return v1::FINISH_REASON_STOP_TOKEN;
    case engine::FinishReason::kStopString:
      return v1::FINISH_REASON_STOP_STRING;
    case engine::FinishReason::kMaxTokens:
      return v1::FINISH_REASON_MAX_TOKENS;
    case engine::FinishReason::kCancelled:
      return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

}  // namespace

class Session;

class Worker::Impl final : public v1::Sessions::CallbackService {
 public:
  Impl(engine::Backend* model, const engine::Tokenizer* tokenizer, engine::Scheduler* scheduler,
       storage::StateStore* store, Authenticate authenticate, WorkerOptions options,
       WorkerHooks hooks)
      : model(model),
        tokenizer(tokenizer),
        scheduler(scheduler),
        store(store),
        authenticate(std::move(authenticate)),
        options(std::move(options)),
        hooks(std::move(hooks)),
        executor(std::make_unique<Executor>(this->options.executor_threads)) {
    renewer_ = std::thread([this] { RenewLeases(); });
  }
  ~Impl() override;

  grpc::ServerBidiReactor<StreamRequest, StreamResponse>* Stream(
      grpc::CallbackServerContext* context) override;

  // The registry of open sessions.
  absl::Status Register(const std::shared_ptr<Session>& session, const std::string& id,
                        const Caller& caller);
  void Unregister(const std::string& id, const std::string& tenant);
  void SetResident(const std::shared_ptr<Session>& session, bool resident);
  // After a session became idle: it is now the most recently used; evicts
  // the least recently used idle states beyond the limit.
  void TouchIdle(const std::shared_ptr<Session>& session);
  // Counts the evictions under way (started by TryEvict, ended when the
  // state is freed or the eviction failed).
  void EvictionStarted();
  void EvictionEnded();
  bool IsOpen(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    return open_.contains(id);
  }
  int open_count() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(open_.size());
  }
  int resident_count() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(lru_.size());
  }
  bool shutting_down() const { return shutting_down_.load(); }
  void Shutdown(absl::Time deadline);

  engine::Backend* const model;
  const engine::Tokenizer* const tokenizer;
  engine::Scheduler* const scheduler;
  storage::StateStore* const store;
  const Authenticate authenticate;
  const WorkerOptions options;
  const WorkerHooks hooks;
  std::unique_ptr<Executor> executor;

 private:
  void RenewLeases();
  void ReportCounts() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (hooks.on_streams)
      hooks.on_streams(static_cast<int>(open_.size()), static_cast<int>(lru_.size()));
  }

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::weak_ptr<Session>> open_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> tenant_open_ ABSL_GUARDED_BY(mu_);
  int evicting_ ABSL_GUARDED_BY(mu_) = 0;
  // Resident sessions, least recently used first.
  std::list<std::weak_ptr<Session>> lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const Session*, std::list<std::weak_ptr<Session>>::iterator> lru_index_
      ABSL_GUARDED_BY(mu_);
  std::atomic<bool> shutting_down_{false};
  bool stop_renewer_ ABSL_GUARDED_BY(mu_) = false;
  std::thread renewer_;
};

// One Sessions.Stream call. Shared by its reactor, the executor tasks and
// the scheduler's callbacks, so it outlives whichever finishes last.
class Session : public std::enable_shared_from_this<Session> {
 public:
  class Reactor;

  Session(Worker::Impl* worker, grpc::CallbackServerContext* context)
      : worker_(worker), context_(context) {}

  void Start(Reactor* reactor);
  void OnReadDone(bool ok);
  void OnWriteDone(bool ok);
  void OnCancel();
  void OnDone();

  // From the worker.
  std::optional<std::pair<std::string, uint64_t>> LeaseToRenew();
  void LeaseLost(const absl::Status& status);
  // Frees the state's memory if the session is idle (committing it first
  // when it changed). Returns false when it is busy.
  bool TryEvict();
  void Drain();

 private:
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Execute(StreamRequest request);
  void Done(absl::Status status);
  void BeginFinish(absl::Status status, bool final_checkpoint) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeCleanup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Cleanup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseAndFinish(absl::Status checkpoint_status);
  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Send(StreamResponse response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartRead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Status DoOpen(const v1::Open& open);
  absl::Status DoAppend(const v1::AppendInput& append);
  absl::Status DoGenerate(const v1::Generate& generate);
  absl::Status LoadVersion(uint64_t version);
  absl::Status EnsureResident();

  // Commits go through one queue per session, in order, one at a time.
  struct CommitJob {
    bool barrier = false;  // commits nothing: runs `then` after the jobs before it
    engine::StreamContext context;
    uint64_t change_seq = 0;
    bool report = false;
    std::function<void(absl::Status)> then;
  };
  void EnqueueCommit(CommitJob job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DrainCommits();
  absl::Status Commit(const CommitJob& job);
  // A commit of the current context (which must not be lent out).
  void CommitCurrent(bool report, std::function<void(absl::Status)> then)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Worker::Impl* const worker_;
  grpc::CallbackServerContext* const context_;

  absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  Caller caller_;
  // Requests.
  bool saw_first_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<StreamRequest> requests_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // a request (or eviction) is being carried out
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  // Ending.
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool final_checkpoint_ ABSL_GUARDED_BY(mu_) = false;
  bool cleanup_started_ ABSL_GUARDED_BY(mu_) = false;
  bool cleanup_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
  // Writes.
  std::deque<StreamResponse> writes_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // The stream.
  bool registered_ = false;  // set and read by the executor task in progress
  std::string stream_id_;
  bool lease_held_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t lease_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  engine::StreamContext stream_;                     // lent to the scheduler while generating
  bool resident_ = false;                            // stream_.state holds the state
  uint64_t change_seq_ ABSL_GUARDED_BY(mu_) = 0;     // bumped by every change
  uint64_t committed_seq_ ABSL_GUARDED_BY(mu_) = 0;  // change_seq_ of the last commit
  uint64_t seed_ = 0;
  v1::CheckpointPolicy policy_ = v1::CHECKPOINT_POLICY_AFTER_GENERATION;
  uint32_t every_n_ = 0;
  storage::StateCodec codec_ = storage::StateCodec::kLossless;
  std::shared_ptr<engine::GenerationHandle> generation_ ABSL_GUARDED_BY(mu_);
  // `generate` requests read so far, started so far, and the number of the
  // last one a `cancel` covers (every generate read before the cancel).
  uint64_t generates_read_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generates_started_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t cancel_through_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_token_time_;
  // The commit queue.
  std::deque<CommitJob> commits_ ABSL_GUARDED_BY(mu_);
  bool committing_ ABSL_GUARDED_BY(mu_) = false;
};

class Session::Reactor final : public grpc::ServerBidiReactor<StreamRequest, StreamResponse> {
 public:
  explicit Reactor(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  void OnReadDone(bool ok) override { session_->OnReadDone(ok); }
  void OnWriteDone(bool ok) override { session_->OnWriteDone(ok); }
  void OnCancel() override { session_->OnCancel(); }
  void OnDone() override {
    session_->OnDone();
    delete this;
  }
  StreamRequest read_buffer;

 private:
  std::shared_ptr<Session> session_;
};

// ---------------------------------------------------------------------------
// The call's plumbing: reads, the request pipeline, writes, the end.

void Session::Start(Reactor* reactor) {
  absl::MutexLock lock(&mu_);
  reactor_ = reactor;
  if (worker_->shutting_down()) {
    finished_ = true;
    reactor_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "the worker is shutting down; open the stream elsewhere"));
    return;
  }
  absl::StatusOr<Caller> caller = worker_->authenticate ? worker_->authenticate(*context_)
                                                        : absl::StatusOr<Caller>(Caller{"default"});
  if (!caller.ok()) {
    finished_ = true;
    if (worker_->hooks.on_call_end) worker_->hooks.on_call_end(caller.status().code());
    reactor_->Finish(ToGrpcStatus(caller.status()));
    return;
  }
  caller_ = *std::move(caller);
  cleanup_done_ = false;
  StartRead();
}

void Session::StartRead() { reactor_->StartRead(&reactor_->read_buffer); }

void Session::OnReadDone(bool ok) {
  absl::MutexLock lock(&mu_);
  if (finished_ || reactor_ == nullptr) return;
  if (!ok) {
    reads_done_ = true;
    Pump();
    return;
  }
  StreamRequest request = std::move(reactor_->read_buffer);
  if (finishing_) return;
  const bool first = !saw_first_;
  saw_first_ = true;
  if (first != request.has_open()) {
    BeginFinish(absl::InvalidArgumentError(first ? "the first request must be an `open`"
                                                 : "`open` may only be the first request"),
                false);
    return;
  }
  if (request.request_case() == StreamRequest::REQUEST_NOT_SET) {
    BeginFinish(absl::InvalidArgumentError("a request with no field set"), false);
    return;
  }
  if (request.has_cancel()) {
    // Acts on the running generation, and on one already sent whose setup
    // is under way (it starts cancelled).
    if (generation_ != nullptr) generation_->Cancel();
    cancel_through_ = generates_read_;
    StartRead();
    return;
  }
  if (request.has_generate()) ++generates_read_;
  if (static_cast<int>(requests_.size()) >= worker_->options.max_queued_requests) {
    BeginFinish(absl::ResourceExhaustedError(
                    absl::StrCat("more than ", worker_->options.max_queued_requests,
                                 " requests are waiting on this stream; wait for their events")),
                false);
    return;
  }
  requests_.push_back(std::move(request));
  StartRead();
  Pump();
}

void Session::Pump() {
  if (finishing_) {
    MaybeCleanup();
    return;
  }
  if (busy_) return;
  if (requests_.empty()) {
    if (reads_done_) BeginFinish(absl::OkStatus(), /*final_checkpoint=*/true);
    return;
  }
  StreamRequest request = std::move(requests_.front());
  requests_.pop_front();
  busy_ = true;
  worker_->executor->Submit([self = shared_from_this(), request = std::move(request)]() mutable {
    self->Execute(std::move(request));
  });
}

void Session::Execute(StreamRequest request) {
  absl::Status status;
  switch (request.request_case()) {
    case StreamRequest::kOpen:
      status = DoOpen(request.open());
      break;
    case StreamRequest::kAppendInput:
      status = DoAppend(request.append_input());
      break;
    case StreamRequest::kGenerate:
      status = DoGenerate(request.generate());
      if (status.ok()) return;  // completes in the scheduler's on_done
      break;
    case StreamRequest::kCheckpointNow: {
      status = EnsureResident();
      if (!status.ok()) break;
      absl::MutexLock lock(&mu_);
      if (change_seq_ != committed_seq_ || version_ == 0) {
        CommitCurrent(/*report=*/true,
                      [self = shared_from_this()](absl::Status s) { self->Done(std::move(s)); });
        return;
      }
      // Nothing changed since the head: it is the checkpoint.
      StreamResponse response;
      v1::Checkpointed* event = response.mutable_checkpointed();
      event->set_version(version_);
      event->set_token_count(stream_.token_count);
      event->set_durable(true);
      Send(std::move(response));
      break;
    }
    default:
      status = absl::InvalidArgumentError("unknown request");
  }
  Done(std::move(status));
}

void Session::Done(absl::Status status) {
  bool idle = false;
  {
    absl::MutexLock lock(&mu_);
    busy_ = false;
    if (!status.ok()) {
      BeginFinish(std::move(status), false);
    } else {
      Pump();
      idle = !busy_ && !finishing_ && resident_;
    }
  }
  if (idle) worker_->TouchIdle(shared_from_this());
}

void Session::BeginFinish(absl::Status status, bool final_checkpoint) {
  if (finishing_) return;
  finishing_ = true;
  final_status_ = std::move(status);
  final_checkpoint_ = final_checkpoint;
  requests_.clear();
  if (generation_ != nullptr) generation_->Cancel();
  MaybeCleanup();
}

void Session::MaybeCleanup() {
  if (!finishing_ || busy_ || cleanup_started_) return;
  cleanup_started_ = true;
  busy_ = true;
  Cleanup();
}

void Session::Cleanup() {
  // Runs once, when no request is in progress. The final checkpoint (or,
  // without one, a barrier) goes through the commit queue, behind any commit
  // still queued; the lease is released after it.
  const bool checkpoint = registered_ && lease_held_ && resident_ && !cancelled_ &&
                          final_checkpoint_ && change_seq_ != committed_seq_ &&
                          (policy_ == v1::CHECKPOINT_POLICY_ON_CLOSE || worker_->shutting_down());
  auto release = [self = shared_from_this()](absl::Status status) {
    self->ReleaseAndFinish(std::move(status));
  };
  if (checkpoint) {
    CommitCurrent(/*report=*/true, std::move(release));
  } else {
    EnqueueCommit({.barrier = true,
                   .context = {},
                   .change_seq = 0,
                   .report = false,
                   .then = std::move(release)});
  }
}

void Session::ReleaseAndFinish(absl::Status checkpoint_status) {
  std::optional<uint64_t> epoch;
  {
    absl::MutexLock lock(&mu_);
    if (!checkpoint_status.ok() && final_status_.ok()) final_status_ = checkpoint_status;
    if (lease_held_) epoch = lease_epoch_;
    lease_held_ = false;
  }
  if (epoch.has_value()) {
    // Best effort: an expired or taken-over lease needs no release.
    (void)worker_->store->ReleaseLease(stream_id_, *epoch);
  }
  if (registered_) {
    worker_->SetResident(shared_from_this(), false);
    worker_->Unregister(stream_id_, caller_.tenant);
    registered_ = false;
  }
  stream_.state = engine::RecurrentState();
  absl::MutexLock lock(&mu_);
  busy_ = false;
  cleanup_done_ = true;
  MaybeFinish();
}

void Session::MaybeFinish() {
  if (!cleanup_done_ || finished_ || reactor_ == nullptr) return;
  if (writing_) return;  // OnWriteDone comes back here
  if (!writes_.empty() && !cancelled_) return;
  finished_ = true;
  if (worker_->hooks.on_call_end) worker_->hooks.on_call_end(final_status_.code());
  reactor_->Finish(ToGrpcStatus(final_status_));
}

void Session::Send(StreamResponse response) {
  if (cancelled_ || finished_ || reactor_ == nullptr) return;
  if (static_cast<int>(writes_.size()) >= worker_->options.max_buffered_events) {
    BeginFinish(absl::ResourceExhaustedError(
                    "the client reads events too slowly: too many are waiting to be sent"),
                false);
    return;
  }
  writes_.push_back(std::move(response));
  if (!writing_) {
    writing_ = true;
    reactor_->StartWrite(&writes_.front());
  }
}

void Session::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!writes_.empty()) writes_.pop_front();
  if (!ok) {
    cancelled_ = true;
    writes_.clear();
    BeginFinish(absl::CancelledError("the call ended before its events were delivered"), false);
  }
  if (!writes_.empty() && !cancelled_ && !finished_ && reactor_ != nullptr) {
    writing_ = true;
    reactor_->StartWrite(&writes_.front());
    return;
  }
  MaybeFinish();
}

void Session::OnCancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  BeginFinish(absl::CancelledError("the call was cancelled"), false);
  MaybeFinish();
}

void Session::OnDone() {
  absl::MutexLock lock(&mu_);
  reactor_ = nullptr;
  finished_ = true;
}

// ---------------------------------------------------------------------------
// Requests.

absl::Status Session::DoOpen(const v1::Open& open) {
  absl::StatusOr<storage::StateCodec> codec =
      CodecFromWire(open.codec(), worker_->options.default_codec);
  if (!codec.ok()) return codec.status();
  codec_ = *codec;
  seed_ = open.seed();
  policy_ = open.checkpoint_policy() == v1::CHECKPOINT_POLICY_UNSPECIFIED
                ? v1::CHECKPOINT_POLICY_AFTER_GENERATION
                : open.checkpoint_policy();
  if (!v1::CheckpointPolicy_IsValid(policy_)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown checkpoint policy ", policy_));
  }
  every_n_ = open.every_n_tokens();
  if (policy_ == v1::CHECKPOINT_POLICY_EVERY_N_TOKENS && every_n_ < 1) {
    return absl::InvalidArgumentError("every_n_tokens must be >= 1 with EVERY_N_TOKENS");
  }
  if (policy_ != v1::CHECKPOINT_POLICY_EVERY_N_TOKENS && every_n_ != 0) {
    return absl::InvalidArgumentError(
        "every_n_tokens must be 0 unless the policy is EVERY_N_TOKENS");
  }
  storage::StateStore& store = *worker_->store;
  const engine::Backend& model = *worker_->model;
  auto not_found = [](const std::string& id) {
    return absl::NotFoundError(absl::StrCat("stream \"", id, "\" not found"));
  };
  // The tenant the stream belongs to.
  std::string stream_tenant = caller_.tenant;
  // Checks that an existing stream is the caller's and this model's.
  auto check_stream = [&](const std::string& id) -> absl::Status {
    absl::StatusOr<storage::StreamInfo> info = store.GetStream(id);
    if (info.status().code() == absl::StatusCode::kNotFound) return not_found(id);
    if (!info.ok()) return info.status();
    if (info->tenant != caller_.tenant && !caller_.any_tenant) return not_found(id);
    if (caller_.any_tenant) stream_tenant = info->tenant;
    if (info->model_fingerprint != model.fingerprint()) {
      return absl::FailedPreconditionError(
          absl::StrCat("stream \"", id, "\" holds states of model ", info->model_fingerprint,
                       "; this worker serves ", model.fingerprint()));
    }
    return absl::OkStatus();
  };

  uint64_t start_version = 0;
  switch (open.target_case()) {
    case v1::Open::kCreate: {
      const v1::CreateTarget& create = open.create();
      if (!create.model().empty() && create.model() != worker_->options.model_name) {
        return absl::NotFoundError(absl::StrCat("unknown model \"", create.model(),
                                                "\"; this worker serves \"",
                                                worker_->options.model_name, "\""));
      }
      if (!create.tenant().empty() && create.tenant() != caller_.tenant) {
        if (!caller_.any_tenant) {
          return absl::PermissionDeniedError(
              absl::StrCat("tenant \"", create.tenant(), "\" is not the caller's"));
        }
        GANDER_RETURN_IF_ERROR(CheckId(create.tenant(), "tenant"));
        stream_tenant = create.tenant();
      }
      stream_id_ = create.stream_id().empty() ? NewStreamId() : create.stream_id();
      GANDER_RETURN_IF_ERROR(CheckId(stream_id_, "stream_id"));
      GANDER_RETURN_IF_ERROR(worker_->Register(shared_from_this(), stream_id_, caller_));
      registered_ = true;
      absl::StatusOr<storage::StreamInfo> info = store.CreateStream(
          {.id = stream_id_, .tenant = stream_tenant, .model_fingerprint = model.fingerprint()});
      if (!info.ok()) return info.status();
      break;
    }
    case v1::Open::kResume: {
      stream_id_ = open.resume().stream_id();
      GANDER_RETURN_IF_ERROR(CheckId(stream_id_, "stream_id"));
      GANDER_RETURN_IF_ERROR(check_stream(stream_id_));
      GANDER_RETURN_IF_ERROR(worker_->Register(shared_from_this(), stream_id_, caller_));
      registered_ = true;
      break;
    }
    case v1::Open::kFork: {
      const v1::ForkTarget& fork = open.fork();
      GANDER_RETURN_IF_ERROR(CheckId(fork.source_stream_id(), "source_stream_id"));
      GANDER_RETURN_IF_ERROR(check_stream(fork.source_stream_id()));
      stream_id_ = fork.stream_id().empty() ? NewStreamId() : fork.stream_id();
      GANDER_RETURN_IF_ERROR(CheckId(stream_id_, "stream_id"));
      GANDER_RETURN_IF_ERROR(worker_->Register(shared_from_this(), stream_id_, caller_));
      registered_ = true;
      absl::StatusOr<storage::StreamInfo> info =
          store.Fork(fork.source_stream_id(), fork.version(),
                     {.id = stream_id_, .tenant = stream_tenant, .model_fingerprint = ""});
      if (!info.ok()) return info.status();
      break;
    }
    default:
      return absl::InvalidArgumentError("`open` must set create, resume or fork");
  }

  absl::StatusOr<storage::Lease> lease =
      store.AcquireLease(stream_id_, worker_->options.worker_id, worker_->options.lease_ttl);
  if (!lease.ok()) {
    if (lease.status().code() == absl::StatusCode::kAborted) {
      return absl::AbortedError(absl::StrCat(
          "stream \"", stream_id_,
          "\" is open on another worker; it can be opened here once that session ends or its "
          "lease expires (",
          lease.status().message(), ")"));
    }
    return lease.status();
  }
  {
    absl::MutexLock lock(&mu_);
    lease_held_ = true;
    lease_epoch_ = lease->epoch;
  }
  absl::StatusOr<storage::StreamInfo> info = store.GetStream(stream_id_);
  if (!info.ok()) return info.status();
  start_version = info->version;
  if (start_version > 0) {
    GANDER_RETURN_IF_ERROR(LoadVersion(start_version));
  } else {
    stream_.state = engine::RecurrentState(model.config());
    stream_.token_count = 0;
    stream_.pending.clear();
    stream_.sampler = {};
    resident_ = true;
  }
  worker_->SetResident(shared_from_this(), true);
  absl::MutexLock lock(&mu_);
  version_ = start_version;
  StreamResponse response;
  v1::Opened* opened = response.mutable_opened();
  opened->set_stream_id(stream_id_);
  opened->set_version(version_);
  opened->set_token_count(stream_.token_count);
  opened->set_model(worker_->options.model_name);
  opened->set_model_fingerprint(model.fingerprint());
  Send(std::move(response));
  return absl::OkStatus();
}

absl::Status Session::LoadVersion(uint64_t version) {
  const absl::Time start = absl::Now();
  absl::StatusOr<storage::Checkpoint> checkpoint =
      worker_->store->GetCheckpoint(stream_id_, version);
  if (!checkpoint.ok()) return checkpoint.status();
  const engine::Backend& model = *worker_->model;
  absl::StatusOr<storage::StreamSnapshot> snapshot =
      storage::DecodeSnapshot(checkpoint->bytes, model.fingerprint(), model.config());
  if (!snapshot.ok()) return snapshot.status();
  absl::StatusOr<engine::SamplerState> sampler =
      engine::SamplerState::Deserialize(snapshot->sampler_state);
  if (!sampler.ok()) {
    return absl::DataLossError(absl::StrCat("stream \"", stream_id_, "\" version ", version,
                                            ": bad sampler state: ", sampler.status().message()));
  }
  for (int32_t token : snapshot->pending_input) {
    if (token < 0 || token >= model.config().vocab) {
      return absl::DataLossError(absl::StrCat("stream \"", stream_id_, "\" version ", version,
                                              ": pending token ", token, " is out of range"));
    }
  }
  stream_.state = std::move(snapshot->state);
  stream_.token_count = snapshot->token_count;
  stream_.pending.assign(snapshot->pending_input.begin(), snapshot->pending_input.end());
  stream_.sampler = *std::move(sampler);
  resident_ = true;
  if (worker_->hooks.on_restore) worker_->hooks.on_restore(absl::Now() - start);
  return absl::OkStatus();
}

absl::Status Session::EnsureResident() {
  if (resident_) return absl::OkStatus();
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    version = version_;
  }
  // An evicted state was committed first, so the head holds it exactly
  // (the rest of the context never left memory).
  const engine::StreamContext kept = stream_;
  GANDER_RETURN_IF_ERROR(LoadVersion(version));
  if (stream_.token_count != kept.token_count) {
    return absl::InternalError("restored state does not match the evicted one");
  }
  stream_.pending = kept.pending;
  stream_.sampler = kept.sampler;
  worker_->SetResident(shared_from_this(), true);
  return absl::OkStatus();
}

absl::Status Session::DoAppend(const v1::AppendInput& append) {
  const int vocab = worker_->model->config().vocab;
  std::vector<int> tokens;
  if (append.has_text()) {
    if (worker_->tokenizer == nullptr) {
      return absl::FailedPreconditionError(
          "this worker serves its model without a vocabulary: send token_ids, not text");
    }
    absl::StatusOr<std::vector<int>> encoded = worker_->tokenizer->Encode(append.text());
    if (!encoded.ok()) return encoded.status();
    tokens = *std::move(encoded);
  } else if (append.has_token_ids()) {
    for (int i = 0; i < append.token_ids().ids_size(); ++i) {
      const uint32_t id = append.token_ids().ids(i);
      if (id >= static_cast<uint32_t>(vocab)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "token_ids[", i, "] = ", id, " is outside the vocabulary [0, ", vocab, ")"));
      }
      tokens.push_back(static_cast<int>(id));
    }
  } else {
    return absl::InvalidArgumentError("append_input must set text or token_ids");
  }
  int limit = worker_->options.max_input_tokens_per_request;
  if (tokens.size() > static_cast<size_t>(limit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("append_input has ", tokens.size(), " tokens; the limit is ", limit));
  }
  if (stream_.pending.size() + tokens.size() >
      static_cast<size_t>(worker_->options.max_pending_tokens)) {
    return absl::InvalidArgumentError(
        absl::StrCat("more than ", worker_->options.max_pending_tokens,
                     " input tokens would be waiting; generate to consume them first"));
  }
  stream_.pending.insert(stream_.pending.end(), tokens.begin(), tokens.end());
  absl::MutexLock lock(&mu_);
  if (!tokens.empty()) ++change_seq_;
  StreamResponse response;
  response.mutable_input_appended()->set_token_count(static_cast<uint32_t>(tokens.size()));
  response.mutable_input_appended()->set_pending_token_count(stream_.pending.size());
  Send(std::move(response));
  return absl::OkStatus();
}

absl::Status Session::DoGenerate(const v1::Generate& generate) {
  const int vocab = worker_->model->config().vocab;
  engine::SamplingParams params;
  const v1::SamplingSettings& s = generate.sampling();
  if (s.has_temperature()) params.temperature = s.temperature();
  if (s.has_top_k()) {
    if (s.top_k() > static_cast<uint32_t>(vocab)) {
      params.top_k = vocab;
    } else {
      params.top_k = static_cast<int>(s.top_k());
    }
  }
  if (s.has_top_p()) params.top_p = s.top_p();
  if (s.has_min_p()) params.min_p = s.min_p();
  if (s.has_presence_penalty()) params.presence_penalty = s.presence_penalty();
  if (s.has_frequency_penalty()) params.frequency_penalty = s.frequency_penalty();
  if (s.has_repetition_penalty()) params.repetition_penalty = s.repetition_penalty();
  if (s.has_penalty_decay()) params.penalty_decay = s.penalty_decay();
  params.seed = seed_;
  int cap = worker_->options.max_tokens_per_request;
  if (caller_.max_tokens_per_request > 0) cap = std::min(cap, caller_.max_tokens_per_request);
  params.max_tokens = generate.max_tokens() == 0
                          ? cap
                          : static_cast<int>(std::min<uint32_t>(generate.max_tokens(), cap));
  for (int i = 0; i < generate.stop_token_ids_size(); ++i) {
    params.stop_token_ids.push_back(static_cast<int>(
        std::min<uint32_t>(generate.stop_token_ids(i), static_cast<uint32_t>(INT32_MAX))));
  }
  for (const std::string& stop : generate.stop_strings()) params.stop_strings.push_back(stop);
  GANDER_RETURN_IF_ERROR(params.Validate(vocab));
  if (generate.top_logprobs() > 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_logprobs must be in [0, 20], got ", generate.top_logprobs()));
  }
  GANDER_RETURN_IF_ERROR(EnsureResident());
  if (stream_.pending.empty()) {
    return absl::FailedPreconditionError(
        "the stream has no input to generate from: append input first");
  }

  engine::GenerationRequest request;
  request.context = &stream_;
  request.params = std::move(params);
  request.top_logprobs = static_cast<int>(generate.top_logprobs());
  // A call without a deadline reports a far-future one.
  const auto deadline = context_->deadline();
  if (deadline < std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    request.deadline = absl::FromChrono(deadline);
  }
  const absl::Time submitted = absl::Now();
  auto first = std::make_shared<bool>(true);
  request.on_token = [this, self = shared_from_this(), submitted, first](engine::TokenEvent event) {
    const absl::Time now = absl::Now();
    if (*first) {
      *first = false;
      if (worker_->hooks.on_first_token) worker_->hooks.on_first_token(now - submitted);
    } else if (worker_->hooks.on_inter_token) {
      worker_->hooks.on_inter_token(now - last_token_time_);
    }
    last_token_time_ = now;
    if (worker_->hooks.on_tokens_generated) worker_->hooks.on_tokens_generated(1);
    StreamResponse response;
    v1::GeneratedToken* token = response.mutable_token();
    token->set_token_id(static_cast<uint32_t>(event.token));
    token->set_position(event.position);
    token->set_text(engine::ReplaceInvalidUtf8(event.text));
    if (event.logprob.has_value()) token->set_logprob(*event.logprob);
    for (const auto& [id, logprob] : event.top_logprobs) {
      v1::TokenLogprob* alt = token->add_top_logprobs();
      alt->set_token_id(static_cast<uint32_t>(id));
      alt->set_logprob(logprob);
      if (worker_->tokenizer != nullptr) {
        absl::StatusOr<absl::string_view> bytes = worker_->tokenizer->TokenBytes(id);
        if (bytes.ok()) alt->set_text(std::string(*bytes));
      }
    }
    absl::MutexLock lock(&mu_);
    Send(std::move(response));
  };
  if (policy_ == v1::CHECKPOINT_POLICY_EVERY_N_TOKENS) {
    request.snapshot_every = static_cast<int>(every_n_);
    request.on_snapshot = [this, self = shared_from_this()](engine::StreamContext snapshot) {
      absl::MutexLock lock(&mu_);
      ++change_seq_;
      EnqueueCommit({.barrier = false,
                     .context = std::move(snapshot),
                     .change_seq = 0,  // the generation goes on: the stream is still dirty
                     .report = true,
                     .then = nullptr});
    };
  }
  request.on_done = [this, self = shared_from_this()](engine::GenerationResult result) {
    absl::MutexLock lock(&mu_);
    generation_.reset();
    ++change_seq_;
    if (!result.status.ok()) {
      busy_ = false;
      BeginFinish(std::move(result.status), false);
      return;
    }
    StreamResponse response;
    v1::GenerationFinished* finished = response.mutable_generation_finished();
    finished->set_reason(ToWire(result.reason));
    finished->set_generated_token_count(static_cast<uint32_t>(result.generated));
    finished->set_token_count(stream_.token_count);
    finished->set_trailing_text(engine::ReplaceInvalidUtf8(result.trailing_text));
    Send(std::move(response));
    if (policy_ == v1::CHECKPOINT_POLICY_AFTER_GENERATION && !finishing_) {
      CommitCurrent(/*report=*/true, [self](absl::Status s) { self->Done(std::move(s)); });
      return;
    }
    // Done() takes the lock: finish outside it.
    worker_->executor->Submit([self] { self->Done(absl::OkStatus()); });
  };
  absl::MutexLock lock(&mu_);
  if (finishing_) return absl::CancelledError("the call is ending");
  absl::StatusOr<std::shared_ptr<engine::GenerationHandle>> handle =
      worker_->scheduler->Submit(std::move(request));
  if (!handle.ok()) return handle.status();
  generation_ = *std::move(handle);
  if (++generates_started_ <= cancel_through_) generation_->Cancel();
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Checkpoints.

void Session::CommitCurrent(bool report, std::function<void(absl::Status)> then) {
  EnqueueCommit({.barrier = false,
                 .context = stream_,
                 .change_seq = change_seq_,
                 .report = report,
                 .then = std::move(then)});
}

void Session::EnqueueCommit(CommitJob job) {
  commits_.push_back(std::move(job));
  if (committing_) return;
  committing_ = true;
  worker_->executor->Submit([self = shared_from_this()] { self->DrainCommits(); });
}

void Session::DrainCommits() {
  for (;;) {
    CommitJob job;
    {
      absl::MutexLock lock(&mu_);
      if (commits_.empty()) {
        committing_ = false;
        return;
      }
      job = std::move(commits_.front());
      commits_.pop_front();
    }
    absl::Status status = job.barrier ? absl::OkStatus() : Commit(job);
    if (job.then) {
      job.then(std::move(status));
    } else if (!status.ok()) {
      absl::MutexLock lock(&mu_);
      BeginFinish(std::move(status), false);
    }
  }
}

absl::Status Session::Commit(const CommitJob& job) {
  const absl::Time start = absl::Now();
  const engine::Backend& model = *worker_->model;
  storage::StreamSnapshot snapshot;
  snapshot.model_fingerprint = model.fingerprint();
  snapshot.config = model.config();
  snapshot.token_count = job.context.token_count;
  snapshot.state = job.context.state;
  snapshot.sampler_state = job.context.sampler.Serialize();
  snapshot.pending_input.assign(job.context.pending.begin(), job.context.pending.end());
  absl::StatusOr<std::string> bytes = storage::EncodeSnapshot(snapshot, codec_);
  if (!bytes.ok()) return bytes.status();
  uint64_t expected, epoch;
  {
    absl::MutexLock lock(&mu_);
    if (!lease_held_) return absl::AbortedError("the stream's lease was lost; reopen it");
    expected = version_;
    epoch = lease_epoch_;
  }
  const uint64_t size = bytes->size();
  absl::StatusOr<uint64_t> version =
      worker_->store->Commit({.stream_id = stream_id_,
                              .expected_version = expected,
                              .lease_epoch = epoch,
                              .checkpoint = *std::move(bytes),
                              .token_count = job.context.token_count});
  if (!version.ok()) {
    if (version.status().code() == absl::StatusCode::kAborted) {
      return absl::AbortedError(absl::StrCat(
          "the stream's lease was lost (another worker took it over or it expired): ",
          version.status().message(), "; reopen the stream to continue from its head"));
    }
    return version.status();
  }
  if (worker_->hooks.on_checkpoint) worker_->hooks.on_checkpoint(absl::Now() - start);
  absl::MutexLock lock(&mu_);
  version_ = *version;
  // A commit of the context as it stood at change_seq (0: mid-generation,
  // already outdated) makes the stream clean if nothing changed since.
  if (job.change_seq != 0 && job.change_seq == change_seq_) committed_seq_ = change_seq_;
  if (job.report) {
    StreamResponse response;
    v1::Checkpointed* event = response.mutable_checkpointed();
    event->set_version(*version);
    event->set_token_count(job.context.token_count);
    event->set_durable(true);
    event->set_size_bytes(size);
    Send(std::move(response));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Worker-driven: leases, eviction, shutdown.

std::optional<std::pair<std::string, uint64_t>> Session::LeaseToRenew() {
  absl::MutexLock lock(&mu_);
  if (!lease_held_) return std::nullopt;
  return std::make_pair(stream_id_, lease_epoch_);
}

void Session::LeaseLost(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  lease_held_ = false;
  BeginFinish(absl::AbortedError(absl::StrCat("the stream's lease was lost: ", status.message(),
                                              "; reopen the stream to continue from its head")),
              false);
}

bool Session::TryEvict() {
  absl::MutexLock lock(&mu_);
  if (busy_ || finishing_ || !resident_ || generation_ != nullptr || !lease_held_) return false;
  busy_ = true;
  worker_->EvictionStarted();
  auto free_state = [self = shared_from_this()](absl::Status status) {
    if (status.ok()) {
      self->stream_.state = engine::RecurrentState();
      self->resident_ = false;
      self->worker_->SetResident(self, false);
    }
    self->worker_->EvictionEnded();
    self->Done(std::move(status));
  };
  if (change_seq_ != committed_seq_ || version_ == 0) {
    CommitCurrent(/*report=*/false, std::move(free_state));
  } else {
    worker_->executor->Submit([free_state] { free_state(absl::OkStatus()); });
  }
  return true;
}

void Session::Drain() {
  absl::MutexLock lock(&mu_);
  BeginFinish(absl::UnavailableError("the worker is shutting down; resume the stream elsewhere"),
              /*final_checkpoint=*/true);
}

grpc::ServerBidiReactor<StreamRequest, StreamResponse>* Worker::Impl::Stream(
    grpc::CallbackServerContext* context) {
  auto session = std::make_shared<Session>(this, context);
  auto* reactor = new Session::Reactor(session);
  session->Start(reactor);
  return reactor;
}

absl::Status Worker::Impl::Register(const std::shared_ptr<Session>& session, const std::string& id,
                                    const Caller& caller) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_.load()) {
    return absl::UnavailableError("the worker is shutting down; open the stream elsewhere");
  }
  if (open_.contains(id)) {
    return absl::AbortedError(
        absl::StrCat("stream \"", id,
                     "\" is already open in another session on this worker; it can be "
                     "opened once that session ends"));
  }
  if (static_cast<int>(open_.size()) >= options.max_open_streams) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the worker has ", open_.size(), " open streams (its limit); retry later"));
  }
  int& tenant_count = tenant_open_[caller.tenant];
  if (caller.max_open_streams > 0 && tenant_count >= caller.max_open_streams) {
    return absl::ResourceExhaustedError(absl::StrCat("tenant \"", caller.tenant, "\" has ",
                                                     tenant_count, " open streams (its limit is ",
                                                     caller.max_open_streams, ")"));
  }
  ++tenant_count;
  open_[id] = session;
  ReportCounts();
  return absl::OkStatus();
}

void Worker::Impl::Unregister(const std::string& id, const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  open_.erase(id);
  auto it = tenant_open_.find(tenant);
  if (it != tenant_open_.end() && --it->second <= 0) tenant_open_.erase(it);
  ReportCounts();
}

void Worker::Impl::SetResident(const std::shared_ptr<Session>& session, bool resident) {
  absl::MutexLock lock(&mu_);
  auto it = lru_index_.find(session.get());
  if (resident && it == lru_index_.end()) {
    lru_.push_back(session);
    lru_index_[session.get()] = std::prev(lru_.end());
  } else if (!resident && it != lru_index_.end()) {
    lru_.erase(it->second);
    lru_index_.erase(it);
  }
  ReportCounts();
}

void Worker::Impl::TouchIdle(const std::shared_ptr<Session>& session) {
  std::vector<std::shared_ptr<Session>> candidates;
  int excess = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = lru_index_.find(session.get());
    if (it != lru_index_.end()) lru_.splice(lru_.end(), lru_, it->second);
    // States on their way out still count as resident until freed.
    excess = static_cast<int>(lru_.size()) - evicting_ - options.max_resident_streams;
    if (excess <= 0) return;
    for (auto& weak : lru_) {
      if (std::shared_ptr<Session> s = weak.lock()) candidates.push_back(std::move(s));
    }
  }
  // Least recently used first, skipping the busy ones.
  for (auto& candidate : candidates) {
    if (excess <= 0) break;
    if (candidate->TryEvict()) --excess;
  }
}

void Worker::Impl::EvictionStarted() {
  absl::MutexLock lock(&mu_);
  ++evicting_;
}

void Worker::Impl::EvictionEnded() {
  absl::MutexLock lock(&mu_);
  --evicting_;
}

void Worker::Impl::RenewLeases() {
  const absl::Duration period = options.lease_ttl / 3;
  for (;;) {
    std::vector<std::shared_ptr<Session>> sessions;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](Impl* impl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl->mu_) {
                                 return impl->stop_renewer_;
                               },
                               this),
                           period);
      if (stop_renewer_) return;
      for (auto& [id, weak] : open_) {
        if (std::shared_ptr<Session> s = weak.lock()) sessions.push_back(std::move(s));
      }
    }
    for (auto& session : sessions) {
      std::optional<std::pair<std::string, uint64_t>> lease = session->LeaseToRenew();
      if (!lease.has_value()) continue;
      absl::StatusOr<storage::Lease> renewed =
          store->RenewLease(lease->first, lease->second, options.lease_ttl);
      if (renewed.status().code() == absl::StatusCode::kAborted ||
          renewed.status().code() == absl::StatusCode::kNotFound) {
        session->LeaseLost(renewed.status());
      }
    }
  }
}

void Worker::Impl::Shutdown(absl::Time deadline) {
  shutting_down_.store(true);
  std::vector<std::shared_ptr<Session>> sessions;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, weak] : open_) {
      if (std::shared_ptr<Session> s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  for (auto& session : sessions) session->Drain();
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(
      absl::Condition(
          +[](Impl* impl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl->mu_) { return impl->open_.empty(); },
          this),
      deadline);
}

Worker::Impl::~Impl() {
  Shutdown(absl::Now() + absl::Seconds(10));
  {
    absl::MutexLock lock(&mu_);
    stop_renewer_ = true;
  }
  renewer_.join();
  executor.reset();  // runs what is still queued
}

Worker::Worker(engine::Backend* model, const engine::Tokenizer* tokenizer,
               engine::Scheduler* scheduler, storage::StateStore* store, Authenticate authenticate,
               WorkerOptions options, WorkerHooks hooks)
    : impl_(std::make_unique<Impl>(model, tokenizer, scheduler, store, std::move(authenticate),
                                   std::move(options), std::move(hooks))) {}

Worker::~Worker() = default;

grpc::Service* Worker::sessions_service() { return impl_.get(); }
bool Worker::IsOpen(const std::string& stream_id) const { return impl_->IsOpen(stream_id); }
int Worker::open_streams() const { return impl_->open_count(); }
int Worker::resident_streams() const { return impl_->resident_count(); }
void Worker::Shutdown(absl::Time deadline) { impl_->Shutdown(deadline); }

}  // namespace gander::service
