// `gander eval`, `gander init-random` and `gander generate` run as real
// processes: eval's .npy logits and raw state match the reference goldens;
// --text equals --tokens of the same text; a .pth and a .safetensors written
// by init-random give identical logits; generate is reproducible by seed.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/npy.h"
#include "engine/testing/relative_error.h"
#include "gtest/gtest.h"

namespace gander::cli {
namespace {

constexpr char kGander[] = "cli/gander";
constexpr char kFixtures[] = "tests/fixtures/rwkv7/";

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

// Runs a command; returns its exit status and stdout.
int Shell(const std::string& command, std::string* out = nullptr) {
  FILE* pipe = popen((command + " 2>" + TmpPath("stderr.txt")).c_str(), "r");
  if (pipe == nullptr) return -1;
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  const int status = pclose(pipe);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Stderr() {
  std::ifstream in(TmpPath("stderr.txt"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<float> Floats(const std::string& path) {
  absl::StatusOr<engine::NpyArray> array = engine::ReadNpy(path);
  EXPECT_TRUE(array.ok()) << array.status();
  if (!array.ok()) return {};
  return {array->floats().begin(), array->floats().end()};
}

std::string TokenList(const std::string& npy) {
  absl::StatusOr<engine::NpyArray> array = engine::ReadNpy(kFixtures + npy);
  EXPECT_TRUE(array.ok()) << array.status();
  return array.ok() ? absl::StrJoin(array->ints(), ",") : "";
}

double MaxRelativeError(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  return engine::testing::MaxErrorOverStd(got, want);
}

TEST(GanderEval, LogitsAndStateMatchReference) {
  const std::string logits = TmpPath("t1.npy"), state = TmpPath("t1.state");
  ASSERT_EQ(Shell(absl::StrCat(kGander, " eval --model ", kFixtures, "tiny_fp32.safetensors",
                               " --tokens ", TokenList("tiny_fp32.t1.tokens.npy"), " --logits-out ",
                               logits, " --state-out ", state)),
            0)
      << Stderr();
  EXPECT_LE(MaxRelativeError(Floats(logits),
                             Floats(absl::StrCat(kFixtures, "tiny_fp32.t1.last_logits.npy"))),
            1e-5);
  // --state-out is the raw float32 state, in the documented layout.
  std::ifstream in(state, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> got(bytes.size() / sizeof(float));
  std::memcpy(got.data(), bytes.data(), got.size() * sizeof(float));
  EXPECT_LE(MaxRelativeError(got, Floats(absl::StrCat(kFixtures, "tiny_fp32.t1.final_state.npy"))),
            1e-5);

  const std::string t100 = TmpPath("t100.npy");
  ASSERT_EQ(Shell(absl::StrCat(kGander, " eval --model ", kFixtures, "tiny_bf16.pth", " --tokens ",
                               TokenList("tiny_bf16.t100.tokens.npy"), " --logits-out ", t100)),
            0)
      << Stderr();
  EXPECT_LE(MaxRelativeError(Floats(t100),
                             Floats(absl::StrCat(kFixtures, "tiny_bf16.t100.last_logits.npy"))),
            1e-5);
}

TEST(GanderEval, RejectsBadInputWithClearErrors) {
  const std::string model = absl::StrCat(kFixtures, "tiny_fp32.safetensors");
  const std::string out = TmpPath("bad.npy");
  EXPECT_EQ(
      Shell(absl::StrCat(kGander, " eval --model ", model, " --tokens 1,320 --logits-out ", out)),
      1);
  EXPECT_NE(Stderr().find("token id 320 is outside the vocabulary [0, 320)"), std::string::npos)
      << Stderr();
  EXPECT_EQ(
      Shell(absl::StrCat(kGander, " eval --model ", model, " --tokens 1,x --logits-out ", out)), 1);
  EXPECT_NE(Stderr().find("'x' is not a token id"), std::string::npos) << Stderr();
  EXPECT_EQ(
      Shell(absl::StrCat(kGander, " eval --model /nonexistent.pth --tokens 1 --logits-out ", out)),
      1);
  EXPECT_NE(Stderr().find("NOT_FOUND"), std::string::npos) << Stderr();
  EXPECT_EQ(Shell(absl::StrCat(kGander, " eval --model ", model, " --logits-out ", out)), 1);
  EXPECT_NE(Stderr().find("exactly one of --tokens and --text"), std::string::npos) << Stderr();
  EXPECT_EQ(Shell(absl::StrCat(kGander, " eval --tokens 1 --logits-out ", out)), 2);
  EXPECT_NE(Stderr().find("--model is required"), std::string::npos) << Stderr();
}

TEST(GanderEval, TextEqualsItsTokens) {
  const char* shared = std::getenv("GANDER_SHARED_DATA");
  const std::string vocab = absl::StrCat(shared ? shared : "", "/rwkv_vocab_v20230424.txt");
  if (shared == nullptr || !std::ifstream(vocab).good()) {
    GTEST_SKIP() << "GANDER_SHARED_DATA does not name a folder with the RWKV World vocabulary";
  }
  const std::string model = TmpPath("world.safetensors");
  ASSERT_EQ(Shell(absl::StrCat(kGander, " init-random --layers 1 --embd 64 --vocab 65536 --seed 4",
                               " --dtype fp32 --out ", model)),
            0)
      << Stderr();
  // Ids 1..256 are the single bytes 0x00..0xff, and no longer token starts
  // with "\x01\x02", so that text is the ids 2,3.
  const std::string a = TmpPath("text.npy"), b = TmpPath("bytes.npy");
  ASSERT_EQ(Shell(absl::StrCat(kGander, " eval --model ", model, " --vocab ", vocab,
                               " --text '\x01\x02' --logits-out ", a)),
            0)
      << Stderr();
  ASSERT_EQ(Shell(absl::StrCat(kGander, " eval --model ", model, " --tokens 2,3 --logits-out ", b)),
            0)
      << Stderr();
  EXPECT_EQ(Floats(a), Floats(b));
}

TEST(GanderInitRandom, PthAndSafetensorsGiveIdenticalLogits) {
  const std::string pth = TmpPath("r.pth"), st = TmpPath("r.safetensors");
  for (const std::string& out : {pth, st}) {
    ASSERT_EQ(Shell(absl::StrCat(kGander, " init-random --layers 2 --embd 128 --vocab 500",
                                 " --seed 9 --out ", out)),
              0)
        << Stderr();
  }
  const std::string a = TmpPath("a.npy"), b = TmpPath("b.npy");
  ASSERT_EQ(
      Shell(absl::StrCat(kGander, " eval --model ", pth, " --tokens 3,1,4,1,5 --logits-out ", a)),
      0)
      << Stderr();
  ASSERT_EQ(
      Shell(absl::StrCat(kGander, " eval --model ", st, " --tokens 3,1,4,1,5 --logits-out ", b)), 0)
      << Stderr();
  const std::vector<float> la = Floats(a);
  EXPECT_EQ(la.size(), 500u);
  EXPECT_EQ(la, Floats(b));
  EXPECT_NE(Shell(absl::StrCat(kGander, " init-random --layers 2 --embd 100 --vocab 500 --out ",
                               TmpPath("bad.pth"))),
            0);
}

TEST(GanderGenerate, SameSeedSameTextOtherSeedOtherText) {
  const char* shared = std::getenv("GANDER_SHARED_DATA");
  const std::string vocab = absl::StrCat(shared ? shared : "", "/rwkv_vocab_v20230424.txt");
  if (shared == nullptr || !std::ifstream(vocab).good()) {
    GTEST_SKIP() << "GANDER_SHARED_DATA does not name a folder with the RWKV World vocabulary";
  }
  const std::string model = TmpPath("gen.pth");
  ASSERT_EQ(Shell(absl::StrCat(kGander, " init-random --layers 2 --embd 128 --vocab 65536",
                               " --seed 5 --out ", model)),
            0)
      << Stderr();
  auto generate = [&](int seed) {
    std::string out;
    EXPECT_EQ(
        Shell(absl::StrCat(kGander, " generate --model ", model, " --vocab ", vocab,
                           " --prompt 'User: hi' --max-tokens 24 --stop-ids '' --seed ", seed),
              &out),
        0)
        << Stderr();
    return out;
  };
  const std::string a = generate(1);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, generate(1));
  EXPECT_NE(a, generate(2));
}

}  // namespace
}  // namespace gander::cli
