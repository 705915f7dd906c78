#include "cli/client/streams_client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/client/testing/fake_gander_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gander::cli::client {
namespace {

using ::testing::ElementsAre;
using testing::FakeGanderOptions;
using testing::FakeGanderServer;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

bool Exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Bytes that are not all alike, so that a corruption or reordering shows.
std::string Pattern(size_t size) {
  std::string bytes(size, '\0');
  uint32_t x = 12345;
  for (char& c : bytes) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return bytes;
}

v1::StreamInfo Info(const std::string& id, uint64_t version, uint64_t tokens) {
  v1::StreamInfo info;
  info.set_id(id);
  info.set_version(version);
  info.set_token_count(tokens);
  info.mutable_update_time()->set_seconds(1700000000);
  return info;
}

class StreamsClientTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(FakeGanderOptions()); }

  void Start(const FakeGanderOptions& fake) {
    server_ = std::make_unique<FakeGanderServer>(fake);
    options_.server = server_->address();
    options_.timeout = absl::Seconds(20);
    stub_ = v1::Streams::NewStub(*MakeChannel(options_));
  }

  std::unique_ptr<FakeGanderServer> server_;
  ClientOptions options_;
  std::unique_ptr<v1::Streams::Stub> stub_;
};

TEST(CheckpointIdTest, KnownValueAndFormat) {
  // XXH3-128 of the empty input, canonical (big-endian) form.
  EXPECT_EQ(CheckpointIdOf(""), "99aa06d3014798d86001c324468d497f");
  EXPECT_TRUE(ValidateCheckpointId(CheckpointIdOf("abc")).ok());
  EXPECT_EQ(ValidateCheckpointId("ABCDEF0123456789abcdef0123456789").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateCheckpointId("abc").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StreamsClientTest, ListFollowsEveryPage) {
  for (int i = 0; i < 7; ++i) {
    server_->AddStream(Info(absl::StrCat("s", i), 1, 10 * static_cast<uint64_t>(i)), "x");
  }
  absl::StatusOr<std::vector<v1::StreamInfo>> all =
      ListAllStreams(stub_.get(), options_, "", /*page_size=*/3);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ((*all)[i].id(), absl::StrCat("s", i));
  EXPECT_THAT(server_->page_tokens(), ElementsAre("", "s2", "s5"));
}

TEST_F(StreamsClientTest, ListOfNothing) {
  absl::StatusOr<std::vector<v1::StreamInfo>> all = ListAllStreams(stub_.get(), options_, "", 0);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->empty());
}

TEST_F(StreamsClientTest, ExportWritesTheVerifiedBytesAtomically) {
  const std::string bytes = Pattern((size_t{5} << 20) / 2 + 17);  // 2.5 MiB + 17: three chunks
  server_->AddStream(Info("big", 3, 99), bytes);
  const std::string path = TempPath("export.gst");
  absl::StatusOr<v1::ExportHeader> header =
      ExportStreamToFile(stub_.get(), options_, StreamRef{"big", 0}, path);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->size_bytes(), bytes.size());
  EXPECT_EQ(header->version().version(), 3u);
  EXPECT_EQ(ReadAll(path), bytes);
  EXPECT_FALSE(Exists(path + ".tmp"));
  EXPECT_EQ(server_->calls().back().stream_id_header, "big");
}

TEST_F(StreamsClientTest, ShortExportIsDataLossAndLeavesNoFile) {
  FakeGanderOptions fake;
  fake.export_short_by = 10;
  Start(fake);
  server_->AddStream(Info("s", 1, 5), Pattern(1000));
  const std::string path = TempPath("short.gst");
  WriteAll(path, "previous contents");
  absl::StatusOr<v1::ExportHeader> header =
      ExportStreamToFile(stub_.get(), options_, StreamRef{"s", 1}, path);
  EXPECT_EQ(header.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(header.status().message()), HasSubstr("received 990 of 1000 bytes"));
  EXPECT_EQ(ReadAll(path), "previous contents");
  EXPECT_FALSE(Exists(path + ".tmp"));
}

TEST_F(StreamsClientTest, CorruptExportIsDataLoss) {
  FakeGanderOptions fake;
  fake.export_corrupt = true;
  Start(fake);
  server_->AddStream(Info("s", 1, 5), Pattern(1000));
  const std::string path = TempPath("corrupt.gst");
  absl::StatusOr<v1::ExportHeader> header =
      ExportStreamToFile(stub_.get(), options_, StreamRef{"s", 0}, path);
  EXPECT_EQ(header.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(header.status().message()), HasSubstr("hash to"));
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(Exists(path + ".tmp"));
}

TEST_F(StreamsClientTest, ExportOfUnknownStreamIsNotFound) {
  const std::string path = TempPath("missing.gst");
  EXPECT_EQ(ExportStreamToFile(stub_.get(), options_, StreamRef{"nope", 0}, path).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(Exists(path));
  EXPECT_EQ(ExportStreamToFile(stub_.get(), options_, StreamRef{"bad/id", 0}, path).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StreamsClientTest, ImportSendsOneMebibyteChunks) {
  const std::string bytes = Pattern((size_t{2} << 20) + 5);
  const std::string path = TempPath("import.gst");
  WriteAll(path, bytes);
  ImportOptions import;
  import.stream_id = "imported-1";
  import.tenant = "acme";
  import.checkpoint_id = CheckpointIdOf(bytes);
  absl::StatusOr<v1::StreamInfo> stream = ImportStreamFromFile(stub_.get(), options_, path, import);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ(stream->id(), "imported-1");
  EXPECT_EQ(stream->version(), 1u);
  EXPECT_EQ(server_->StreamBytes("imported-1"), bytes);
  EXPECT_THAT(server_->import_chunk_sizes(), ElementsAre(size_t{1} << 20, size_t{1} << 20, 5u));
  EXPECT_EQ(server_->calls().back().stream_id_header, "imported-1");
}

TEST_F(StreamsClientTest, ImportRoundTripsAnExport) {
  const std::string bytes = Pattern(4096);
  server_->AddStream(Info("orig", 2, 40), bytes);
  const std::string path = TempPath("roundtrip.gst");
  absl::StatusOr<v1::ExportHeader> header =
      ExportStreamToFile(stub_.get(), options_, StreamRef{"orig", 2}, path);
  ASSERT_TRUE(header.ok()) << header.status();
  ImportOptions import;
  import.checkpoint_id = header->version().checkpoint_id();
  absl::StatusOr<v1::StreamInfo> stream = ImportStreamFromFile(stub_.get(), options_, path, import);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ(server_->StreamBytes(stream->id()), bytes);
}

TEST_F(StreamsClientTest, ImportRefusals) {
  const std::string empty = TempPath("empty.gst");
  WriteAll(empty, "");
  EXPECT_EQ(ImportStreamFromFile(stub_.get(), options_, empty, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImportStreamFromFile(stub_.get(), options_, TempPath("absent.gst"), {}).status().code(),
            absl::StatusCode::kNotFound);
  const std::string path = TempPath("some.gst");
  WriteAll(path, "abc");
  ImportOptions wrong_hash;
  wrong_hash.checkpoint_id = CheckpointIdOf("abd");
  EXPECT_EQ(ImportStreamFromFile(stub_.get(), options_, path, wrong_hash).status().code(),
            absl::StatusCode::kDataLoss);
  ImportOptions bad_id;
  bad_id.stream_id = "no spaces";
  EXPECT_EQ(ImportStreamFromFile(stub_.get(), options_, path, bad_id).status().code(),
            absl::StatusCode::kInvalidArgument);
  server_->AddStream(Info("taken", 1, 1), "x");
  ImportOptions taken;
  taken.stream_id = "taken";
  EXPECT_EQ(ImportStreamFromFile(stub_.get(), options_, path, taken).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(FormatTest, StreamTableAndDetails) {
  v1::StreamInfo parent = Info("root", 4, 120);
  v1::StreamInfo child = Info("child", 1, 100);
  child.set_parent_id("root");
  child.set_parent_version(3);
  EXPECT_EQ(FormatStreamTable({parent, child}),
            "ID     VERSION  TOKENS  PARENT  UPDATED\n"
            "root   4        120     -       2023-11-14T22:13:20Z\n"
            "child  1        100     root@3  2023-11-14T22:13:20Z\n");
  v1::GetStreamResponse response;
  *response.mutable_stream() = child;
  const std::string none = FormatStreamDetails(response);
  EXPECT_THAT(none, HasSubstr("parent   root@3\n"));
  EXPECT_THAT(none, HasSubstr("no checkpoints yet"));
  v1::VersionInfo* v = response.add_versions();
  v->set_version(1);
  v->set_token_count(100);
  v->set_size_bytes(2048);
  v->set_checkpoint_id("0123456789abcdef0123456789abcdef");
  EXPECT_THAT(FormatStreamDetails(response),
              HasSubstr("VERSION  TOKENS  BYTES  CHECKPOINT                        CREATED\n"
                        "1        100     2048   0123456789abcdef0123456789abcdef  -\n"));
}

TEST(FormatTest, ModelTable) {
  v1::ListModelsResponse response;
  v1::ModelInfo* m = response.add_models();
  m->set_name("rwkv7-0.1b");
  m->set_fingerprint("ab12");
  m->set_layers(12);
  m->set_embedding_size(768);
  m->set_head_size(64);
  m->set_vocab_size(65536);
  m->set_weight_dtype("bf16");
  m->set_state_bytes(2433024);
  EXPECT_EQ(FormatModelTable(response),
            "NAME        FINGERPRINT  LAYERS  EMBD  HEAD  VOCAB  DTYPE  STATE_BYTES  VOCABULARY\n"
            "rwkv7-0.1b  ab12         12      768   64    65536  bf16   2433024      -\n");
}

}  // namespace
}  // namespace gander::cli::client
