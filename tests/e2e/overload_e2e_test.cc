// End-to-end: overload. Past its limits a worker answers RESOURCE_EXHAUSTED
// at once, and the streams it admitted keep generating through the burst.
// (Latency figures under load are measured by bench/loadgen, not here.)
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/weights/random_model.h"
#include "gtest/gtest.h"
#include "tests/e2e/client.h"
#include "tests/testing/server_process.h"

namespace gander::testing {
namespace {

class OverloadE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string model = TmpPath("overload_model.safetensors");
    engine::RandomModelSpec spec;
    spec.layers = 2;
    spec.embd = 128;
    spec.vocab = 1024;
    ASSERT_TRUE(engine::WriteRandomModel(spec, model, engine::TensorFormat::kSafetensors,
                                         engine::FileDtype::kBF16)
                    .ok());
    server_ = ServerProcess::Start(
        "serve",
        {"--model=" + model, "--listen=127.0.0.1:0", "--data-dir=" + TmpPath("overload-data"),
         "--threads=1", "--max-open-streams=4", "--max-running=3", "--max-queued=0",
         "--max-tokens-per-request=1000000"},
        "overload");
    ASSERT_NE(server_, nullptr);
    absl::StatusOr<int> port = server_->WaitReady();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }
  std::unique_ptr<ServerProcess> server_;
  int port_ = 0;
};

TEST_F(OverloadE2eTest, OverLimitCallsAreRefusedPromptlyAndAdmittedStreamsGoOn) {
  // Three admitted streams generate without end.
  constexpr int kAdmitted = 3;
  std::vector<std::unique_ptr<StreamCall>> calls;
  std::vector<std::atomic<int>> tokens(kAdmitted);
  for (int i = 0; i < kAdmitted; ++i) {
    calls.push_back(std::make_unique<StreamCall>(Connect(port_)));
    ASSERT_TRUE(calls[i]->Open(CreateRequest(absl::StrCat("busy-", i), i)));
    ASSERT_TRUE(calls[i]->Append({1, 2, 3}));
    ASSERT_TRUE(calls[i]->Send(GenerateRequest(0)));  // 0: the server's cap (1,000,000)
  }
  std::vector<std::thread> readers;
  for (int i = 0; i < kAdmitted; ++i) {
    readers.emplace_back([&, i] {
      StreamResponse r;
      while (calls[i]->Read(&r)) {
        if (r.has_token()) tokens[i].fetch_add(1);
      }
    });
  }

  // A fourth stream fits the open-stream limit, but its generation finds
  // every running slot taken and no queue: RESOURCE_EXHAUSTED.
  {
    StreamCall fourth(Connect(port_));
    ASSERT_TRUE(fourth.Open(CreateRequest("fourth", 9)));
    ASSERT_TRUE(fourth.Append({4}));
    bool ok = false;
    fourth.Generate(GenerateRequest(5), false, &ok);
    EXPECT_FALSE(ok);
    grpc::Status status = fourth.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  }
  // Hold the fourth open-stream slot, then a burst of opens past the limit.
  StreamCall holder(Connect(port_));
  ASSERT_TRUE(holder.Open(CreateRequest("holder", 1)));
  std::vector<int> before(kAdmitted);
  for (int i = 0; i < kAdmitted; ++i) before[i] = tokens[i].load();
  int refused = 0;
  absl::Duration slowest;
  for (int attempt = 0; attempt < 40; ++attempt) {
    const absl::Time start = absl::Now();
    StreamCall extra(Connect(port_));
    const bool opened = extra.Open(CreateRequest(absl::StrCat("extra-", attempt), 1));
    grpc::Status status = opened ? extra.Close() : extra.Finish();
    slowest = std::max(slowest, absl::Now() - start);
    EXPECT_FALSE(opened);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
  }
  EXPECT_EQ(refused, 40);
  // "Promptly": no refusal waited on the busy engine (a step of this model
  // takes milliseconds; this bound only catches a refusal stuck in a queue).
  EXPECT_LT(slowest, absl::Seconds(5));
  // The admitted streams kept generating through the burst.
  absl::SleepFor(absl::Milliseconds(200));
  for (int i = 0; i < kAdmitted; ++i) {
    EXPECT_GT(tokens[i].load(), before[i] + 10) << "stream " << i << " stalled";
  }
  for (auto& call : calls) call->context().TryCancel();
  for (auto& reader : readers) reader.join();
  EXPECT_TRUE(holder.Close().ok());
}

}  // namespace
}  // namespace gander::testing
