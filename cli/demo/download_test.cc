#include "cli/demo/download.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/demo/sha256.h"
#include "gtest/gtest.h"

namespace gander::cli::demo {
namespace {

std::string TmpDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

void WriteFile(const std::string& path, const std::string& contents) {
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(std::fwrite(contents.data(), 1, contents.size(), file), contents.size());
  std::fclose(file);
}

// A published file served from the local disk (curl reads file:// URLs).
class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CurlAvailable()) GTEST_SKIP() << "curl is not installed";
    source_dir_ = absl::StrCat(TmpDir(), "/source");
    cache_dir_ = absl::StrCat(TmpDir(), "/cache");
    mkdir(source_dir_.c_str(), 0755);
    mkdir(cache_dir_.c_str(), 0755);
    contents_ = "1 'a' 1\n2 'b' 1\n";
    WriteFile(absl::StrCat(source_dir_, "/vocab.txt"), contents_);
    url_ = absl::StrCat("file://", source_dir_, "/vocab.txt");
    digest_ = Sha256Hex(contents_);
    std::remove(absl::StrCat(cache_dir_, "/vocab.txt").c_str());
  }

  RemoteFile File() const {
    return RemoteFile{"vocab.txt", url_.c_str(), digest_.c_str(),
                      static_cast<int64_t>(contents_.size())};
  }

  std::string source_dir_, cache_dir_, contents_, url_, digest_;
};

TEST_F(DownloadTest, VerifiedFileGetsItsFinalName) {
  ASSERT_TRUE(DownloadVerified(File(), cache_dir_).ok());
  const std::string path = absl::StrCat(cache_dir_, "/vocab.txt");
  EXPECT_TRUE(Exists(path));
  EXPECT_FALSE(Exists(path + ".part"));
  EXPECT_TRUE(VerifyFile(File(), path).ok());
}

TEST_F(DownloadTest, WrongDigestIsDataLossAndLeavesNothing) {
  const std::string wrong(64, '0');
  RemoteFile file = File();
  file.sha256 = wrong.c_str();
  const absl::Status status = DownloadVerified(file, cache_dir_);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find(digest_), std::string::npos) << status;
  EXPECT_FALSE(Exists(absl::StrCat(cache_dir_, "/vocab.txt")));
  EXPECT_FALSE(Exists(absl::StrCat(cache_dir_, "/vocab.txt.part")));
}

TEST_F(DownloadTest, WrongSizeIsDataLoss) {
  RemoteFile file = File();
  file.size += 1;
  EXPECT_EQ(DownloadVerified(file, cache_dir_).code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(Exists(absl::StrCat(cache_dir_, "/vocab.txt")));
}

TEST_F(DownloadTest, MissingSourceIsUnavailable) {
  const std::string missing = absl::StrCat("file://", source_dir_, "/missing.txt");
  RemoteFile file = File();
  file.url = missing.c_str();
  const absl::Status status = DownloadVerified(file, cache_dir_);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_FALSE(Exists(absl::StrCat(cache_dir_, "/vocab.txt.part")));
}

// Nothing listens on port 1 of the loopback: the connection is refused at
// once, the way an unreachable network fails the demo's download quickly.
TEST_F(DownloadTest, RefusedConnectionFailsFast) {
  RemoteFile file = File();
  file.url = "http://127.0.0.1:1/vocab.txt";
  const absl::Time start = absl::Now();
  const absl::Status status = DownloadVerified(file, cache_dir_);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("could not connect"), std::string::npos) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(6));
}

TEST(VerifyFileTest, MissingFileIsNotFound) {
  const RemoteFile file{"x", "https://example.invalid/x", "00", 1};
  EXPECT_EQ(VerifyFile(file, "/nonexistent/gander/x").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gander::cli::demo
