#include "service/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace gander::service {
namespace {

// GETs `path` from 127.0.0.1:port over HTTP/1.0 and returns the whole
// response (status line, headers and body), or "" on a socket error.
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = send(fd, request.data() + sent, request.size() - sent, 0);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
  }
  close(fd);
  return response;
}

// Expects `line` to be one whole line of `text`.
void ExpectLine(const std::string& text, const std::string& line) {
  EXPECT_NE(("\n" + text).find("\n" + line + "\n"), std::string::npos)
      << "missing line: " << line << "\nin:\n"
      << text;
}

TEST(Metrics, ServesRecordedSamplesOverHttp) {
  Metrics metrics;
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", metrics.registry());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);

  metrics.AddTokensGenerated(5);
  metrics.AddTokensGenerated(2);
  metrics.AddTokensPrefilled(100);
  metrics.RecordRequest("gander.v1.Sessions/Stream");
  metrics.RecordRequest("gander.v1.Sessions/Stream");
  metrics.RecordRequest("gander.v1.Models/List");
  metrics.RecordError("gander.v1.Sessions/Stream", absl::StatusCode::kResourceExhausted);
  metrics.RecordError("gander.v1.Sessions/Stream", absl::StatusCode::kResourceExhausted);
  metrics.RecordError("gander.v1.Sessions/Stream", absl::StatusCode::kNotFound);
  metrics.RecordError("gander.v1.Sessions/Stream", absl::StatusCode::kOk);  // not an error
  metrics.RecordCheckpoint(absl::Milliseconds(3));
  metrics.RecordStep(5, absl::Microseconds(700));
  metrics.RecordStep(1024, absl::Seconds(2));
  metrics.RecordRestore(absl::Milliseconds(40));
  metrics.RecordTimeToFirstToken(absl::Milliseconds(20));
  metrics.RecordInterToken(absl::Microseconds(50));
  metrics.open_streams().Set(3);
  metrics.open_streams().Increment();
  metrics.resident_streams().Set(7);
  metrics.queue_depth().Set(2);
  metrics.active_generations().Set(1);

  const std::string response = HttpGet(port, "/metrics");
  ASSERT_EQ(response.rfind("HTTP/1.", 0), 0u) << response;
  EXPECT_NE(response.find(" 200 "), std::string::npos) << response;
  const size_t body_at = response.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  const std::string body = response.substr(body_at + 4);

  ExpectLine(body, "# TYPE gander_tokens_generated_total counter");
  ExpectLine(body, "gander_tokens_generated_total 7");
  ExpectLine(body, "gander_tokens_prefilled_total 100");
  ExpectLine(body, "gander_requests_total{method=\"gander.v1.Sessions/Stream\"} 2");
  ExpectLine(body, "gander_requests_total{method=\"gander.v1.Models/List\"} 1");
  ExpectLine(
      body,
      "gander_errors_total{code=\"RESOURCE_EXHAUSTED\",method=\"gander.v1.Sessions/Stream\"} 2");
  ExpectLine(body,
             "gander_errors_total{code=\"NOT_FOUND\",method=\"gander.v1.Sessions/Stream\"} 1");
  EXPECT_EQ(body.find("code=\"OK\""), std::string::npos);
  ExpectLine(body, "gander_checkpoints_total 1");
  ExpectLine(body, "# TYPE gander_open_streams gauge");
  ExpectLine(body, "gander_open_streams 4");
  ExpectLine(body, "gander_resident_streams 7");
  ExpectLine(body, "gander_queue_depth 2");
  ExpectLine(body, "gander_active_generations 1");

  // Histograms: cumulative buckets, count and sum.
  ExpectLine(body, "# TYPE gander_batch_size histogram");
  ExpectLine(body, "gander_batch_size_bucket{le=\"4\"} 0");
  ExpectLine(body, "gander_batch_size_bucket{le=\"8\"} 1");
  ExpectLine(body, "gander_batch_size_bucket{le=\"512\"} 1");
  ExpectLine(body, "gander_batch_size_bucket{le=\"1024\"} 2");
  ExpectLine(body, "gander_batch_size_bucket{le=\"+Inf\"} 2");
  ExpectLine(body, "gander_batch_size_count 2");
  ExpectLine(body, "gander_batch_size_sum 1029");
  ExpectLine(body, "gander_step_seconds_bucket{le=\"0.0005\"} 0");
  ExpectLine(body, "gander_step_seconds_bucket{le=\"0.001\"} 1");
  ExpectLine(body, "gander_step_seconds_bucket{le=\"1\"} 1");
  ExpectLine(body, "gander_step_seconds_bucket{le=\"2.5\"} 2");
  ExpectLine(body, "gander_step_seconds_bucket{le=\"60\"} 2");
  ExpectLine(body, "gander_step_seconds_count 2");
  ExpectLine(body, "gander_checkpoint_seconds_bucket{le=\"0.0025\"} 0");
  ExpectLine(body, "gander_checkpoint_seconds_bucket{le=\"0.005\"} 1");
  ExpectLine(body, "gander_restore_seconds_bucket{le=\"0.025\"} 0");
  ExpectLine(body, "gander_restore_seconds_bucket{le=\"0.05\"} 1");
  ExpectLine(body, "gander_time_to_first_token_seconds_bucket{le=\"0.025\"} 1");
  ExpectLine(body, "gander_inter_token_seconds_bucket{le=\"0.0001\"} 1");
  ExpectLine(body, "gander_inter_token_seconds_count 1");

  // A second scrape sees later updates.
  metrics.AddTokensGenerated(1);
  ExpectLine(HttpGet(port, "/metrics"), "gander_tokens_generated_total 8");
}

TEST(Metrics, BucketsAreAscendingAndSpanTheDocumentedRange) {
  const std::vector<double> time = Metrics::TimeBuckets();
  ASSERT_FALSE(time.empty());
  EXPECT_DOUBLE_EQ(time.front(), 1e-4);
  EXPECT_DOUBLE_EQ(time.back(), 60);
  for (size_t i = 1; i < time.size(); ++i) {
    EXPECT_GT(time[i], time[i - 1]);
    EXPECT_LE(time[i] / time[i - 1], 2.5 + 1e-9);  // no coarse gaps
  }
  const std::vector<double> batch = Metrics::BatchSizeBuckets();
  ASSERT_EQ(batch.size(), 11u);
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(batch[i], double(1 << i));
}

TEST(Metrics, ConcurrentLabelledUpdatesAreAllCounted) {
  Metrics metrics;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string method = absl::StrCat("m", i % 3);
        metrics.RecordRequest(method);
        metrics.RecordError(
            method, (i + t) % 2 == 0 ? absl::StatusCode::kAborted : absl::StatusCode::kUnavailable);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  double requests = 0;
  double errors = 0;
  size_t error_series = 0;
  for (const prometheus::MetricFamily& family : metrics.registry()->Collect()) {
    if (family.name == "gander_requests_total") {
      EXPECT_EQ(family.metric.size(), 3u);
      for (const prometheus::ClientMetric& m : family.metric) requests += m.counter.value;
    }
    if (family.name == "gander_errors_total") {
      error_series = family.metric.size();
      for (const prometheus::ClientMetric& m : family.metric) errors += m.counter.value;
    }
  }
  EXPECT_EQ(requests, kThreads * kPerThread);
  EXPECT_EQ(errors, kThreads * kPerThread);
  EXPECT_EQ(error_series, 6u);  // 3 methods x 2 codes
}

TEST(MetricsServer, BusyPortIsUnavailable) {
  Metrics metrics;
  absl::StatusOr<std::unique_ptr<MetricsServer>> first =
      MetricsServer::Start("127.0.0.1:0", metrics.registry());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  absl::StatusOr<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Start(taken, metrics.registry());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_NE(second.status().message().find(taken), absl::string_view::npos) << second.status();
}

TEST(MetricsServer, StopsListeningWhenDestroyed) {
  Metrics metrics;
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", metrics.registry());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  EXPECT_NE(HttpGet(port, "/metrics").find("gander_queue_depth"), std::string::npos);
  server->reset();
  EXPECT_EQ(HttpGet(port, "/metrics"), "");
}

TEST(MetricsServer, RejectsMalformedAddresses) {
  Metrics metrics;
  for (const char* listen : {"", "9464", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                             "127.0.0.1:80x", "::1:9464", "[::1:9464", "a b:9464"}) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> server =
        MetricsServer::Start(listen, metrics.registry());
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << listen << ": " << server.status();
  }
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", nullptr);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gander::service
