#include "cli/demo/sha256.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gander::cli::demo {
namespace {

// FIPS 180-4 examples (NIST CSRC "SHA256.pdf" and "SHA2_Additional.pdf").
TEST(Sha256Test, StandardVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjk"
                      "lmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(Sha256Hex("The quick brown fox jumps over the lazy dog"),
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
}

// Any split of the message into pieces gives the one-shot digest, around
// the 55/56/64-byte padding boundaries in particular.
TEST(Sha256Test, PiecewiseUpdatesMatchOneShot) {
  std::string message;
  for (int i = 0; i < 200; ++i) message.push_back(static_cast<char>(i * 37 + 11));
  for (size_t length : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200}) {
    const std::string whole = Sha256Hex(message.substr(0, length));
    for (size_t split = 0; split <= length; ++split) {
      Sha256 hash;
      hash.Update(message.substr(0, split));
      hash.Update(message.substr(split, length - split));
      ASSERT_EQ(hash.HexDigest(), whole) << "length " << length << " split " << split;
    }
    Sha256 bytewise;
    for (size_t i = 0; i < length; ++i) bytewise.Update(message.substr(i, 1));
    EXPECT_EQ(bytewise.HexDigest(), whole) << "length " << length;
  }
}

TEST(Sha256Test, ResetStartsAFreshMessage) {
  Sha256 hash;
  hash.Update("something else");
  hash.HexDigest();
  hash.Reset();
  hash.Update("abc");
  EXPECT_EQ(hash.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, FileDigestMatchesTheBytes) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/sha256_test.bin");
  // Larger than the 1 MiB read buffer, so several reads are joined.
  std::string contents;
  for (int i = 0; i < (3 << 19) + 5; ++i) contents.push_back(static_cast<char>(i % 251));
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(std::fwrite(contents.data(), 1, contents.size(), file), contents.size());
  std::fclose(file);
  absl::StatusOr<std::string> digest = Sha256FileHex(path);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Sha256Hex(contents));
}

TEST(Sha256Test, MissingFileIsNotFound) {
  absl::StatusOr<std::string> digest = Sha256FileHex("/nonexistent/gander/file.bin");
  EXPECT_EQ(digest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(digest.status().message().find("/nonexistent/gander/file.bin"), std::string::npos);
}

}  // namespace
}  // namespace gander::cli::demo
