#include "cli/client/connection.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "cli/client/testing/fake_gander_server.h"
#include "cli/flags.h"
#include "gander/v1/models.grpc.pb.h"
#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

absl::StatusOr<ClientOptions> FromArgs(std::vector<std::string> args) {
  FlagSet flags("test");
  AddClientFlags(flags, "30s");
  args.insert(args.begin(), "test");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  if (absl::Status s = flags.Parse(static_cast<int>(argv.size()), argv.data()); !s.ok()) return s;
  return ClientOptionsFromFlags(flags);
}

TEST(ResolveTokenTest, FlagWinsOverEnvironment) {
  EXPECT_EQ(*ResolveToken(std::string("flag"), std::string("env")), "flag");
  EXPECT_EQ(*ResolveToken(std::nullopt, std::string("env")), "env");
  EXPECT_EQ(*ResolveToken(std::nullopt, std::nullopt), "");
  // An explicitly empty flag turns an inherited token off.
  EXPECT_EQ(*ResolveToken(std::string(""), std::string("env")), "");
}

TEST(ResolveTokenTest, TrimsWhitespaceAndRejectsControlCharacters) {
  EXPECT_EQ(*ResolveToken(std::nullopt, std::string("  abc.DEF-123\n")), "abc.DEF-123");
  absl::StatusOr<std::string> bad = ResolveToken(std::string("ab\ncd"), std::nullopt);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("offset 2"), absl::string_view::npos) << bad.status();
  EXPECT_EQ(ResolveToken(std::string("caf\xc3\xa9"), std::nullopt).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseTimeoutTest, DurationsAndSeconds) {
  EXPECT_EQ(*ParseTimeout("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseTimeout("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseTimeout("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseTimeout("2"), absl::Seconds(2));
  EXPECT_EQ(*ParseTimeout("0.5"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseTimeout("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseTimeout("inf"), absl::InfiniteDuration());
  EXPECT_EQ(ParseTimeout("-1s").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTimeout("soon").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTimeout("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientOptionsFromFlagsTest, DefaultsAndEnvironmentToken) {
  setenv("GANDER_TOKEN", "from-env", 1);
  absl::StatusOr<ClientOptions> options = FromArgs({});
  unsetenv("GANDER_TOKEN");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->server, "localhost:50051");
  EXPECT_EQ(options->token, "from-env");
  EXPECT_EQ(options->timeout, absl::Seconds(30));
  EXPECT_FALSE(options->UseTls());
}

TEST(ClientOptionsFromFlagsTest, RejectsInconsistentTls) {
  EXPECT_EQ(FromArgs({"--tls-cert=c.pem"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromArgs({"--tls-key=k.pem"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromArgs({"--tls-server-name=x"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromArgs({"--server="}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FromArgs({"--timeout=never"}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ClientOptions> tls =
      FromArgs({"--tls-ca=ca.pem", "--tls-server-name=gander.internal"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->UseTls());
}

TEST(MakeCredentialsTest, MissingAndEmptyPemFiles) {
  ClientOptions options;
  options.tls_ca = "/nonexistent/ca.pem";
  EXPECT_EQ(MakeCredentials(options).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MakeChannel(options).status().code(), absl::StatusCode::kNotFound);
  options.tls_ca = "/dev/null";
  EXPECT_EQ(MakeCredentials(options).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions plain;
  EXPECT_TRUE(MakeCredentials(plain).ok());
}

TEST(PrepareContextTest, SendsTokenAndStreamIdToTheServer) {
  testing::FakeGanderServer server;
  ClientOptions options;
  options.server = server.address();
  options.token = "secret-1";
  options.timeout = absl::Seconds(10);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::Models::NewStub(*channel);
  {
    grpc::ClientContext context;
    PrepareContext(options, "chat-7", &context);
    v1::ListModelsResponse response;
    ASSERT_TRUE(stub->ListModels(&context, v1::ListModelsRequest(), &response).ok());
    EXPECT_EQ(response.models(0).name(), "fake-rwkv7");
  }
  {
    ClientOptions anonymous = options;
    anonymous.token.clear();
    grpc::ClientContext context;
    PrepareContext(anonymous, "", &context);
    v1::ListModelsResponse response;
    ASSERT_TRUE(stub->ListModels(&context, v1::ListModelsRequest(), &response).ok());
  }
  std::vector<testing::FakeCall> calls = server.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].method, "Models.ListModels");
  EXPECT_EQ(calls[0].authorization, "Bearer secret-1");
  EXPECT_EQ(calls[0].stream_id_header, "chat-7");
  EXPECT_EQ(calls[1].authorization, "");
  EXPECT_EQ(calls[1].stream_id_header, "");
}

TEST(PrepareContextTest, DeadlineExpires) {
  ClientOptions options;
  options.server = "127.0.0.1:1";  // nothing listens on port 1
  options.timeout = absl::Milliseconds(200);
  auto stub = v1::Models::NewStub(*MakeChannel(options));
  grpc::ClientContext context;
  PrepareContext(options, "", &context);
  context.set_wait_for_ready(true);  // keep trying until the deadline
  v1::ListModelsResponse response;
  const grpc::Status status = stub->ListModels(&context, v1::ListModelsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
}

}  // namespace
}  // namespace gander::cli::client
