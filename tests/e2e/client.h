// Test support: a small synchronous client of Sessions.Stream for the
// end-to-end tests (one call = one open stream).
#ifndef GANDER_TESTS_E2E_CLIENT_H_
#define GANDER_TESTS_E2E_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gander/v1/sessions.grpc.pb.h"

namespace gander::testing {

using ::gander::v1::StreamRequest;
using ::gander::v1::StreamResponse;

inline std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

inline StreamRequest CreateRequest(
    const std::string& id, uint64_t seed,
    v1::CheckpointPolicy policy = v1::CHECKPOINT_POLICY_UNSPECIFIED) {
  StreamRequest r;
  r.mutable_open()->mutable_create()->set_stream_id(id);
  r.mutable_open()->set_seed(seed);
  r.mutable_open()->set_checkpoint_policy(policy);
  return r;
}
inline StreamRequest ResumeRequest(const std::string& id, uint64_t seed) {
  StreamRequest r;
  r.mutable_open()->mutable_resume()->set_stream_id(id);
  r.mutable_open()->set_seed(seed);
  return r;
}
inline StreamRequest ForkRequest(const std::string& source, uint64_t version, const std::string& id,
                                 uint64_t seed) {
  StreamRequest r;
  r.mutable_open()->mutable_fork()->set_source_stream_id(source);
  r.mutable_open()->mutable_fork()->set_version(version);
  r.mutable_open()->mutable_fork()->set_stream_id(id);
  r.mutable_open()->set_seed(seed);
  return r;
}
inline StreamRequest AppendRequest(const std::vector<uint32_t>& ids) {
  StreamRequest r;
  for (uint32_t id : ids) r.mutable_append_input()->mutable_token_ids()->add_ids(id);
  return r;
}
inline StreamRequest GenerateRequest(uint32_t max_tokens, float temperature = 1.0f) {
  StreamRequest r;
  r.mutable_generate()->set_max_tokens(max_tokens);
  r.mutable_generate()->mutable_sampling()->set_temperature(temperature);
  return r;
}

// One open Sessions.Stream call.
class StreamCall {
 public:
  StreamCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& token = "",
             const std::string& routing_id = "") {
    stub_ = v1::Sessions::NewStub(channel);
    if (!token.empty()) context_.AddMetadata("authorization", "Bearer " + token);
    if (!routing_id.empty()) context_.AddMetadata("x-gander-stream-id", routing_id);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    stream_ = stub_->Stream(&context_);
  }

  bool Send(const StreamRequest& request) { return stream_->Write(request); }
  // Next event; false when the call ended (then Finish() tells why).
  bool Read(StreamResponse* response) { return stream_->Read(response); }

  // Sends `open` and reads the `opened` event.
  bool Open(const StreamRequest& open, v1::Opened* opened = nullptr) {
    if (!Send(open)) return false;
    StreamResponse r;
    if (!Read(&r) || !r.has_opened()) return false;
    if (opened != nullptr) *opened = r.opened();
    return true;
  }
  bool Append(const std::vector<uint32_t>& ids) {
    if (!Send(AppendRequest(ids))) return false;
    StreamResponse r;
    return Read(&r) && r.has_input_appended();
  }
  // Sends `generate` and reads its tokens, its `generation_finished` and,
  // with expect_checkpoint, the `checkpointed` that follows. Returns the
  // tokens; *ok says whether all of that arrived.
  std::vector<int> Generate(const StreamRequest& generate, bool expect_checkpoint, bool* ok,
                            uint64_t* checkpoint_version = nullptr) {
    std::vector<int> tokens;
    *ok = Send(generate);
    StreamResponse r;
    while (*ok && (*ok = Read(&r))) {
      if (r.has_token()) tokens.push_back(static_cast<int>(r.token().token_id()));
      if (r.has_generation_finished()) break;
    }
    if (*ok && expect_checkpoint) {
      *ok = Read(&r) && r.has_checkpointed() && r.checkpointed().durable();
      if (*ok && checkpoint_version != nullptr) *checkpoint_version = r.checkpointed().version();
    }
    return tokens;
  }
  // Half-closes, drains the remaining events and returns the call's status.
  grpc::Status Close() {
    stream_->WritesDone();
    StreamResponse r;
    while (Read(&r)) {
    }
    return stream_->Finish();
  }
  grpc::Status Finish() { return stream_->Finish(); }
  grpc::ClientContext& context() { return context_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<v1::Sessions::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<StreamRequest, StreamResponse>> stream_;
};

}  // namespace gander::testing

#endif  // GANDER_TESTS_E2E_CLIENT_H_
