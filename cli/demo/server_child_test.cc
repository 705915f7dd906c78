#include "cli/demo/server_child.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gander::cli::demo {
namespace {

std::string TmpPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

// A stand-in server: writes its ready file the way servers do (PATH.tmp,
// then rename), then waits.
std::vector<std::string> FakeServer(const std::string& ready, const std::string& then) {
  return {"-c", absl::StrCat("echo starting; printf 'grpc_port=4321\\nmetrics_port=99\\n' > ",
                             ready, ".tmp && mv ", ready, ".tmp ", ready, "; ", then)};
}

TEST(ServerChildTest, ReadyThenKilled) {
  const std::string ready = TmpPath("killed.ready");
  const std::string log = TmpPath("killed.log");
  absl::StatusOr<std::unique_ptr<ServerChild>> child =
      ServerChild::Start("/bin/sh", FakeServer(ready, "exec sleep 60"), log, ready);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> port = (*child)->WaitReady(absl::Seconds(20));
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(*port, 4321);
  (*child)->Signal(SIGKILL);
  absl::StatusOr<int> wait_status = (*child)->Wait(absl::Seconds(20));
  ASSERT_TRUE(wait_status.ok()) << wait_status.status();
  EXPECT_TRUE(WIFSIGNALED(*wait_status));
  EXPECT_EQ(WTERMSIG(*wait_status), SIGKILL);
  EXPECT_EQ(DescribeWaitStatus(*wait_status).rfind("killed by signal 9", 0), 0u);
  EXPECT_FALSE((*child)->running());
  EXPECT_NE(FileTail(log, 100).find("starting"), std::string::npos);
}

TEST(ServerChildTest, TermEndsItWithItsExitStatus) {
  const std::string ready = TmpPath("term.ready");
  absl::StatusOr<std::unique_ptr<ServerChild>> child = ServerChild::Start(
      "/bin/sh", FakeServer(ready, "trap 'exit 0' TERM; while true; do sleep 0.05; done"),
      TmpPath("term.log"), ready);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitReady(absl::Seconds(20)).ok());
  (*child)->Signal(SIGTERM);
  absl::StatusOr<int> wait_status = (*child)->Wait(absl::Seconds(20));
  ASSERT_TRUE(wait_status.ok()) << wait_status.status();
  EXPECT_EQ(DescribeWaitStatus(*wait_status), "exited with status 0");
}

TEST(ServerChildTest, ExitBeforeReadyIsFailedPreconditionQuotingTheLog) {
  const std::string ready = TmpPath("early.ready");
  absl::StatusOr<std::unique_ptr<ServerChild>> child = ServerChild::Start(
      "/bin/sh", {"-c", "echo cannot load the model >&2; exit 3"}, TmpPath("early.log"), ready);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> port = (*child)->WaitReady(absl::Seconds(20));
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(port.status().message().find("exited with status 3"), std::string::npos);
  EXPECT_NE(port.status().message().find("cannot load the model"), std::string::npos);
}

TEST(ServerChildTest, NotReadyInTimeIsDeadlineExceeded) {
  const std::string ready = TmpPath("slow.ready");
  absl::StatusOr<std::unique_ptr<ServerChild>> child =
      ServerChild::Start("/bin/sh", {"-c", "exec sleep 60"}, TmpPath("slow.log"), ready);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ((*child)->WaitReady(absl::Milliseconds(100)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // The destructor kills and reaps it.
}

TEST(ServerChildTest, MissingBinaryExits127) {
  const std::string ready = TmpPath("missing.ready");
  absl::StatusOr<std::unique_ptr<ServerChild>> child =
      ServerChild::Start("/nonexistent/gander", {"serve"}, TmpPath("missing.log"), ready);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<int> port = (*child)->WaitReady(absl::Seconds(20));
  EXPECT_EQ(port.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(port.status().message().find("status 127"), std::string::npos);
}

}  // namespace
}  // namespace gander::cli::demo
