// One open Sessions.Stream call driven turn by turn, as `gander chat` uses
// it: open, then (append input, generate) per turn, cancel from another
// thread, checkpoint on demand, and a clean close (half-close, read the
// rest, Finish).
//
// Example:
//   ChatCallbacks callbacks;
//   callbacks.on_token = [](const v1::GeneratedToken& t) { std::fputs(t.text().c_str(), stdout); };
//   GANDER_ASSIGN_OR_RETURN(std::unique_ptr<ChatSession> session,
//                           ChatSession::Open(stub.get(), options, open, callbacks));
//   GANDER_ASSIGN_OR_RETURN(v1::GenerationFinished done, session->RunTurn(input, generate));
//   GANDER_RETURN_IF_ERROR(session->Close());
//
// Events are read on a thread the session owns, which calls the callbacks
// in the order the events arrive (never two at once, never with a lock
// held, so a callback may call CancelGeneration or Abort). A generation's
// summary (ChatCallbacks::on_turn_summary) waits for the checkpoint the
// policy writes after it (CHECKPOINT_POLICY_AFTER_GENERATION or
// EVERY_N_TOKENS when tokens were generated); it is delivered when that
// checkpoint arrives, or without it at the next other event or the end of
// the call.
//
// Ownership: the stub must outlive the session. Thread safety: RunTurn,
// Checkpoint and Close are called from one thread (the owner's);
// CancelGeneration and Abort from any thread. Failure: the call's gRPC
// status as an absl::Status (same code and message); INTERNAL when the
// server breaks the protocol (an event out of place), naming the event.
// Destroying a session that was not closed cancels the call.
#ifndef GANDER_CLI_CLIENT_CHAT_SESSION_H_
#define GANDER_CLI_CLIENT_CHAT_SESSION_H_

#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cli/client/connection.h"
#include "gander/v1/sessions.grpc.pb.h"

namespace gander::cli::client {

// A finished generation and the checkpoint that came with it.
struct TurnSummary {
  // The generation_finished event.
  v1::GenerationFinished finished;
  // The newest checkpoint written during the generation or by the policy
  // right after it; unset when none came.
  std::optional<v1::Checkpointed> checkpoint;
};

// What the session reports as events arrive. Every member may be empty.
struct ChatCallbacks {
  // Each generated token, as it arrives.
  std::function<void(const v1::GeneratedToken&)> on_token;
  // A generation ended (before its summary; trailing_text is still to be
  // shown).
  std::function<void(const v1::GenerationFinished&)> on_generation_finished;
  // A generation's summary, once its checkpoint (if one is due) arrived.
  std::function<void(const TurnSummary&)> on_turn_summary;
  // A checkpoint not tied to a generation: an answer to Checkpoint(), the
  // on-close checkpoint, or one the policy wrote between turns.
  std::function<void(const v1::Checkpointed&)> on_checkpoint;
};

class ChatSession {
 public:
  // What CancelGeneration did.
  enum class CancelResult {
    kSent,         // a Cancel was sent for the running generation
    kAlreadySent,  // one had already been sent for it; nothing sent
    kIdle,         // no generation is running; nothing sent
  };

  // Starts the call with PrepareContext(options, the id the open names),
  // sends `open` and waits for Opened. Fails with the call's status when
  // the server refuses the open, INTERNAL when its first event is not
  // Opened.
  static absl::StatusOr<std::unique_ptr<ChatSession>> Open(v1::Sessions::StubInterface* stub,
                                                           const ClientOptions& options,
                                                           const v1::Open& open,
                                                           ChatCallbacks callbacks);

  ChatSession(const ChatSession&) = delete;
  ChatSession& operator=(const ChatSession&) = delete;
  ~ChatSession();

  // The Opened event.
  const v1::Opened& opened() const { return opened_; }

  // Sends append_input (unless `input` has no input set) and `generate`,
  // then blocks until the generation's generation_finished arrives and
  // returns it. When the call ends first, returns the call's status (and
  // the session is closed).
  absl::StatusOr<v1::GenerationFinished> RunTurn(const v1::AppendInput& input,
                                                 const v1::Generate& generate);

  // Sends checkpoint_now and blocks until a checkpoint not tied to a
  // generation arrives (its answer); returns it.
  absl::StatusOr<v1::Checkpointed> Checkpoint();

  // Sends Cancel when a generation is running and none was sent for it.
  CancelResult CancelGeneration() ABSL_LOCKS_EXCLUDED(write_mu_, mu_);

  // Cancels the whole call at once (the server writes nothing more).
  void Abort();

  // Half-closes, lets the server finish the queued requests, delivers the
  // remaining events, and returns the call's final status. Later calls
  // return the same status.
  absl::Status Close();

 private:
  ChatSession(ChatCallbacks callbacks, v1::CheckpointPolicy policy);

  // Writes one request; false when the call is already broken.
  bool Write(const v1::StreamRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // The reader thread's loop.
  void ReadEvents();
  // Handles one event on the reader thread; false ends the call (protocol
  // error, recorded in protocol_error_).
  bool HandleEvent(const v1::StreamResponse& response);
  // Delivers the pending summary, if any.
  void FlushSummary();
  // Joins the reader and calls Finish once; returns the final status.
  absl::Status FinishCall();
  // Waits until `done` holds or the call has ended; true when `done`.
  bool WaitFor(const std::function<bool()>& done) ABSL_LOCKS_EXCLUDED(mu_);

  const ChatCallbacks callbacks_;
  const v1::CheckpointPolicy policy_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriterInterface<v1::StreamRequest, v1::StreamResponse>> stream_;
  v1::Opened opened_;
  std::thread reader_;

  // Serialises writes (requests, half-close); taken before mu_.
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool writes_done_ ABSL_GUARDED_BY(write_mu_) = false;

  absl::Mutex mu_;
  // Generates sent, and generation_finished events received.
  uint64_t generations_sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generations_finished_ ABSL_GUARDED_BY(mu_) = 0;
  // Index (generations_sent_) of the generation a Cancel was sent for.
  uint64_t cancelled_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Checkpoints not tied to a generation, and the newest of them.
  uint64_t lone_checkpoints_ ABSL_GUARDED_BY(mu_) = 0;
  v1::Checkpointed last_lone_checkpoint_ ABSL_GUARDED_BY(mu_);
  v1::GenerationFinished last_finished_ ABSL_GUARDED_BY(mu_);
  // The reader saw the end of the call.
  bool call_ended_ ABSL_GUARDED_BY(mu_) = false;
  // Set by the reader when the server broke the protocol.
  absl::Status protocol_error_ ABSL_GUARDED_BY(mu_);

  // Reader thread only: the running generation's newest checkpoint, and a
  // finished generation whose summary waits for its checkpoint.
  std::optional<v1::Checkpointed> turn_checkpoint_;
  std::optional<TurnSummary> pending_summary_;

  // Owner thread only.
  bool finished_ = false;
  absl::Status final_status_;
};

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_CHAT_SESSION_H_
