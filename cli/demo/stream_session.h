// One open Sessions.Stream call, driven step by step the way the demo
// narrates it: open (create, resume or fork), append input, generate while
// each token is handed to a callback as it arrives, then the checkpoint the
// default policy writes after every generation.
//
// Example:
//   v1::Open open;
//   open.mutable_create()->set_stream_id("demo-base");
//   open.set_seed(7);
//   GANDER_ASSIGN_OR_RETURN(std::unique_ptr<StreamSession> s,
//                           StreamSession::Open(channel, open, "demo-base"));
//   GANDER_RETURN_IF_ERROR(s->AppendText("Hello").status());
//   GANDER_ASSIGN_OR_RETURN(Generation g, s->Generate(request, on_token));
//   // g.checkpoint->version() is the acknowledged version.
//   GANDER_RETURN_IF_ERROR(s->Close());
//
// Ownership: the session owns its call and shares the channel. Thread
// safety: one thread at a time. Failure: the call's gRPC status as an
// absl::Status (same code and message); INTERNAL naming the event when the
// server sends something out of place, or when an event cannot be parsed. After a failure the call
// is over: use Abandon() (or destroy the session) to release it.
#ifndef GANDER_CLI_DEMO_STREAM_SESSION_H_
#define GANDER_CLI_DEMO_STREAM_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gander/v1/sessions.grpc.pb.h"

namespace gander::cli::demo {

// What one `generate` produced.
struct Generation {
  std::vector<int> token_ids;
  // The server's text: every token's `text` piece, then the trailing text
  // (empty when the server has no vocabulary).
  std::string text;
  v1::GenerationFinished finished;
  // The checkpoint the policy wrote after it (set when tokens were generated).
  std::optional<v1::Checkpointed> checkpoint;
};

class StreamSession {
 public:
  // Starts a call, sends `open` and waits for `opened`. `routing_id` goes
  // out as the `x-gander-stream-id` header. `deadline` bounds the whole call.
  static absl::StatusOr<std::unique_ptr<StreamSession>> Open(
      const std::shared_ptr<grpc::Channel>& channel, const v1::Open& open,
      const std::string& routing_id, absl::Duration deadline = absl::Minutes(2));
  ~StreamSession();

  const v1::Opened& opened() const { return opened_; }

  absl::StatusOr<v1::InputAppended> AppendText(const std::string& text);
  absl::StatusOr<v1::InputAppended> AppendTokens(const std::vector<int>& ids);

  // Sends `generate` and reads its tokens (each passed to `on_token` as it
  // arrives), its `generation_finished` and then the policy's checkpoint.
  absl::StatusOr<Generation> Generate(
      const v1::Generate& request,
      const std::function<void(const v1::GeneratedToken&)>& on_token = nullptr);

  // Generate in two halves, so that several streams can generate at once:
  // StartGenerate sends the request; ReadGeneration reads what Generate
  // reads. NextToken reads one token of a started generation instead.
  absl::Status StartGenerate(const v1::Generate& request);
  absl::StatusOr<Generation> ReadGeneration(
      const std::function<void(const v1::GeneratedToken&)>& on_token = nullptr);
  // The next token of the running generation. INTERNAL when the generation
  // finishes instead.
  absl::StatusOr<v1::GeneratedToken> NextToken();

  // Half-closes, reads what is left and returns the call's final status.
  absl::Status Close();
  // Cancels the call (after the server died, or to drop it) and reaps it.
  void Abandon();

 private:
  StreamSession() = default;
  absl::Status Send(const v1::StreamRequest& request);
  absl::StatusOr<v1::StreamResponse> Read();
  absl::StatusOr<v1::InputAppended> ReadAppended();
  // The call's status after the server ended it (Finish, once).
  absl::Status Ended(const char* while_doing);

  grpc::ClientContext context_;
  std::unique_ptr<v1::Sessions::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::StreamRequest, v1::StreamResponse>> call_;
  v1::Opened opened_;
  bool finished_ = false;
};

}  // namespace gander::cli::demo

#endif  // GANDER_CLI_DEMO_STREAM_SESSION_H_
