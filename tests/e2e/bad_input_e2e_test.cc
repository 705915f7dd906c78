// End-to-end: the bad-input matrix against a real `gander serve` with
// authentication on. Each case expects its precise status; afterwards the
// server still serves, holds no open stream, and its memory has not grown
// with repeated rounds.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/weights/random_model.h"
#include "gander/v1/streams.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "storage/state_codec.h"
#include "tests/e2e/client.h"
#include "tests/testing/server_process.h"

namespace gander::testing {
namespace {

constexpr char kAcme[] = "acme-token-0123456789abcdef";
constexpr char kOther[] = "other-token-0123456789abcdef";

class BadInputE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_.layers = 2;
    spec_.embd = 128;
    spec_.vocab = 1024;
    spec_.seed = 5;
    const std::string model = TmpPath("bad_input_model.safetensors");
    ASSERT_TRUE(engine::WriteRandomModel(spec_, model, engine::TensorFormat::kSafetensors,
                                         engine::FileDtype::kBF16)
                    .ok());
    const std::string tokens = TmpPath("tokens.txt");
    FILE* f = std::fopen(tokens.c_str(), "w");
    std::fprintf(f, "# test tenants\n%s acme\n%s other\n", kAcme, kOther);
    std::fclose(f);
    server_ = ServerProcess::Start(
        "serve",
        {"--model=" + model, "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
         "--data-dir=" + TmpPath("bad-input-data"), "--auth-tokens=" + tokens, "--threads=1",
         "--prefill-chunk=8", "--max-step-tokens=80", "--max-message-bytes=1200000"},
        "bad-input");
    ASSERT_NE(server_, nullptr);
    absl::StatusOr<std::map<std::string, int>> ports = server_->WaitReadyPorts();
    ASSERT_TRUE(ports.ok()) << ports.status();
    port_ = ports->at("grpc_port");
    metrics_port_ = ports->at("metrics_port");
  }

  // Runs one call with `requests` and returns how it ended.
  grpc::Status Call(const std::vector<StreamRequest>& requests, const std::string& token) {
    StreamCall call(Connect(port_), token);
    for (const StreamRequest& r : requests) call.Send(r);
    return call.Close();
  }

  grpc::Status Import(const std::string& id, const std::string& bytes, const std::string& token) {
    auto stub = v1::Streams::NewStub(Connect(port_));
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + token);
    v1::ImportStreamResponse response;
    auto writer = stub->ImportStream(&context, &response);
    v1::ImportStreamRequest header;
    header.mutable_header()->set_stream_id(id);
    header.mutable_header()->set_size_bytes(bytes.size());
    writer->Write(header);
    v1::ImportStreamRequest chunk;
    chunk.set_chunk(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  std::string Export(const std::string& id, const std::string& token, grpc::Status* status) {
    auto stub = v1::Streams::NewStub(Connect(port_));
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + token);
    v1::ExportStreamRequest request;
    request.set_stream_id(id);
    auto reader = stub->ExportStream(&context, request);
    std::string bytes;
    v1::ExportStreamResponse part;
    while (reader->Read(&part)) {
      if (part.has_chunk()) bytes += part.chunk();
    }
    *status = reader->Finish();
    return bytes;
  }

  // One round of every bad input. `round` keeps ids distinct.
  void BadInputRound(int round) {
    const std::string id = absl::StrCat("owned-", round);
    {
      StreamCall call(Connect(port_), kAcme);
      ASSERT_TRUE(call.Open(CreateRequest(id, 1)));
      ASSERT_TRUE(call.Append({1, 2, 3}));
      bool ok = false;
      call.Generate(GenerateRequest(4), true, &ok);
      ASSERT_TRUE(ok);
      ASSERT_TRUE(call.Close().ok());
    }
    // Unknown stream.
    EXPECT_EQ(Call({ResumeRequest("no-such-stream", 1)}, kAcme).error_code(),
              grpc::StatusCode::NOT_FOUND);
    // Malformed first message.
    EXPECT_EQ(Call({AppendRequest({1})}, kAcme).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    // Out-of-range token id.
    EXPECT_EQ(
        Call({ResumeRequest(id, 1), AppendRequest({static_cast<uint32_t>(spec_.vocab)})}, kAcme)
            .error_code(),
        grpc::StatusCode::INVALID_ARGUMENT);
    // Oversize requests: more tokens than one append may carry, and more
    // bytes than --max-message-bytes in one message (refused by gRPC before
    // it is parsed).
    EXPECT_EQ(Call({ResumeRequest(id, 1), AppendRequest(std::vector<uint32_t>(70000, 1))}, kAcme)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(
        Call({ResumeRequest(id, 1), AppendRequest(std::vector<uint32_t>(700000, 1000))}, kAcme)
            .error_code(),
        grpc::StatusCode::RESOURCE_EXHAUSTED);
    // Wrong tenant: another tenant's stream does not exist for it.
    EXPECT_EQ(Call({ResumeRequest(id, 1)}, kOther).error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Call({ForkRequest(id, 0, absl::StrCat("steal-", round), 1)}, kOther).error_code(),
              grpc::StatusCode::NOT_FOUND);
    grpc::Status export_status;
    Export(id, kOther, &export_status);
    EXPECT_EQ(export_status.error_code(), grpc::StatusCode::NOT_FOUND);
    // Missing and bad tokens.
    EXPECT_EQ(Call({ResumeRequest(id, 1)}, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Call({ResumeRequest(id, 1)}, "not-a-known-token-at-all").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    // A state from another model.
    storage::StreamSnapshot foreign;
    foreign.model_fingerprint = "another-model";
    foreign.config = *engine::RandomModelConfig(spec_);
    foreign.state = engine::RecurrentState(foreign.config);
    absl::StatusOr<std::string> foreign_bytes =
        storage::EncodeSnapshot(foreign, storage::StateCodec::kRaw);
    ASSERT_TRUE(foreign_bytes.ok());
    EXPECT_EQ(Import(absl::StrCat("foreign-", round), *foreign_bytes, kAcme).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    // A corrupt import: the stream's own export with one byte flipped.
    std::string bytes = Export(id, kAcme, &export_status);
    ASSERT_TRUE(export_status.ok()) << export_status.error_message();
    bytes[bytes.size() / 2] ^= 0x40;
    EXPECT_EQ(Import(absl::StrCat("corrupt-", round), bytes, kAcme).error_code(),
              grpc::StatusCode::DATA_LOSS);
    // A stale lease: the stream is open in another session.
    {
      StreamCall holder(Connect(port_), kAcme);
      ASSERT_TRUE(holder.Open(ResumeRequest(id, 1)));
      EXPECT_EQ(Call({ResumeRequest(id, 1)}, kAcme).error_code(), grpc::StatusCode::ABORTED);
      EXPECT_TRUE(holder.Close().ok());
    }
    // Cancellation in the middle of a long prefill: the generation ends
    // with CANCELLED before its first token, and the stream goes on.
    {
      StreamCall call(Connect(port_), kAcme);
      ASSERT_TRUE(call.Open(ResumeRequest(id, 1)));
      std::vector<uint32_t> prompt(20000);
      for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 1 + i % 1000;
      ASSERT_TRUE(call.Append(prompt));
      ASSERT_TRUE(call.Send(GenerateRequest(5)));
      StreamRequest cancel;
      cancel.mutable_cancel();
      ASSERT_TRUE(call.Send(cancel));
      StreamResponse r;
      int tokens = 0;
      while (call.Read(&r) && !r.has_generation_finished()) tokens += r.has_token();
      ASSERT_TRUE(r.has_generation_finished());
      EXPECT_EQ(r.generation_finished().reason(), v1::FINISH_REASON_CANCELLED);
      EXPECT_EQ(tokens, 0);
      EXPECT_LT(r.generation_finished().token_count(), 20000u);
      EXPECT_TRUE(call.Close().ok());
    }
  }

  engine::RandomModelSpec spec_;
  std::unique_ptr<ServerProcess> server_;
  int port_ = 0;
  int metrics_port_ = 0;
};

TEST_F(BadInputE2eTest, EveryCaseGetsItsStatusAndNothingLeaks) {
  BadInputRound(0);
  BadInputRound(1);
  const long long rss_after_warmup = server_->ResidentBytes();
  for (int round = 2; round < 6; ++round) BadInputRound(round);
  const long long rss_after = server_->ResidentBytes();

  // Still serving.
  auto health = grpc::health::v1::Health::NewStub(Connect(port_));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // Open streams back to zero (sessions end asynchronously: allow a moment).
  double open = -1;
  for (int i = 0; i < 100 && open != 0; ++i) {
    open = MetricValue(HttpGetBody(metrics_port_, "/metrics"), "gander_open_streams");
    if (open != 0) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(open, 0);
  EXPECT_EQ(MetricValue(HttpGetBody(metrics_port_, "/metrics"), "gander_resident_streams"), 0);
  // Four more rounds of every bad input grow resident memory by less than
  // 16 MiB (allocator caches aside, nothing is kept per failed call).
  ASSERT_GT(rss_after_warmup, 0);
  EXPECT_LT(rss_after - rss_after_warmup, 16ll << 20)
      << "RSS " << rss_after_warmup << " -> " << rss_after;
  server_->Signal(SIGTERM);
  absl::StatusOr<int> status = server_->Wait();
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << server_->Log();
}

}  // namespace
}  // namespace gander::testing
