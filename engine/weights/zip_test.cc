#include "engine/weights/zip.h"

#include <string>

#include "engine/weights/tensor_writer.h"
#include "engine/weights/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::engine::weights_internal {
namespace {

using ::testing::HasSubstr;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(Crc32Test, KnownValues) {
  EXPECT_EQ(Crc32(0, Bytes("")), 0u);
  EXPECT_EQ(Crc32(0, Bytes("123456789")), 0xcbf43926u);
  EXPECT_EQ(Crc32(0, Bytes("The quick brown fox jumps over the lazy dog")), 0x414fa339u);
  // Incremental equals one pass, across the 8-byte fast path.
  const std::string text(1000, 'x');
  EXPECT_EQ(Crc32(Crc32(0, Bytes(text.substr(0, 13))), Bytes(text.substr(13))),
            Crc32(0, Bytes(text)));
}

// Two small tensors written as a .pth, with or without forced ZIP64.
std::string WriteSmallPth(bool zip64) {
  const std::string path = weights_test::TempPath("small.pth");
  std::vector<TensorToWrite> tensors = {{"a", DType::kF32, {3}, {}},
                                        {"b", DType::kBF16, {2, 2}, {}}};
  PthWriteOptions options;
  options.archive_name = "rwkv-final";
  options.force_zip64 = zip64;
  absl::Status status = WritePth(
      path, tensors,
      [](size_t i, std::string* bytes) {
        *bytes = i == 0 ? std::string(12, '\x11') : std::string(8, '\x22');
        return absl::OkStatus();
      },
      options);
  EXPECT_TRUE(status.ok()) << status;
  return weights_test::ReadFileOrDie(path);
}

void ExpectEntries(const std::string& file) {
  absl::StatusOr<std::vector<ZipEntry>> entries = ReadZipDirectory(Bytes(file));
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[0].name, "rwkv-final/data.pkl");
  EXPECT_EQ((*entries)[1].name, "rwkv-final/byteorder");
  EXPECT_EQ((*entries)[2].name, "rwkv-final/data/0");
  EXPECT_EQ((*entries)[3].name, "rwkv-final/data/1");
  EXPECT_EQ((*entries)[4].name, "rwkv-final/version");
  for (const ZipEntry& e : *entries) {
    EXPECT_EQ(e.method, 0);
    EXPECT_EQ(e.data_offset % 64, 0u) << e.name;  // torch's alignment
    EXPECT_EQ(Crc32(0, Bytes(file.substr(e.data_offset, e.size))), e.crc32) << e.name;
  }
  EXPECT_EQ(file.substr((*entries)[2].data_offset, (*entries)[2].size), std::string(12, '\x11'));
  EXPECT_EQ(file.substr((*entries)[4].data_offset, (*entries)[4].size), "3\n");
}

TEST(ZipTest, ReadsWhatTheWriterWrites) { ExpectEntries(WriteSmallPth(false)); }

TEST(ZipTest, ReadsZip64Records) {
  const std::string file = WriteSmallPth(true);
  // The end record only points at the ZIP64 records.
  EXPECT_EQ(file.substr(file.size() - 12, 10), std::string(10, '\xff'));
  ExpectEntries(file);
}

TEST(ZipTest, ToleratesAnArchiveComment) {
  std::string file = WriteSmallPth(false);
  file[file.size() - 2] = 5;  // comment length
  ExpectEntries(file + "hello");
}

void ExpectCorrupt(const std::string& file, const std::string& message) {
  absl::StatusOr<std::vector<ZipEntry>> entries = ReadZipDirectory(Bytes(file));
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(entries.status().message()), HasSubstr(message));
}

TEST(ZipTest, RefusesDamage) {
  const std::string file = WriteSmallPth(false);
  const size_t end = file.size() - 22;
  const size_t directory = static_cast<uint8_t>(file[end + 16]) |
                           (static_cast<uint8_t>(file[end + 17]) << 8) |
                           (static_cast<uint8_t>(file[end + 18]) << 16);
  ExpectCorrupt(file.substr(0, 10), "too short");
  ExpectCorrupt(file.substr(0, file.size() - 1), "no ZIP end of central directory record");
  std::string bad = file;
  bad[directory] ^= 1;
  ExpectCorrupt(
      bad, "byte offset " + std::to_string(directory) + ": bad central directory header signature");
  bad = file;
  bad[0] ^= 1;
  ExpectCorrupt(bad, "byte offset 0: bad local header signature for entry 'rwkv-final/data.pkl'");
  bad = file;
  bad[end + 19] = 0x7f;  // directory offset far past the end
  ExpectCorrupt(bad, "central directory [");
  bad = file;
  bad[end + 10] = 100;  // more entries than the directory holds
  ExpectCorrupt(bad, "100 entries cannot fit");
  bad = file;
  bad[directory + 8] |= 1;  // encrypted flag
  ExpectCorrupt(bad, "entry 'rwkv-final/data.pkl' is encrypted");
  bad = file;
  bad[directory + 46] = 'X';  // name differs from the local header's
  ExpectCorrupt(bad, "local header name differs");
  bad = file;
  bad[directory + 20] ^= 0x40;  // compressed size != size for a stored entry
  ExpectCorrupt(bad, "has compressed size");
}

// Every single-byte change to the records gives an error or entries whose
// data lies inside the file (never a crash, never an out-of-range entry).
TEST(ZipTest, MutatedRecordsStayInBounds) {
  for (bool zip64 : {false, true}) {
    const std::string file = WriteSmallPth(zip64);
    for (size_t i = 0; i < file.size(); ++i) {
      for (uint8_t delta : {0x01, 0x80, 0xff}) {
        std::string bad = file;
        bad[i] = static_cast<char>(bad[i] ^ delta);
        absl::StatusOr<std::vector<ZipEntry>> entries = ReadZipDirectory(Bytes(bad));
        if (!entries.ok()) continue;
        for (const ZipEntry& e : *entries) {
          ASSERT_LE(e.data_offset, bad.size()) << i;
          ASSERT_LE(e.size, bad.size() - e.data_offset) << i;
        }
      }
    }
  }
}

TEST(ZipTest, RefusesDuplicateNames) {
  std::string file = WriteSmallPth(false);
  // Rename entry "rwkv-final/data/1" to ".../data/0" in both headers.
  for (size_t pos = file.find("rwkv-final/data/1"); pos != std::string::npos;
       pos = file.find("rwkv-final/data/1", pos + 1)) {
    file[pos + 16] = '0';
  }
  ExpectCorrupt(file, "duplicate entry 'rwkv-final/data/0'");
}

}  // namespace
}  // namespace gander::engine::weights_internal
