// RocksDB from the system package opens with zstd compression, writes with
// a synced WAL, closes, reopens and reads back every value; the table files
// it wrote really are zstd-compressed.
#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/table_properties.h"

namespace gander {
namespace {

constexpr int kKeys = 2000;

std::string Key(int i) { return "stream/" + std::to_string(i); }

// Compressible but key-specific: a repeated pattern seeded by the key.
std::string Value(int i) {
  std::string value;
  for (int j = 0; j < 64; ++j) value += "state-" + std::to_string(i * 31 + j % 7) + ";";
  return value;
}

std::string TestDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
}

rocksdb::Options ZstdOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kZSTD;
  options.bottommost_compression = rocksdb::kZSTD;
  return options;
}

TEST(RocksDbSmoke, ZstdIsCompiledIn) {
  bool found = false;
  for (rocksdb::CompressionType type : rocksdb::GetSupportedCompressions()) {
    if (type == rocksdb::kZSTD) found = true;
  }
  EXPECT_TRUE(found) << "the system RocksDB was built without zstd";
}

TEST(RocksDbSmoke, WriteCloseReopenRead) {
  const std::string dir = TestDir("rocksdb_zstd");
  ASSERT_TRUE(rocksdb::DestroyDB(dir, rocksdb::Options()).ok());
  {
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(ZstdOptions(), dir, &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    for (int i = 0; i < kKeys; ++i) {
      s = db->Put(write_options, Key(i), Value(i));
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    // Flush so that the values land in a (compressed) table file, not only
    // in the WAL.
    s = db->Flush(rocksdb::FlushOptions());
    ASSERT_TRUE(s.ok()) << s.ToString();

    rocksdb::TablePropertiesCollection tables;
    s = db->GetPropertiesOfAllTables(&tables);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_FALSE(tables.empty());
    for (const auto& [file, properties] : tables) {
      EXPECT_EQ(properties->compression_name, "ZSTD") << file;
      EXPECT_LT(properties->data_size, properties->raw_key_size + properties->raw_value_size)
          << file << " is not smaller than its contents";
    }
    s = db->Close();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  {
    rocksdb::Options options = ZstdOptions();
    options.create_if_missing = false;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < kKeys; ++i) {
      std::string value;
      s = db->Get(rocksdb::ReadOptions(), Key(i), &value);
      ASSERT_TRUE(s.ok()) << Key(i) << ": " << s.ToString();
      ASSERT_EQ(value, Value(i)) << Key(i);
    }
    std::string missing;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "stream/none", &missing).IsNotFound());
    ASSERT_TRUE(db->Close().ok());
  }
}

}  // namespace
}  // namespace gander
