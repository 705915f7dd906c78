#include "cli/demo/stream_session.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace gander::cli::demo {
namespace {

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
    case v1::StreamResponse::EVENT_NOT_SET:
      break;
  }
  return "an empty event";
}

absl::Status Unexpected(const v1::StreamResponse& response, const char* expected) {
  return absl::InternalError(
      absl::StrCat("the server sent ", EventName(response), " where ", expected, " was due"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StreamSession>> StreamSession::Open(
    const std::shared_ptr<grpc::Channel>& channel, const v1::Open& open,
    const std::string& routing_id, absl::Duration deadline) {
  std::unique_ptr<StreamSession> session(new StreamSession());
  session->stub_ = v1::Sessions::NewStub(channel);
  if (!routing_id.empty()) session->context_.AddMetadata("x-gander-stream-id", routing_id);
  session->context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  session->call_ = session->stub_->Stream(&session->context_);
  v1::StreamRequest request;
  *request.mutable_open() = open;
  GANDER_RETURN_IF_ERROR(session->Send(request));
  GANDER_ASSIGN_OR_RETURN(v1::StreamResponse response, session->Read());
  if (!response.has_opened()) return Unexpected(response, "opened");
  session->opened_ = response.opened();
  return session;
}

StreamSession::~StreamSession() {
  if (!finished_) Abandon();
}

absl::Status StreamSession::Send(const v1::StreamRequest& request) {
  if (finished_) return absl::FailedPreconditionError("the call has ended");
  if (call_->Write(request)) return absl::OkStatus();
  return Ended("sending a request");
}

absl::StatusOr<v1::StreamResponse> StreamSession::Read() {
  if (finished_) return absl::FailedPreconditionError("the call has ended");
  v1::StreamResponse response;
  if (call_->Read(&response)) return response;
  return Ended("waiting for an event");
}

absl::Status StreamSession::Ended(const char* while_doing) {
  finished_ = true;
  // A read fails when the server has ended the call (then Finish returns its
  // status at once) and also when an event cannot be parsed, while the call
  // goes on: then Finish would wait for the deadline, so the call is
  // cancelled if Finish has not returned within a moment.
  absl::Notification finished;
  std::thread watchdog([this, &finished] {
    if (!finished.WaitForNotificationWithTimeout(absl::Seconds(2))) context_.TryCancel();
  });
  const absl::Status status = FromGrpcStatus(call_->Finish());
  finished.Notify();
  watchdog.join();
  if (status.code() == absl::StatusCode::kCancelled) {
    return absl::InternalError(absl::StrCat("the call broke while ", while_doing,
                                            " (an event the server sent could not be read)"));
  }
  if (!status.ok()) return status;
  return absl::InternalError(absl::StrCat("the server ended the call while ", while_doing));
}

absl::StatusOr<v1::InputAppended> StreamSession::ReadAppended() {
  GANDER_ASSIGN_OR_RETURN(v1::StreamResponse response, Read());
  if (!response.has_input_appended()) return Unexpected(response, "input_appended");
  return response.input_appended();
}

absl::StatusOr<v1::InputAppended> StreamSession::AppendText(const std::string& text) {
  v1::StreamRequest request;
  request.mutable_append_input()->set_text(text);
  GANDER_RETURN_IF_ERROR(Send(request));
  return ReadAppended();
}

absl::StatusOr<v1::InputAppended> StreamSession::AppendTokens(const std::vector<int>& ids) {
  v1::StreamRequest request;
  for (int id : ids) request.mutable_append_input()->mutable_token_ids()->add_ids(id);
  GANDER_RETURN_IF_ERROR(Send(request));
  return ReadAppended();
}

absl::Status StreamSession::StartGenerate(const v1::Generate& generate) {
  v1::StreamRequest request;
  *request.mutable_generate() = generate;
  return Send(request);
}

absl::StatusOr<v1::GeneratedToken> StreamSession::NextToken() {
  GANDER_ASSIGN_OR_RETURN(v1::StreamResponse response, Read());
  if (!response.has_token()) return Unexpected(response, "token");
  return response.token();
}

absl::StatusOr<Generation> StreamSession::Generate(
    const v1::Generate& request, const std::function<void(const v1::GeneratedToken&)>& on_token) {
  GANDER_RETURN_IF_ERROR(StartGenerate(request));
  return ReadGeneration(on_token);
}

absl::StatusOr<Generation> StreamSession::ReadGeneration(
    const std::function<void(const v1::GeneratedToken&)>& on_token) {
  Generation generation;
  while (true) {
    GANDER_ASSIGN_OR_RETURN(v1::StreamResponse response, Read());
    if (response.has_token()) {
      generation.token_ids.push_back(static_cast<int>(response.token().token_id()));
      generation.text += response.token().text();
      if (on_token) on_token(response.token());
      continue;
    }
    if (!response.has_generation_finished()) return Unexpected(response, "token");
    generation.finished = response.generation_finished();
    generation.text += generation.finished.trailing_text();
    break;
  }
  // The default policy (after every generation) checkpoints a generation
  // that produced tokens; the event follows generation_finished.
  if (generation.finished.generated_token_count() > 0) {
    GANDER_ASSIGN_OR_RETURN(v1::StreamResponse response, Read());
    if (!response.has_checkpointed()) return Unexpected(response, "checkpointed");
    generation.checkpoint = response.checkpointed();
  }
  return generation;
}

absl::Status StreamSession::Close() {
  if (finished_) return absl::FailedPreconditionError("the call has ended");
  call_->WritesDone();
  v1::StreamResponse response;
  while (call_->Read(&response)) {
  }
  finished_ = true;
  return FromGrpcStatus(call_->Finish());
}

void StreamSession::Abandon() {
  if (finished_) return;
  context_.TryCancel();
  v1::StreamResponse response;
  while (call_->Read(&response)) {
  }
  finished_ = true;
  // CANCELLED or UNAVAILABLE: nothing to learn from it.
  static_cast<void>(call_->Finish());
}

}  // namespace gander::cli::demo
