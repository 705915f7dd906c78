#include "cli/client/chat_session.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gander::cli::client {
namespace {

// The stream id an open concerns, for the routing header.
std::string RoutingId(const v1::Open& open) {
  switch (open.target_case()) {
    case v1::Open::kCreate:
      return open.create().stream_id();
    case v1::Open::kResume:
      return open.resume().stream_id();
    case v1::Open::kFork:
      return open.fork().stream_id().empty() ? open.fork().source_stream_id()
                                             : open.fork().stream_id();
    default:
      return "";
  }
}

const char* EventName(const v1::StreamResponse& response) {
  switch (response.event_case()) {
    case v1::StreamResponse::kOpened:
      return "opened";
    case v1::StreamResponse::kInputAppended:
      return "input_appended";
    case v1::StreamResponse::kToken:
      return "token";
    case v1::StreamResponse::kGenerationFinished:
      return "generation_finished";
    case v1::StreamResponse::kCheckpointed:
      return "checkpointed";
    default:
      return "empty event";
  }
}

// Whether the policy writes a checkpoint right after a generation that
// produced `generated` tokens.
bool CheckpointFollows(v1::CheckpointPolicy policy, uint32_t generated) {
  if (generated == 0) return false;
  return policy == v1::CHECKPOINT_POLICY_UNSPECIFIED ||
         policy == v1::CHECKPOINT_POLICY_AFTER_GENERATION ||
         policy == v1::CHECKPOINT_POLICY_EVERY_N_TOKENS;
}

}  // namespace

ChatSession::ChatSession(ChatCallbacks callbacks, v1::CheckpointPolicy policy)
    : callbacks_(std::move(callbacks)), policy_(policy) {}

ChatSession::~ChatSession() {
  if (!finished_) {
    Abort();
    FinishCall().IgnoreError();  // Cancelled on purpose: the status says so.
  }
}

absl::StatusOr<std::unique_ptr<ChatSession>> ChatSession::Open(v1::Sessions::StubInterface* stub,
                                                               const ClientOptions& options,
                                                               const v1::Open& open,
                                                               ChatCallbacks callbacks) {
  std::unique_ptr<ChatSession> session(
      new ChatSession(std::move(callbacks), open.checkpoint_policy()));
  PrepareContext(options, RoutingId(open), &session->context_);
  session->stream_ = stub->Stream(&session->context_);
  v1::StreamRequest request;
  *request.mutable_open() = open;
  v1::StreamResponse response;
  bool ok = false;
  {
    absl::MutexLock lock(&session->write_mu_);
    ok = session->Write(request);
  }
  if (ok) ok = session->stream_->Read(&response);
  if (!ok) {
    session->finished_ = true;
    ChatSession* raw = session.get();
    const absl::Status status =
        FinishAfterReads([raw] { return raw->stream_->Finish(); }, &session->context_);
    if (status.ok()) {
      return absl::InternalError("the server ended the call without an opened event");
    }
    return status;
  }
  if (!response.has_opened()) {
    session->context_.TryCancel();
    session->finished_ = true;
    session->stream_->Finish();  // Cancelled here: its status says only that.
    return absl::InternalError(absl::StrCat("protocol error: the server's first event is ",
                                            EventName(response), ", not opened"));
  }
  session->opened_ = response.opened();
  session->reader_ = std::thread([raw = session.get()] { raw->ReadEvents(); });
  return session;
}

bool ChatSession::Write(const v1::StreamRequest& request) {
  if (writes_done_) return false;
  return stream_->Write(request);
}

void ChatSession::ReadEvents() {
  v1::StreamResponse response;
  while (stream_->Read(&response)) {
    if (!HandleEvent(response)) {
      context_.TryCancel();
      while (stream_->Read(&response)) {
      }
      break;
    }
  }
  FlushSummary();
  absl::MutexLock lock(&mu_);
  call_ended_ = true;
}

bool ChatSession::HandleEvent(const v1::StreamResponse& response) {
  if (!response.has_checkpointed()) FlushSummary();
  switch (response.event_case()) {
    case v1::StreamResponse::kInputAppended:
      return true;
    case v1::StreamResponse::kToken: {
      {
        absl::MutexLock lock(&mu_);
        if (generations_sent_ == generations_finished_) {
          protocol_error_ = absl::InternalError(
              absl::StrCat("protocol error: token event at position ", response.token().position(),
                           " with no generation running"));
          return false;
        }
      }
      if (callbacks_.on_token) callbacks_.on_token(response.token());
      return true;
    }
    case v1::StreamResponse::kGenerationFinished: {
      {
        absl::MutexLock lock(&mu_);
        if (generations_sent_ == generations_finished_) {
          protocol_error_ = absl::InternalError(
              "protocol error: generation_finished event with no generation running");
          return false;
        }
      }
      const v1::GenerationFinished& finished = response.generation_finished();
      if (callbacks_.on_generation_finished) callbacks_.on_generation_finished(finished);
      TurnSummary summary{finished, std::move(turn_checkpoint_)};
      turn_checkpoint_.reset();
      pending_summary_ = std::move(summary);
      if (!CheckpointFollows(policy_, finished.generated_token_count())) FlushSummary();
      absl::MutexLock lock(&mu_);
      ++generations_finished_;
      last_finished_ = finished;
      return true;
    }
    case v1::StreamResponse::kCheckpointed: {
      const v1::Checkpointed& checkpoint = response.checkpointed();
      if (pending_summary_.has_value()) {
        pending_summary_->checkpoint = checkpoint;
        FlushSummary();
        return true;
      }
      bool in_generation = false;
      {
        absl::MutexLock lock(&mu_);
        in_generation = generations_sent_ > generations_finished_;
      }
      if (in_generation) {
        turn_checkpoint_ = checkpoint;
        return true;
      }
      if (callbacks_.on_checkpoint) callbacks_.on_checkpoint(checkpoint);
      absl::MutexLock lock(&mu_);
      ++lone_checkpoints_;
      last_lone_checkpoint_ = checkpoint;
      return true;
    }
    case v1::StreamResponse::kOpened: {
      absl::MutexLock lock(&mu_);
      protocol_error_ = absl::InternalError("protocol error: a second opened event");
      return false;
    }
    default: {
      absl::MutexLock lock(&mu_);
      protocol_error_ = absl::InternalError("protocol error: an event with nothing set");
      return false;
    }
  }
}

void ChatSession::FlushSummary() {
  if (!pending_summary_.has_value()) return;
  TurnSummary summary = std::move(*pending_summary_);
  pending_summary_.reset();
  if (callbacks_.on_turn_summary) callbacks_.on_turn_summary(summary);
}

bool ChatSession::WaitFor(const std::function<bool()>& done) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done() || call_ended_; };
  mu_.Await(absl::Condition(&ready));
  return done();
}

absl::StatusOr<v1::GenerationFinished> ChatSession::RunTurn(const v1::AppendInput& input,
                                                            const v1::Generate& generate) {
  if (finished_) return absl::FailedPreconditionError("the session is closed");
  uint64_t target = 0;
  {
    absl::MutexLock write_lock(&write_mu_);
    bool ok = true;
    if (input.input_case() != v1::AppendInput::INPUT_NOT_SET) {
      v1::StreamRequest request;
      *request.mutable_append_input() = input;
      ok = Write(request);
    }
    {
      absl::MutexLock lock(&mu_);
      target = ++generations_sent_;
    }
    if (ok) {
      v1::StreamRequest request;
      *request.mutable_generate() = generate;
      Write(request);  // A broken call shows as its end below.
    }
  }
  const bool finished =
      WaitFor([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return generations_finished_ >= target; });
  if (finished) {
    absl::MutexLock lock(&mu_);
    return last_finished_;
  }
  absl::Status status = FinishCall();
  if (status.ok()) {
    return absl::InternalError("the server ended the call before the generation finished");
  }
  return status;
}

absl::StatusOr<v1::Checkpointed> ChatSession::Checkpoint() {
  if (finished_) return absl::FailedPreconditionError("the session is closed");
  uint64_t before = 0;
  {
    absl::MutexLock write_lock(&write_mu_);
    {
      absl::MutexLock lock(&mu_);
      before = lone_checkpoints_;
    }
    v1::StreamRequest request;
    request.mutable_checkpoint_now();
    Write(request);  // A broken call shows as its end below.
  }
  const bool answered =
      WaitFor([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return lone_checkpoints_ > before; });
  if (answered) {
    absl::MutexLock lock(&mu_);
    return last_lone_checkpoint_;
  }
  absl::Status status = FinishCall();
  if (status.ok()) {
    return absl::InternalError("the server ended the call before the checkpoint was written");
  }
  return status;
}

ChatSession::CancelResult ChatSession::CancelGeneration() {
  absl::MutexLock write_lock(&write_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (generations_sent_ == generations_finished_) return CancelResult::kIdle;
    if (cancelled_generation_ == generations_sent_) return CancelResult::kAlreadySent;
    cancelled_generation_ = generations_sent_;
  }
  v1::StreamRequest request;
  request.mutable_cancel();
  Write(request);  // A broken call ends the generation anyway.
  return CancelResult::kSent;
}

void ChatSession::Abort() { context_.TryCancel(); }

absl::Status ChatSession::Close() {
  if (finished_) return final_status_;
  {
    absl::MutexLock write_lock(&write_mu_);
    if (!writes_done_) {
      writes_done_ = true;
      stream_->WritesDone();  // A broken call shows in Finish's status.
    }
  }
  return FinishCall();
}

absl::Status ChatSession::FinishCall() {
  if (finished_) return final_status_;
  finished_ = true;
  if (reader_.joinable()) reader_.join();
  const absl::Status status = FinishAfterReads([this] { return stream_->Finish(); }, &context_);
  absl::MutexLock lock(&mu_);
  final_status_ = protocol_error_.ok() ? status : protocol_error_;
  return final_status_;
}

}  // namespace gander::cli::client
