#include "cli/demo/stream_session.h"

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/client/testing/fake_gander_server.h"
#include "gtest/gtest.h"

namespace gander::cli::demo {
namespace {

using client::testing::FakeGanderOptions;
using client::testing::FakeGanderServer;

std::shared_ptr<grpc::Channel> Connect(const FakeGanderServer& server) {
  return grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
}

v1::Open Create(const std::string& id) {
  v1::Open open;
  open.mutable_create()->set_stream_id(id);
  open.mutable_create()->set_tenant("demo");
  open.set_seed(7);
  return open;
}

v1::Generate Tokens(uint32_t n) {
  v1::Generate generate;
  generate.set_max_tokens(n);
  return generate;
}

TEST(StreamSessionTest, GenerationStreamsTokensThenTheCheckpoint) {
  FakeGanderServer server;
  absl::StatusOr<std::unique_ptr<StreamSession>> session =
      StreamSession::Open(Connect(server), Create("s1"), "s1");
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->opened().stream_id(), "s1");
  absl::StatusOr<v1::InputAppended> appended = (*session)->AppendText("hello");
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->token_count(), 5u);  // the fake counts one token per byte
  ASSERT_TRUE((*session)->AppendTokens({1, 2}).ok());

  std::vector<uint64_t> positions;
  absl::StatusOr<Generation> generation = (*session)->Generate(
      Tokens(3), [&](const v1::GeneratedToken& t) { positions.push_back(t.position()); });
  ASSERT_TRUE(generation.ok()) << generation.status();
  EXPECT_EQ(positions, (std::vector<uint64_t>{7, 8, 9}));
  EXPECT_EQ(generation->token_ids.size(), 3u);
  EXPECT_EQ(generation->text, "7 8 9 .");  // pieces, then the trailing text
  ASSERT_TRUE(generation->checkpoint.has_value());
  EXPECT_EQ(generation->checkpoint->token_count(), 10u);
  EXPECT_TRUE((*session)->Close().ok());

  // The routing header names the stream.
  ASSERT_FALSE(server.calls().empty());
  EXPECT_EQ(server.calls()[0].stream_id_header, "s1");
}

TEST(StreamSessionTest, TokensOneByOneThenAbandon) {
  FakeGanderOptions options;
  options.generate_until_cancel = true;
  FakeGanderServer server(options);
  absl::StatusOr<std::unique_ptr<StreamSession>> session =
      StreamSession::Open(Connect(server), Create("s2"), "s2");
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->AppendTokens({1}).ok());
  ASSERT_TRUE((*session)->StartGenerate(Tokens(0)).ok());
  for (uint64_t i = 0; i < 4; ++i) {
    absl::StatusOr<v1::GeneratedToken> token = (*session)->NextToken();
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->position(), 1 + i);
  }
  (*session)->Abandon();
  EXPECT_EQ((*session)->NextToken().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StreamSessionTest, TheServersErrorComesBackWithItsCode) {
  FakeGanderOptions options;
  options.open_status = grpc::Status(grpc::StatusCode::NOT_FOUND, "no stream \"x\"");
  FakeGanderServer server(options);
  v1::Open open;
  open.mutable_resume()->set_stream_id("x");
  absl::StatusOr<std::unique_ptr<StreamSession>> session =
      StreamSession::Open(Connect(server), open, "x");
  EXPECT_EQ(session.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(session.status().message(), "no stream \"x\"");

  options.open_status = grpc::Status::OK;
  options.generate_status = grpc::Status(grpc::StatusCode::ABORTED, "lease lost");
  server.set_options(options);
  session = StreamSession::Open(Connect(server), Create("s3"), "s3");
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->AppendTokens({1}).ok());
  absl::StatusOr<Generation> generation = (*session)->Generate(Tokens(3));
  EXPECT_EQ(generation.status().code(), absl::StatusCode::kAborted);
}

// An event the client cannot parse (text that is not UTF-8) ends the call
// at once with INTERNAL, not at the call's deadline.
TEST(StreamSessionTest, UnreadableEventFailsFast) {
  FakeGanderOptions options;
  options.invalid_utf8_token = true;
  FakeGanderServer server(options);
  absl::StatusOr<std::unique_ptr<StreamSession>> session =
      StreamSession::Open(Connect(server), Create("s4"), "s4", absl::Seconds(60));
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->AppendTokens({1}).ok());
  const absl::Time start = absl::Now();
  absl::StatusOr<Generation> generation = (*session)->Generate(Tokens(5));
  EXPECT_EQ(generation.status().code(), absl::StatusCode::kInternal) << generation.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace gander::cli::demo
