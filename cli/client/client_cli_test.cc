// Runs the gander binary's client commands (chat, streams, models) as a
// script would, against the in-process fake server: output on stdout, the
// summary and errors on stderr, and the exit codes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/client/testing/fake_gander_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string g_gander;  // path of the gander binary, from argv[1]

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class ClientCliTest : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<testing::FakeGanderServer>(); }

  // Runs `gander ARGS --server=ADDR` with `input` on stdin.
  Result Run(const std::string& args, const std::string& input = "") {
    const std::string dir = TempDir();
    const std::string in = dir + "/stdin.txt", out = dir + "/stdout.txt", err = dir + "/stderr.txt";
    std::ofstream(in, std::ios::binary | std::ios::trunc) << input;
    const std::string command =
        absl::StrCat("'", g_gander, "' ", args, " --server=", server_->address(), " <'", in, "' >'",
                     out, "' 2>'", err, "'");
    const int status = std::system(command.c_str());
    Result result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = ReadFile(out);
    result.err = ReadFile(err);
    return result;
  }

  std::unique_ptr<testing::FakeGanderServer> server_;
};

TEST_F(ClientCliTest, ChatPromptPrintsTheReplyAndASummary) {
  // "User: hi\n\nAssistant:" is 20 bytes, one fake token each.
  Result r = Run("chat --new --id=cli-1 --prompt=hi --max-tokens=3 --token=t0k");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "20 21 22 .\n");
  EXPECT_THAT(r.err, HasSubstr("-- stream cli-1 (version 0, 0 tokens, model fake-rwkv7)"));
  EXPECT_THAT(r.err, HasSubstr("-- max tokens, 3 tokens; stream at 23 tokens; checkpoint v1"));
  const std::vector<v1::StreamRequest> requests = server_->session_requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].append_input().text(), "User: hi\n\nAssistant:");
  EXPECT_THAT(requests[2].generate().stop_strings(), ::testing::ElementsAre("\n\nUser:"));
  EXPECT_EQ(server_->calls()[0].authorization, "Bearer t0k");
  EXPECT_EQ(server_->calls()[0].stream_id_header, "cli-1");

  // Resume it, raw, with explicit sampling and stops.
  r =
      Run("chat --stream=cli-1 --raw --prompt=abc --max-tokens=1 --temperature=0 --seed=9 "
          "--stop=x,y --stop=z --checkpoint=on-close --codec=int8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "26 .\n");
  EXPECT_THAT(r.err, HasSubstr("-- checkpoint v2 (27 tokens"));
  const std::vector<v1::StreamRequest> all = server_->session_requests();
  const v1::StreamRequest& open = all[3];
  EXPECT_EQ(open.open().resume().stream_id(), "cli-1");
  EXPECT_EQ(open.open().seed(), 9u);
  EXPECT_EQ(open.open().checkpoint_policy(), v1::CHECKPOINT_POLICY_ON_CLOSE);
  EXPECT_EQ(open.open().codec(), v1::STATE_CODEC_INT8);
  EXPECT_EQ(all[4].append_input().text(), "abc");
  EXPECT_TRUE(all[5].generate().sampling().has_temperature());
  EXPECT_THAT(all[5].generate().stop_strings(), ::testing::ElementsAre("x", "y", "z"));
}

TEST_F(ClientCliTest, InteractiveChatRunsOneTurnPerLine) {
  Result r = Run("chat --new --id=talk --raw --max-tokens=2", "ab\n\ncd\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // "ab" -> tokens 2, 3; the empty line is skipped; "cd" -> 6, 7.
  EXPECT_EQ(r.out, "2 3 .\n6 7 .\n");
  EXPECT_THAT(r.err, HasSubstr("checkpoint v1"));
  EXPECT_THAT(r.err, HasSubstr("checkpoint v2"));
}

TEST_F(ClientCliTest, ChatCheckpointCommand) {
  Result r =
      Run("chat --new --id=req --raw --max-tokens=1 --checkpoint=on-request", "a\n/checkpoint\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 .\n");
  EXPECT_THAT(r.err, HasSubstr("-- checkpoint v1 (2 tokens"));
}

TEST_F(ClientCliTest, ChatErrorsNameTheStatusCode) {
  Result r = Run("chat --stream=missing --prompt=x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("gander chat: NOT_FOUND: missing"));
  EXPECT_EQ(r.out, "");

  r = Run("chat --prompt=x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));

  r = Run("chat --new --checkpoint=sometimes --prompt=x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--checkpoint='sometimes'"));

  r = Run("chat --new --bogus=1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown flag --bogus"));

  r = Run("chat stray --new");
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(ClientCliTest, StreamsCommands) {
  ASSERT_EQ(Run("chat --new --id=base --raw --prompt=hello --max-tokens=2").exit_code, 0);

  Result r = Run("streams ls --page-size=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ID    VERSION  TOKENS  PARENT  UPDATED\n"));
  EXPECT_THAT(r.out, HasSubstr("base  1        7       -"));

  r = Run("streams fork base@1 --id=branch");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "forked base@1 into branch (version 1, 7 tokens)\n");

  r = Run("streams show branch");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("parent   base@1\n"));
  EXPECT_THAT(r.out, HasSubstr("VERSION  TOKENS  BYTES"));

  const std::string file = TempDir() + "/base.gst";
  r = Run(absl::StrCat("streams export base@1 --out=", file));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("exported base@1 ("));
  EXPECT_EQ(ReadFile(file), server_->StreamBytes("base"));

  r = Run(absl::StrCat("streams import ", file, " --id=copy"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("as copy (version 1"));
  EXPECT_EQ(server_->StreamBytes("copy"), server_->StreamBytes("base"));

  r = Run("streams rm branch");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted branch\n");
  r = Run("streams ls");
  EXPECT_THAT(r.out, Not(HasSubstr("branch")));

  r = Run("streams rm branch");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("gander streams rm: NOT_FOUND"));

  EXPECT_EQ(Run("streams show").exit_code, 2);
  EXPECT_EQ(Run("streams show a b").exit_code, 2);
  EXPECT_EQ(Run("streams export base").exit_code, 2);  // --out is required
  EXPECT_EQ(Run("streams frobnicate").exit_code, 2);
  EXPECT_EQ(Run("streams fork base@x").exit_code, 1);
}

TEST_F(ClientCliTest, ModelsCommand) {
  Result r = Run("models");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NAME        FINGERPRINT"));
  EXPECT_THAT(r.out, HasSubstr("fake-rwkv7  00ff         2       64    64    1000   fp32"));
}

// A gander process with stdin on a pipe this test writes.
class ChatProcess {
 public:
  ChatProcess(const std::string& args, const std::string& address) {
    const std::string dir = TempDir();
    out_ = dir + "/interactive_out.txt";
    err_ = dir + "/interactive_err.txt";
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[0], 0);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string command = absl::StrCat(
          "exec '", g_gander, "' ", args, " --server=", address, " >'", out_, "' 2>'", err_, "'");
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[0]);
    stdin_ = fds[1];
  }
  ~ChatProcess() {
    if (stdin_ >= 0) ::close(stdin_);
    if (pid_ > 0) Wait();
  }

  void Send(const std::string& line) {
    ASSERT_EQ(::write(stdin_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }
  void CloseStdin() {
    ::close(stdin_);
    stdin_ = -1;
  }
  void Interrupt() { ::kill(pid_, SIGINT); }
  std::string Out() const { return ReadFile(out_); }
  std::string Err() const { return ReadFile(err_); }

  // Waits (up to 20 s) until `file()` contains `text`.
  bool WaitFor(std::string (ChatProcess::*file)() const, const std::string& text) const {
    for (int i = 0; i < 2000; ++i) {
      if ((this->*file)().find(text) != std::string::npos) return true;
      ::usleep(10000);
    }
    return false;
  }

  // The exit code (128 + signal when killed by one).
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::string out_, err_;
};

TEST(ClientCliInterruptTest, CtrlCCancelsTheReplyAndTheChatGoesOn) {
  testing::FakeGanderOptions options;
  options.generate_until_cancel = true;
  testing::FakeGanderServer server(options);
  ChatProcess chat("chat --new --id=int --raw --max-tokens=0", server.address());
  chat.Send("go\n");
  // Tokens are flowing ("2 3 4 ..."); interrupt the endless reply.
  ASSERT_TRUE(chat.WaitFor(&ChatProcess::Out, "10 ")) << chat.Err();
  chat.Interrupt();
  ASSERT_TRUE(chat.WaitFor(&ChatProcess::Err, "-- cancelled, ")) << chat.Err();
  EXPECT_THAT(chat.Err(), HasSubstr("-- cancelling (Ctrl-C again to quit)"));
  chat.CloseStdin();
  EXPECT_EQ(chat.Wait(), 0) << chat.Err();
  int cancels = 0;
  for (const v1::StreamRequest& r : server.session_requests()) cancels += r.has_cancel();
  EXPECT_EQ(cancels, 1);
}

TEST(ClientCliInterruptTest, CtrlCWhileIdleQuits) {
  testing::FakeGanderServer server;
  ChatProcess chat("chat --new --id=idle --raw --max-tokens=1", server.address());
  chat.Send("a\n");
  ASSERT_TRUE(chat.WaitFor(&ChatProcess::Err, "-- max tokens")) << chat.Err();
  chat.Interrupt();
  EXPECT_EQ(chat.Wait(), 130) << chat.Err();
  EXPECT_THAT(chat.Err(), HasSubstr("-- interrupted"));
}

TEST_F(ClientCliTest, HelpListsTheFlags) {
  Result r = Run("chat --help");
  ASSERT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--stream", "--new", "--fork-from", "--seed", "--max-tokens", "--temperature", "--top-k",
        "--top-p", "--min-p", "--presence-penalty", "--frequency-penalty", "--repetition-penalty",
        "--stop=", "--checkpoint", "--codec", "--raw", "--prompt", "--tls-ca", "--token"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  r = Run("streams --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("export ID[@VERSION]"));
}

}  // namespace
}  // namespace gander::cli::client

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: client_cli_test PATH_OF_GANDER\n");
    return 2;
  }
  gander::cli::client::g_gander = argv[1];
  return RUN_ALL_TESTS();
}
