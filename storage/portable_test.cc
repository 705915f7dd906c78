// Export and Import (storage/portable.h): a checkpoint moved between stores
// of every kind (memory -> memory, memory -> RocksDB, RocksDB -> memory,
// RocksDB -> RocksDB, the RocksDB destination also reopened) arrives with
// identical bytes and metadata; bytes that are damaged, truncated, not a
// snapshot, of an unknown format version or of another model are refused
// with the codec's code (or FAILED_PRECONDITION) and create nothing.
#include "storage/portable.h"

#include <xxhash.h>

#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/memory_state_store.h"
#include "storage/rocksdb_state_store.h"
#include "storage/state_codec.h"
#include "storage/store_internal.h"
#include "storage/store_test_util.h"

namespace gander::storage {
namespace {

using absl::StatusCode;

constexpr char kModel[] = "model-7.a";

enum class Kind { kMemory, kRocksDb };

std::string KindName(Kind kind) { return kind == Kind::kMemory ? "Memory" : "RocksDb"; }

// A real encoded snapshot (L=2, C=128, H=2, N=64) of random finite floats.
std::string MakeSnapshot(uint64_t seed, uint64_t token_count, StateCodec codec,
                         const std::string& fingerprint = kModel) {
  StreamSnapshot snapshot;
  snapshot.model_fingerprint = fingerprint;
  snapshot.config.layers = 2;
  snapshot.config.embd = 128;
  snapshot.config.heads = 2;
  snapshot.config.head_size = 64;
  snapshot.token_count = token_count;
  snapshot.state = engine::RecurrentState(snapshot.config);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  for (float& f : snapshot.state.floats()) f = value(rng);
  snapshot.sampler_state = absl::StrCat("sampler-", seed);
  snapshot.pending_input = {1, 2, static_cast<int32_t>(seed % 1000)};
  absl::StatusOr<std::string> bytes = EncodeSnapshot(snapshot, codec);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

// Rewrites the trailing XXH3-64 so that forged bytes pass the checksum.
void Restamp(std::string* bytes) {
  const size_t body = bytes->size() - 8;
  const uint64_t h = XXH3_64bits(bytes->data(), body);
  for (int i = 0; i < 8; ++i) (*bytes)[body + i] = static_cast<char>(h >> (8 * i));
}

class Stores {
 public:
  std::unique_ptr<StateStore> Open(Kind kind, const std::string& name) {
    if (kind == Kind::kMemory) return NewMemoryStateStore(StoreOptions());
    path_ = NewTestDir(name);
    return Reopen();
  }
  // The last RocksDB store opened again (the caller closes it first).
  std::unique_ptr<StateStore> Reopen() {
    auto store = OpenRocksDbStateStore(path_, RocksDbStoreOptions());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::unique_ptr<StateStore>(*std::move(store)) : nullptr;
  }

 private:
  std::string path_;
};

// Creates `id` and commits `checkpoints` as versions 1, 2, ...
void Fill(StateStore& store, const std::string& id, const std::vector<std::string>& checkpoints,
          uint64_t first_tokens) {
  ASSERT_TRUE(store.CreateStream({id, "acme", kModel}).ok());
  auto lease = store.AcquireLease(id, "worker", absl::Minutes(1));
  ASSERT_TRUE(lease.ok()) << lease.status();
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    auto v = store.Commit({id, i, lease->epoch, checkpoints[i], first_tokens + i});
    ASSERT_TRUE(v.ok()) << v.status();
  }
}

class PortableTest : public ::testing::TestWithParam<std::tuple<Kind, Kind>> {
 protected:
  void SetUp() override {
    source_ = source_stores_.Open(std::get<0>(GetParam()), "export-src");
    destination_ = destination_stores_.Open(std::get<1>(GetParam()), "import-dst");
    ASSERT_NE(source_, nullptr);
    ASSERT_NE(destination_, nullptr);
  }

  Stores source_stores_;
  Stores destination_stores_;
  std::unique_ptr<StateStore> source_;
  std::unique_ptr<StateStore> destination_;
};

TEST_P(PortableTest, ExportThenImportGivesIdenticalBytesAndMetadata) {
  const std::vector<std::string> checkpoints = {MakeSnapshot(1, 40, StateCodec::kRaw),
                                                MakeSnapshot(2, 41, StateCodec::kLossless),
                                                MakeSnapshot(3, 42, StateCodec::kInt8)};
  Fill(*source_, "s1", checkpoints, 40);

  // Each version, and the head as version 0.
  for (uint64_t version : {1, 2, 3, 0}) {
    SCOPED_TRACE(version);
    const uint64_t resolved = version == 0 ? 3 : version;
    auto bytes = ExportCheckpoint(*source_, "s1", version);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(*bytes, checkpoints[resolved - 1]);
    auto original = source_->GetCheckpoint("s1", resolved);
    ASSERT_TRUE(original.ok()) << original.status();

    const std::string id = absl::StrCat("moved-", version);
    auto info = ImportCheckpoint(*destination_, *bytes, {id, "other-tenant", kModel});
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->id, id);
    EXPECT_EQ(info->tenant, "other-tenant");
    EXPECT_EQ(info->model_fingerprint, kModel);
    EXPECT_EQ(info->version, 1u);
    EXPECT_EQ(info->token_count, 40 + resolved - 1);  // from the snapshot's header
    EXPECT_EQ(info->parent_id, "");
    EXPECT_EQ(ToString(*destination_->GetStream(id)), ToString(*info));

    auto imported = destination_->GetCheckpoint(id, 0);
    ASSERT_TRUE(imported.ok()) << imported.status();
    EXPECT_EQ(imported->bytes, original->bytes);
    EXPECT_EQ(imported->info.version, 1u);
    EXPECT_EQ(imported->info.checkpoint_id, original->info.checkpoint_id);
    EXPECT_EQ(imported->info.checkpoint_id,
              internal::HashCheckpoint(checkpoints[resolved - 1]).Hex());
    EXPECT_EQ(imported->info.size_bytes, original->info.size_bytes);
    EXPECT_EQ(imported->info.token_count, original->info.token_count);
  }

  // The same id again.
  auto head = ExportCheckpoint(*source_, "s1", 0);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(CodeOf(ImportCheckpoint(*destination_, *head, {"moved-0", "t", kModel})),
            StatusCode::kAlreadyExists);

  // A RocksDB destination keeps the imports across a reopen.
  if (std::get<1>(GetParam()) == Kind::kRocksDb) {
    destination_.reset();
    destination_ = destination_stores_.Reopen();
    ASSERT_NE(destination_, nullptr);
  }
  for (uint64_t version : {1, 2, 3}) {
    auto again = ExportCheckpoint(*destination_, absl::StrCat("moved-", version), 0);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, checkpoints[version - 1]);
  }
}

TEST_P(PortableTest, ImportWithoutFingerprintTakesTheSnapshots) {
  const std::string bytes = MakeSnapshot(5, 7, StateCodec::kBF16, "other-model");
  auto info = ImportCheckpoint(*destination_, bytes, {"s", "t", ""});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->model_fingerprint, "other-model");
  EXPECT_EQ(info->token_count, 7u);
}

TEST_P(PortableTest, RefusesDamagedBytesWithTheCodecsCodes) {
  const std::string good = MakeSnapshot(9, 100, StateCodec::kRaw);
  ASSERT_FALSE(good.empty());

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  std::string flipped_header = good;
  flipped_header[20] ^= 0x01;  // H
  std::string flipped_checksum = good;
  flipped_checksum.back() ^= 0x80;
  std::string newer_version = good;
  newer_version[8] = 2;  // format version 2, intact checksum: a newer writer
  Restamp(&newer_version);
  std::string unknown_codec = good;
  unknown_codec[10] = 9;
  Restamp(&unknown_codec);
  std::string not_magic = good;
  not_magic[0] = 'X';

  const struct {
    std::string name;
    std::string bytes;
    StatusCode code;
  } cases[] = {
      {"empty", "", StatusCode::kInvalidArgument},
      {"not a snapshot", "hello, world", StatusCode::kInvalidArgument},
      {"wrong magic", not_magic, StatusCode::kInvalidArgument},
      {"magic only", good.substr(0, 5), StatusCode::kDataLoss},
      {"truncated header", good.substr(0, 40), StatusCode::kDataLoss},
      {"truncated payload", good.substr(0, good.size() - 1000), StatusCode::kDataLoss},
      {"one byte short", good.substr(0, good.size() - 1), StatusCode::kDataLoss},
      {"trailing byte", good + "x", StatusCode::kDataLoss},
      {"flipped payload bit", flipped, StatusCode::kDataLoss},
      {"flipped header bit", flipped_header, StatusCode::kDataLoss},
      {"flipped checksum bit", flipped_checksum, StatusCode::kDataLoss},
      {"newer format version", newer_version, StatusCode::kInvalidArgument},
      {"unknown codec", unknown_codec, StatusCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // Each with the codec's own code, and before the request is looked at
    // (the bytes are the first argument).
    EXPECT_EQ(CodeOf(ReadSnapshotHeader(c.bytes)), c.code);
    EXPECT_EQ(CodeOf(ImportCheckpoint(*destination_, c.bytes, {"s", "t", kModel})), c.code);
    EXPECT_EQ(CodeOf(ImportCheckpoint(*destination_, c.bytes, {"bad/id", "t", kModel})), c.code);
    EXPECT_EQ(CodeOf(destination_->GetStream("s")), StatusCode::kNotFound);
  }
  auto ok = ImportCheckpoint(*destination_, good, {"s", "t", kModel});
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_P(PortableTest, RefusesAnotherModelsSnapshot) {
  const std::string bytes = MakeSnapshot(4, 3, StateCodec::kRaw, "model-x");
  auto refused = ImportCheckpoint(*destination_, bytes, {"s", "t", "model-y"});
  EXPECT_EQ(CodeOf(refused), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("model-x"), absl::string_view::npos);
  EXPECT_NE(refused.status().message().find("model-y"), absl::string_view::npos);
  EXPECT_EQ(CodeOf(destination_->GetStream("s")), StatusCode::kNotFound);
  EXPECT_TRUE(ImportCheckpoint(*destination_, bytes, {"s", "t", "model-x"}).ok());
}

TEST_P(PortableTest, ChecksTheRequestAfterTheBytes) {
  const std::string bytes = MakeSnapshot(6, 3, StateCodec::kRaw);
  EXPECT_EQ(CodeOf(ImportCheckpoint(*destination_, bytes, {"bad/id", "t", kModel})),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(ImportCheckpoint(*destination_, bytes, {"s", "", kModel})),
            StatusCode::kInvalidArgument);
  // A malformed fingerprint is INVALID_ARGUMENT, not a model mismatch.
  EXPECT_EQ(CodeOf(ImportCheckpoint(*destination_, bytes, {"s", "t", "no spaces"})),
            StatusCode::kInvalidArgument);
  // A snapshot whose fingerprint the store cannot hold as a stream's.
  const std::string odd = MakeSnapshot(6, 3, StateCodec::kRaw, "model with spaces");
  EXPECT_EQ(CodeOf(ImportCheckpoint(*destination_, odd, {"s", "t", ""})),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(destination_->GetStream("s")), StatusCode::kNotFound);
}

TEST_P(PortableTest, ExportOfWhatIsNotThereIsNotFound) {
  Fill(*source_, "s1", {MakeSnapshot(1, 1, StateCodec::kRaw), MakeSnapshot(2, 2, StateCodec::kRaw)},
       1);
  ASSERT_TRUE(source_->CreateStream({"empty", "acme", kModel}).ok());
  EXPECT_EQ(CodeOf(ExportCheckpoint(*source_, "missing", 0)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(ExportCheckpoint(*source_, "s1", 3)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(ExportCheckpoint(*source_, "empty", 0)), StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(ExportCheckpoint(*source_, "bad/id", 0)), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ExportCheckpoint(*source_, "s1", 2).ok());
  ASSERT_TRUE(source_->DeleteStream("s1").ok());
  EXPECT_EQ(CodeOf(ExportCheckpoint(*source_, "s1", 1)), StatusCode::kNotFound);
}

TEST_P(PortableTest, ExportRefusesACheckpointThatIsNotASnapshot) {
  std::string newer = MakeSnapshot(8, 2, StateCodec::kRaw);
  newer[8] = 2;
  Restamp(&newer);
  std::string damaged = MakeSnapshot(9, 3, StateCodec::kRaw);
  damaged[damaged.size() / 3] ^= 0x04;  // committed damaged: the store's hash holds
  Fill(*source_, "s1", {"plain bytes, not a snapshot", newer, damaged}, 1);
  auto plain = ExportCheckpoint(*source_, "s1", 1);
  EXPECT_EQ(CodeOf(plain), StatusCode::kFailedPrecondition);
  EXPECT_NE(plain.status().message().find("version 1 of stream 's1'"), absl::string_view::npos)
      << plain.status();
  EXPECT_EQ(CodeOf(ExportCheckpoint(*source_, "s1", 2)), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CodeOf(ExportCheckpoint(*source_, "s1", 3)), StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(AllPairs, PortableTest,
                         ::testing::Combine(::testing::Values(Kind::kMemory, Kind::kRocksDb),
                                            ::testing::Values(Kind::kMemory, Kind::kRocksDb)),
                         [](const ::testing::TestParamInfo<std::tuple<Kind, Kind>>& info) {
                           return absl::StrCat(KindName(std::get<0>(info.param)), "To",
                                               KindName(std::get<1>(info.param)));
                         });

}  // namespace
}  // namespace gander::storage
