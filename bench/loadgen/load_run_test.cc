#include "bench/loadgen/load_run.h"

#include <set>
#include <string>

#include "cli/client/testing/fake_gander_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace gander::bench {
namespace {

using cli::client::testing::FakeGanderOptions;
using cli::client::testing::FakeGanderServer;
using ::testing::HasSubstr;

LoadConfig SmallConfig(const FakeGanderServer& server) {
  LoadConfig config;
  config.client.server = server.address();
  config.client.token = "load";
  config.client.timeout = absl::Seconds(20);
  config.streams = 3;
  config.prompt_tokens = 4;
  config.gen_tokens = 5;
  config.rounds = 2;
  config.id_prefix = "lg";
  return config;
}

TEST(RunLoadTest, CountsTokensAndLatencies) {
  FakeGanderOptions fake;
  fake.vocab_size = 50;
  FakeGanderServer server(fake);
  const LoadConfig config = SmallConfig(server);
  absl::StatusOr<LoadReport> report = RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->model, "fake-rwkv7");
  EXPECT_EQ(report->vocab_size, 50u);
  EXPECT_EQ(report->streams_opened, 3u);
  EXPECT_EQ(report->generations, 6u);
  EXPECT_EQ(report->generated_tokens, 30u);
  EXPECT_EQ(report->prompt_tokens, 24u);
  EXPECT_EQ(report->ttft_ms.count, 6u);      // one per generation
  EXPECT_EQ(report->itl_ms.count, 6u * 4u);  // gaps between 5 tokens
  EXPECT_GE(report->ttft_ms.p50, 0);
  EXPECT_LE(report->itl_ms.p50, report->itl_ms.p99);
  EXPECT_LE(report->itl_ms.p99, report->itl_ms.max);
  EXPECT_TRUE(report->errors.empty());
  EXPECT_GT(report->wall_seconds, 0);
  EXPECT_GT(report->TokensPerSecond(), 0);

  // Every stream was created with its own id, then deleted.
  std::set<std::string> created;
  int deletes = 0;
  for (const auto& call : server.calls()) {
    if (call.method == "Sessions.Stream") created.insert(call.stream_id_header);
    if (call.method == "Streams.DeleteStream") ++deletes;
    EXPECT_EQ(call.authorization, "Bearer load");
  }
  EXPECT_EQ(created, (std::set<std::string>{"lg-0-0", "lg-1-0", "lg-2-0"}));
  EXPECT_EQ(deletes, 3);
  v1::StreamInfo info;
  EXPECT_FALSE(server.GetStream("lg-0-0", &info));

  // Prompt ids are in [1, vocab) and greedy sampling was asked for.
  int appends = 0;
  for (const v1::StreamRequest& request : server.session_requests()) {
    if (request.has_append_input()) {
      ++appends;
      ASSERT_EQ(request.append_input().token_ids().ids_size(), 4);
      for (uint32_t id : request.append_input().token_ids().ids()) {
        EXPECT_GE(id, 1u);
        EXPECT_LT(id, 50u);
      }
    }
    if (request.has_generate()) {
      EXPECT_EQ(request.generate().max_tokens(), 5u);
      EXPECT_TRUE(request.generate().sampling().has_temperature());
      EXPECT_EQ(request.generate().sampling().temperature(), 0.0f);
    }
  }
  EXPECT_EQ(appends, 6);
}

TEST(RunLoadTest, SameSeedSamePrompts) {
  FakeGanderServer a, b;
  LoadConfig config = SmallConfig(a);
  config.streams = 1;
  config.seed = 77;
  ASSERT_TRUE(RunLoad(config).ok());
  config.client.server = b.address();
  ASSERT_TRUE(RunLoad(config).ok());
  auto prompts = [](const FakeGanderServer& server) {
    std::vector<std::vector<uint32_t>> out;
    for (const v1::StreamRequest& r : server.session_requests()) {
      if (r.has_append_input()) {
        const auto& ids = r.append_input().token_ids().ids();
        out.emplace_back(ids.begin(), ids.end());
      }
    }
    return out;
  };
  EXPECT_EQ(prompts(a), prompts(b));
  EXPECT_EQ(prompts(a).size(), 2u);
  EXPECT_NE(prompts(a)[0], prompts(a)[1]);
}

TEST(RunLoadTest, RefusedStreamsAreCountedByCode) {
  FakeGanderOptions fake;
  fake.open_status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "full");
  FakeGanderServer server(fake);
  absl::StatusOr<LoadReport> report = RunLoad(SmallConfig(server));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->streams_opened, 0u);
  EXPECT_EQ(report->generated_tokens, 0u);
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_EQ(report->errors.at("RESOURCE_EXHAUSTED"), 3u);
  for (const auto& call : server.calls()) EXPECT_NE(call.method, "Streams.DeleteStream");
}

TEST(RunLoadTest, FailureMidStreamIsCountedAndKeepStreamsKeepsIt) {
  FakeGanderOptions fake;
  fake.generate_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "store down");
  FakeGanderServer server(fake);
  LoadConfig config = SmallConfig(server);
  config.keep_streams = true;
  absl::StatusOr<LoadReport> report = RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->streams_opened, 3u);
  EXPECT_EQ(report->generations, 0u);
  EXPECT_EQ(report->errors.at("UNAVAILABLE"), 3u);
  v1::StreamInfo info;
  EXPECT_TRUE(server.GetStream("lg-2-0", &info));  // --keep-streams
}

TEST(RunLoadTest, DurationKeepsOpeningStreams) {
  FakeGanderServer server;
  LoadConfig config = SmallConfig(server);
  config.streams = 2;
  config.rounds = 1;
  config.gen_tokens = 2;
  config.duration = absl::Milliseconds(300);
  absl::StatusOr<LoadReport> report = RunLoad(config);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GE(report->wall_seconds, 0.3);
  EXPECT_GT(report->streams_opened, 2u);
  EXPECT_EQ(report->generations, report->streams_opened);
  EXPECT_TRUE(report->errors.empty());
}

TEST(RunLoadTest, SetupFailures) {
  FakeGanderServer server;
  LoadConfig config = SmallConfig(server);
  config.model = "other";
  EXPECT_EQ(RunLoad(config).status().code(), absl::StatusCode::kNotFound);
  config = SmallConfig(server);
  config.streams = 0;
  EXPECT_EQ(RunLoad(config).status().code(), absl::StatusCode::kInvalidArgument);
  FakeGanderOptions tiny;
  tiny.vocab_size = 1;
  FakeGanderServer one_token(tiny);
  EXPECT_EQ(RunLoad(SmallConfig(one_token)).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FormatReportTest, TableAndJson) {
  LoadConfig config;
  config.client.server = "host:1";
  config.streams = 2;
  config.rounds = 3;
  config.prompt_tokens = 8;
  config.gen_tokens = 16;
  LoadReport report;
  report.model = "m";
  report.vocab_size = 100;
  report.wall_seconds = 2;
  report.streams_opened = 2;
  report.generations = 6;
  report.generated_tokens = 96;
  report.prompt_tokens = 48;
  report.ttft_ms = Summarize({10, 20, 30});
  report.itl_ms = Summarize({1, 2, 3, 4});
  report.errors = {{"RESOURCE_EXHAUSTED", 2}, {"delete: NOT_FOUND", 1}};

  const std::string table = FormatReportTable(config, report);
  EXPECT_THAT(table, HasSubstr("2 streams x 3 rounds, prompt 8 tokens, generate 16 tokens"));
  EXPECT_THAT(table, HasSubstr("throughput                48.0 tokens/s\n"));
  EXPECT_THAT(table, HasSubstr("time to first token (ms)  p50 20.00  p99 30.00  (n=3)\n"));
  EXPECT_THAT(table, HasSubstr("inter-token latency (ms)  p50 2.00  p99 4.00  max 4.00  (n=4)\n"));
  EXPECT_THAT(table,
              HasSubstr("errors                    RESOURCE_EXHAUSTED 2, delete: NOT_FOUND 1"));

  google::protobuf::Struct json;
  const std::string text = FormatReportJson(config, report);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &json).ok()) << text;
  const auto& f = json.fields();
  EXPECT_EQ(f.at("generated_tokens").number_value(), 96);
  EXPECT_EQ(f.at("tokens_per_s").number_value(), 48);
  EXPECT_EQ(f.at("ttft_ms").struct_value().fields().at("p99").number_value(), 30);
  EXPECT_EQ(f.at("itl_ms").struct_value().fields().at("max").number_value(), 4);
  EXPECT_EQ(f.at("errors").struct_value().fields().at("RESOURCE_EXHAUSTED").number_value(), 2);
  EXPECT_EQ(f.at("config").struct_value().fields().at("server").string_value(), "host:1");

  LoadReport empty;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(FormatReportJson(config, empty), &json).ok());
  EXPECT_TRUE(json.fields().at("ttft_ms").struct_value().fields().at("p50").has_null_value());
}

}  // namespace
}  // namespace gander::bench
