#include "cli/client/chat_session.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/client/connection.h"
#include "cli/client/testing/fake_gander_server.h"
#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

using testing::FakeGanderOptions;
using testing::FakeGanderServer;

// What the callbacks saw. Written on the session's reader thread; read by
// the test after Close (which joins that thread) or after RunTurn returns
// for the fields written before the generation_finished it waits for.
struct Seen {
  std::string text;
  std::vector<uint64_t> positions;
  std::vector<v1::GenerationFinished> finished;
  std::vector<TurnSummary> summaries;
  std::vector<v1::Checkpointed> lone_checkpoints;
};

class ChatSessionTest : public ::testing::Test {
 protected:
  void StartServer(const FakeGanderOptions& options = {}) {
    server_ = std::make_unique<FakeGanderServer>(options);
    options_.server = server_->address();
    options_.token = "tok";
    options_.timeout = absl::Seconds(20);
    channel_ = *MakeChannel(options_);
    stub_ = v1::Sessions::NewStub(channel_);
  }

  ChatCallbacks Callbacks() {
    ChatCallbacks callbacks;
    callbacks.on_token = [this](const v1::GeneratedToken& token) {
      seen_.text += token.text();
      seen_.positions.push_back(token.position());
      if (on_token_) on_token_(token);
    };
    callbacks.on_generation_finished = [this](const v1::GenerationFinished& finished) {
      seen_.finished.push_back(finished);
      seen_.text += finished.trailing_text();
    };
    callbacks.on_turn_summary = [this](const TurnSummary& s) { seen_.summaries.push_back(s); };
    callbacks.on_checkpoint = [this](const v1::Checkpointed& c) {
      seen_.lone_checkpoints.push_back(c);
    };
    return callbacks;
  }

  static v1::Open Create(const std::string& id,
                         v1::CheckpointPolicy policy = v1::CHECKPOINT_POLICY_AFTER_GENERATION) {
    v1::Open open;
    open.mutable_create()->set_stream_id(id);
    open.set_checkpoint_policy(policy);
    return open;
  }

  static v1::AppendInput Text(const std::string& text) {
    v1::AppendInput input;
    input.set_text(text);
    return input;
  }

  static v1::Generate MaxTokens(uint32_t n) {
    v1::Generate generate;
    generate.set_max_tokens(n);
    return generate;
  }

  std::unique_ptr<FakeGanderServer> server_;
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Sessions::Stub> stub_;
  Seen seen_;
  std::function<void(const v1::GeneratedToken&)> on_token_;
};

TEST_F(ChatSessionTest, OneTurnStreamsTokensThenClosesCleanly) {
  StartServer();
  absl::StatusOr<std::unique_ptr<ChatSession>> session =
      ChatSession::Open(stub_.get(), options_, Create("chat-1"), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ((*session)->opened().stream_id(), "chat-1");
  EXPECT_EQ((*session)->opened().model(), "fake-rwkv7");

  absl::StatusOr<v1::GenerationFinished> done = (*session)->RunTurn(Text("hello"), MaxTokens(3));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->reason(), v1::FINISH_REASON_MAX_TOKENS);
  EXPECT_EQ(done->generated_token_count(), 3u);
  EXPECT_EQ(done->token_count(), 8u);  // 5 input bytes + 3 generated
  ASSERT_TRUE((*session)->Close().ok());

  // The fake counts one token per input byte, so generation starts at 5.
  EXPECT_EQ(seen_.text, "5 6 7 .");
  EXPECT_EQ(seen_.positions, (std::vector<uint64_t>{5, 6, 7}));
  ASSERT_EQ(seen_.summaries.size(), 1u);
  ASSERT_TRUE(seen_.summaries[0].checkpoint.has_value());
  EXPECT_EQ(seen_.summaries[0].checkpoint->version(), 1u);
  EXPECT_EQ(seen_.summaries[0].checkpoint->token_count(), 8u);
  EXPECT_TRUE(seen_.lone_checkpoints.empty());

  const std::vector<v1::StreamRequest> requests = server_->session_requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_TRUE(requests[0].has_open());
  EXPECT_EQ(requests[1].append_input().text(), "hello");
  EXPECT_EQ(requests[2].generate().max_tokens(), 3u);
  ASSERT_EQ(server_->calls().size(), 1u);
  EXPECT_EQ(server_->calls()[0].stream_id_header, "chat-1");
  EXPECT_EQ(server_->calls()[0].authorization, "Bearer tok");
}

TEST_F(ChatSessionTest, TurnsContinueTheStreamAndEachGetsItsCheckpoint) {
  StartServer();
  auto session = ChatSession::Open(stub_.get(), options_, Create("chat-2"), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->RunTurn(Text("ab"), MaxTokens(2)).ok());
  absl::StatusOr<v1::GenerationFinished> second = (*session)->RunTurn(Text("c"), MaxTokens(1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->token_count(), 6u);
  ASSERT_TRUE((*session)->Close().ok());
  EXPECT_EQ(seen_.text, "2 3 .5 .");
  ASSERT_EQ(seen_.summaries.size(), 2u);
  EXPECT_EQ(seen_.summaries[0].checkpoint->version(), 1u);
  EXPECT_EQ(seen_.summaries[1].checkpoint->version(), 2u);

  // The stream can be resumed where it stopped.
  auto resumed = ChatSession::Open(
      stub_.get(), options_,
      [] {
        v1::Open open;
        open.mutable_resume()->set_stream_id("chat-2");
        return open;
      }(),
      Callbacks());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->opened().version(), 2u);
  EXPECT_EQ((*resumed)->opened().token_count(), 6u);
  EXPECT_TRUE((*resumed)->Close().ok());
}

TEST_F(ChatSessionTest, OpenFailuresCarryTheServersStatus) {
  FakeGanderOptions options;
  options.open_status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many streams");
  StartServer(options);
  auto refused = ChatSession::Open(stub_.get(), options_, Create("x"), Callbacks());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status().message(), "too many streams");

  server_->set_options(FakeGanderOptions());
  v1::Open resume;
  resume.mutable_resume()->set_stream_id("missing");
  auto unknown = ChatSession::Open(stub_.get(), options_, resume, Callbacks());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ChatSessionTest, UnreachableServerIsUnavailable) {
  ClientOptions options;
  options.server = "127.0.0.1:1";
  options.timeout = absl::Seconds(10);
  auto stub = v1::Sessions::NewStub(*MakeChannel(options));
  auto session = ChatSession::Open(stub.get(), options, Create("x"), ChatCallbacks());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnavailable) << session.status();
}

TEST_F(ChatSessionTest, ErrorDuringATurnEndsItWithThatStatus) {
  FakeGanderOptions options;
  options.generate_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "store down");
  StartServer(options);
  auto session = ChatSession::Open(stub_.get(), options_, Create("e"), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<v1::GenerationFinished> done = (*session)->RunTurn(Text("x"), MaxTokens(4));
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(done.status().message(), "store down");
  EXPECT_EQ((*session)->Close().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*session)->RunTurn(Text("y"), MaxTokens(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ChatSessionTest, UnreadableResponseEndsTheCallWithoutHanging) {
  FakeGanderOptions options;
  options.invalid_utf8_token = true;
  StartServer(options);
  auto session = ChatSession::Open(stub_.get(), options_, Create("bad"), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<v1::GenerationFinished> done = (*session)->RunTurn(Text("x"), MaxTokens(5));
  EXPECT_EQ(done.status().code(), absl::StatusCode::kInternal) << done.status();
  EXPECT_NE(done.status().message().find("could not be read"), absl::string_view::npos)
      << done.status();
  EXPECT_EQ(seen_.positions, (std::vector<uint64_t>{1, 2}));
}

TEST_F(ChatSessionTest, CancelStopsARunningGeneration) {
  FakeGanderOptions options;
  options.generate_until_cancel = true;
  StartServer(options);
  auto session = ChatSession::Open(stub_.get(), options_, Create("c"), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  ChatSession* raw = session->get();
  EXPECT_EQ(raw->CancelGeneration(), ChatSession::CancelResult::kIdle);
  std::vector<ChatSession::CancelResult> results;
  on_token_ = [&](const v1::GeneratedToken& token) {
    // Cancel from another thread than the one in RunTurn, once 5 tokens
    // have arrived; a second request sends nothing more.
    if (token.position() == 5) {
      results.push_back(raw->CancelGeneration());
      results.push_back(raw->CancelGeneration());
    }
  };
  absl::StatusOr<v1::GenerationFinished> done = raw->RunTurn(Text("x"), MaxTokens(0));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->reason(), v1::FINISH_REASON_CANCELLED);
  EXPECT_GE(done->generated_token_count(), 5u);
  EXPECT_LT(done->generated_token_count(), 100000u);
  EXPECT_EQ(results,
            (std::vector<ChatSession::CancelResult>{ChatSession::CancelResult::kSent,
                                                    ChatSession::CancelResult::kAlreadySent}));
  EXPECT_EQ(raw->CancelGeneration(), ChatSession::CancelResult::kIdle);
  ASSERT_TRUE(raw->Close().ok());
  int cancels = 0;
  for (const v1::StreamRequest& r : server_->session_requests()) cancels += r.has_cancel();
  EXPECT_EQ(cancels, 1);
  ASSERT_EQ(seen_.summaries.size(), 1u);
  EXPECT_EQ(seen_.summaries[0].finished.reason(), v1::FINISH_REASON_CANCELLED);
  EXPECT_TRUE(seen_.summaries[0].checkpoint.has_value());
}

TEST_F(ChatSessionTest, OnClosePolicyCheckpointsAtTheEnd) {
  StartServer();
  auto session = ChatSession::Open(stub_.get(), options_,
                                   Create("oc", v1::CHECKPOINT_POLICY_ON_CLOSE), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->RunTurn(Text("x"), MaxTokens(2)).ok());
  ASSERT_TRUE((*session)->Close().ok());
  ASSERT_EQ(seen_.summaries.size(), 1u);
  EXPECT_FALSE(seen_.summaries[0].checkpoint.has_value());
  ASSERT_EQ(seen_.lone_checkpoints.size(), 1u);
  EXPECT_EQ(seen_.lone_checkpoints[0].version(), 1u);
  EXPECT_EQ(seen_.lone_checkpoints[0].token_count(), 3u);
}

TEST_F(ChatSessionTest, CheckpointOnRequest) {
  StartServer();
  auto session = ChatSession::Open(stub_.get(), options_,
                                   Create("or", v1::CHECKPOINT_POLICY_ON_REQUEST), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  ASSERT_TRUE((*session)->RunTurn(Text("xy"), MaxTokens(1)).ok());
  absl::StatusOr<v1::Checkpointed> checkpoint = (*session)->Checkpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->version(), 1u);
  EXPECT_EQ(checkpoint->token_count(), 3u);
  ASSERT_TRUE((*session)->Close().ok());
  ASSERT_EQ(seen_.summaries.size(), 1u);
  EXPECT_FALSE(seen_.summaries[0].checkpoint.has_value());
}

TEST_F(ChatSessionTest, AbortCancelsTheCall) {
  FakeGanderOptions options;
  options.generate_until_cancel = true;
  StartServer(options);
  auto session = ChatSession::Open(stub_.get(), options_, Create("ab"), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  ChatSession* raw = session->get();
  on_token_ = [&](const v1::GeneratedToken& token) {
    if (token.position() == 3) raw->Abort();
  };
  absl::StatusOr<v1::GenerationFinished> done = raw->RunTurn(Text("x"), MaxTokens(0));
  EXPECT_EQ(done.status().code(), absl::StatusCode::kCancelled) << done.status();
  EXPECT_EQ(raw->Close().code(), absl::StatusCode::kCancelled);
}

TEST_F(ChatSessionTest, DestroyingAnOpenSessionCancelsIt) {
  StartServer();
  auto session = ChatSession::Open(stub_.get(), options_, Create("d"), Callbacks());
  ASSERT_TRUE(session.ok()) << session.status();
  session->reset();  // must not hang or crash
  // The stream exists; the call is gone, so the fake can open it again.
  auto again = ChatSession::Open(
      stub_.get(), options_,
      [] {
        v1::Open open;
        open.mutable_resume()->set_stream_id("d");
        return open;
      }(),
      ChatCallbacks());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*again)->Close().ok());
}

}  // namespace
}  // namespace gander::cli::client
