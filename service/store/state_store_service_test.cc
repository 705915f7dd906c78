// StateStoreService seen through a raw stub, as a careless or hostile
// client would use it: every malformed upload gets its precise code
// (INVALID_ARGUMENT for a broken chunk sequence or header, DATA_LOSS for
// bytes that do not match their checkpoint_id) and writes nothing; a
// cancelled upload writes nothing; downloads are chunked as the contract
// says; an unparseable request does not bring the server down.
#include "service/store/state_store_service.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gander/store/v1/state_store.grpc.pb.h"
#include "gtest/gtest.h"
#include "service/store/in_process_store_server.h"
#include "storage/fake_clock.h"
#include "storage/memory_state_store.h"
#include "storage/remote/wire.h"

namespace gander::service {
namespace {

namespace pb = ::gander::store::v1;
using storage::wire::CheckpointIdOf;
using storage::wire::kMaxChunkBytes;

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

pb::CommitRequest Header(uint64_t epoch, uint64_t size, const std::string& id,
                         uint64_t expected_version = 0) {
  pb::CommitRequest request;
  pb::CommitHeader* header = request.mutable_header();
  header->set_stream_id("s1");
  header->set_expected_version(expected_version);
  header->set_lease_epoch(epoch);
  header->set_token_count(5);
  header->set_size_bytes(size);
  header->set_checkpoint_id(id);
  return request;
}

pb::CommitRequest Chunk(const std::string& bytes) {
  pb::CommitRequest request;
  request.set_chunk(bytes);
  return request;
}

// `bytes` as full chunks of `chunk_size` (the last one shorter).
std::vector<pb::CommitRequest> Chunks(const std::string& bytes, size_t chunk_size) {
  std::vector<pb::CommitRequest> out;
  for (size_t offset = 0; offset < bytes.size(); offset += chunk_size) {
    out.push_back(Chunk(bytes.substr(offset, chunk_size)));
  }
  return out;
}

class StateStoreServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = storage::NewMemoryStateStore({3, &clock_});
    auto server = InProcessStoreServer::Start(store_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials());
    stub_ = pb::StateStore::NewStub(channel_);
    ASSERT_TRUE(store_->CreateStream({"s1", "acme", "m"}).ok());
    auto lease = store_->AcquireLease("s1", "worker-a", absl::Seconds(30));
    ASSERT_TRUE(lease.ok());
    epoch_ = lease->epoch;
  }

  void Prepare(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  // Sends `messages` as one Commit upload; the server's answer.
  grpc::Status SendCommit(const std::vector<pb::CommitRequest>& messages,
                          pb::CommitResponse* response = nullptr) {
    pb::CommitResponse unused;
    grpc::ClientContext context;
    Prepare(&context);
    auto writer = stub_->Commit(&context, response != nullptr ? response : &unused);
    for (const pb::CommitRequest& message : messages) {
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  uint64_t HeadVersion() {
    auto info = store_->GetStream("s1");
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->version : 0;
  }

  // Expects `status` to have `code` and to mention `words`, and the stream
  // to be unchanged.
  void ExpectRefused(const grpc::Status& status, grpc::StatusCode code, const std::string& words) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(words), std::string::npos) << status.error_message();
    EXPECT_EQ(HeadVersion(), 0u) << "a refused upload was written";
  }

  storage::FakeClock clock_;
  std::unique_ptr<storage::StateStore> store_;
  std::unique_ptr<InProcessStoreServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::StateStore::Stub> stub_;
  uint64_t epoch_ = 0;
};

TEST_F(StateStoreServiceTest, WellFormedUploadsOfAnyChunkingAreApplied) {
  const std::string bytes = RandomBytes(3000, 1);
  // Chunks smaller than 1 MiB are accepted (the receiver is lenient).
  std::vector<pb::CommitRequest> messages = {Header(epoch_, bytes.size(), CheckpointIdOf(bytes))};
  for (const auto& chunk : Chunks(bytes, 1000)) messages.push_back(chunk);
  pb::CommitResponse response;
  grpc::Status status = SendCommit(messages, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.version(), 1u);
  auto stored = store_->GetCheckpoint("s1", 1);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->bytes, bytes);
  EXPECT_EQ(stored->info.token_count, 5u);
}

TEST_F(StateStoreServiceTest, MissingOrMisplacedHeaderIsInvalid) {
  const std::string bytes = "state";
  const std::string id = CheckpointIdOf(bytes);
  ExpectRefused(SendCommit({}), grpc::StatusCode::INVALID_ARGUMENT, "before its header");
  ExpectRefused(SendCommit({Chunk(bytes)}), grpc::StatusCode::INVALID_ARGUMENT,
                "first message carries a chunk");
  ExpectRefused(SendCommit({Chunk(bytes), Header(epoch_, bytes.size(), id)}),
                grpc::StatusCode::INVALID_ARGUMENT, "first message carries a chunk");
  ExpectRefused(SendCommit({pb::CommitRequest(), Chunk(bytes)}), grpc::StatusCode::INVALID_ARGUMENT,
                "neither header nor chunk");
  ExpectRefused(SendCommit({Header(epoch_, bytes.size(), id), Header(epoch_, bytes.size(), id)}),
                grpc::StatusCode::INVALID_ARGUMENT, "message 2 of the upload carries a second");
  ExpectRefused(SendCommit({Header(epoch_, bytes.size(), id), Chunk("sta"), pb::CommitRequest()}),
                grpc::StatusCode::INVALID_ARGUMENT, "message 3 of the upload carries neither");
}

TEST_F(StateStoreServiceTest, ChunksOutOfSpecAreInvalid) {
  const std::string big = RandomBytes(kMaxChunkBytes + 1, 2);
  ExpectRefused(SendCommit({Header(epoch_, big.size(), CheckpointIdOf(big)), Chunk(big)}),
                grpc::StatusCode::INVALID_ARGUMENT, "the limit is 1048576");
  const std::string bytes = "0123456789";
  const std::string id = CheckpointIdOf(bytes);
  ExpectRefused(SendCommit({Header(epoch_, bytes.size(), id), Chunk("")}),
                grpc::StatusCode::INVALID_ARGUMENT, "is empty");
  // More bytes than declared, in the chunk that crosses the line.
  ExpectRefused(SendCommit({Header(epoch_, bytes.size(), id), Chunk("0123456"), Chunk("7890")}),
                grpc::StatusCode::INVALID_ARGUMENT, "goes past the declared size_bytes 10");
  // Fewer bytes than declared.
  ExpectRefused(SendCommit({Header(epoch_, bytes.size(), id), Chunk("012345678")}),
                grpc::StatusCode::INVALID_ARGUMENT, "ended after 9 bytes");
  // Declared empty, one byte sent.
  ExpectRefused(SendCommit({Header(epoch_, 0, CheckpointIdOf("")), Chunk("x")}),
                grpc::StatusCode::INVALID_ARGUMENT, "goes past the declared size_bytes 0");
}

TEST_F(StateStoreServiceTest, HeaderOutOfSpecIsInvalid) {
  ExpectRefused(SendCommit({Header(epoch_, (uint64_t{1} << 30) + 1, CheckpointIdOf("x"))}),
                grpc::StatusCode::INVALID_ARGUMENT, "size_bytes 1073741825");
  ExpectRefused(SendCommit({Header(epoch_, 1, ""), Chunk("x")}), grpc::StatusCode::INVALID_ARGUMENT,
                "checkpoint_id");
  std::string upper = CheckpointIdOf("x");
  upper[0] = 'A';
  ExpectRefused(SendCommit({Header(epoch_, 1, upper), Chunk("x")}),
                grpc::StatusCode::INVALID_ARGUMENT, "32 lowercase hex");
  // An empty checkpoint, announced and sent as such: the store's answer.
  ExpectRefused(SendCommit({Header(epoch_, 0, CheckpointIdOf(""))}),
                grpc::StatusCode::INVALID_ARGUMENT, "checkpoint is empty");
}

TEST_F(StateStoreServiceTest, BytesThatMissTheirIdAreDataLoss) {
  const std::string bytes = RandomBytes((5 << 20) / 2, 3);
  std::string damaged = bytes;
  damaged[kMaxChunkBytes + 7] ^= 0x40;
  std::vector<pb::CommitRequest> messages = {Header(epoch_, bytes.size(), CheckpointIdOf(bytes))};
  for (const auto& chunk : Chunks(damaged, kMaxChunkBytes)) messages.push_back(chunk);
  ExpectRefused(SendCommit(messages), grpc::StatusCode::DATA_LOSS, CheckpointIdOf(bytes));

  // The same for an import: the stream is not created.
  grpc::ClientContext context;
  Prepare(&context);
  pb::CreateStreamWithCheckpointResponse response;
  auto writer = stub_->CreateStreamWithCheckpoint(&context, &response);
  pb::CreateStreamWithCheckpointRequest header;
  header.mutable_header()->mutable_stream()->set_stream_id("imp");
  header.mutable_header()->mutable_stream()->set_tenant("acme");
  header.mutable_header()->mutable_stream()->set_model_fingerprint("m");
  header.mutable_header()->set_size_bytes(5);
  header.mutable_header()->set_checkpoint_id(CheckpointIdOf("hello"));
  ASSERT_TRUE(writer->Write(header));
  pb::CreateStreamWithCheckpointRequest chunk;
  chunk.set_chunk("jello");
  ASSERT_TRUE(writer->Write(chunk));
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
  EXPECT_EQ(store_->GetStream("imp").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StateStoreServiceTest, ImportWithoutHeaderIsInvalid) {
  grpc::ClientContext context;
  Prepare(&context);
  pb::CreateStreamWithCheckpointResponse response;
  auto writer = stub_->CreateStreamWithCheckpoint(&context, &response);
  pb::CreateStreamWithCheckpointRequest chunk;
  chunk.set_chunk("bytes");
  writer->Write(chunk);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
}

TEST_F(StateStoreServiceTest, CancelledUploadWritesNothing) {
  const std::string bytes = RandomBytes(2 * kMaxChunkBytes, 4);
  {
    grpc::ClientContext context;
    Prepare(&context);
    pb::CommitResponse response;
    auto writer = stub_->Commit(&context, &response);
    ASSERT_TRUE(writer->Write(Header(epoch_, bytes.size(), CheckpointIdOf(bytes))));
    ASSERT_TRUE(writer->Write(Chunk(bytes.substr(0, kMaxChunkBytes))));
    context.TryCancel();
    grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
  }
  EXPECT_EQ(HeadVersion(), 0u);
  // The stream takes the same commit afterwards.
  std::vector<pb::CommitRequest> messages = {Header(epoch_, bytes.size(), CheckpointIdOf(bytes))};
  for (const auto& chunk : Chunks(bytes, kMaxChunkBytes)) messages.push_back(chunk);
  pb::CommitResponse response;
  grpc::Status status = SendCommit(messages, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.version(), 1u);
}

TEST_F(StateStoreServiceTest, StoreErrorsPassThrough) {
  const std::string bytes = "state";
  // A well-formed upload that the store refuses: stale lease epoch.
  grpc::Status status =
      SendCommit({Header(epoch_ + 1, bytes.size(), CheckpointIdOf(bytes)), Chunk(bytes)});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
  grpc::ClientContext context;
  Prepare(&context);
  pb::GetStreamRequest request;
  request.set_stream_id("nope");
  pb::GetStreamResponse response;
  status = stub_->GetStream(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), std::string(store_->GetStream("nope").status().message()));
}

TEST_F(StateStoreServiceTest, DownloadsAreHeaderThenFullChunks) {
  const std::string bytes = RandomBytes(2 * kMaxChunkBytes + 12345, 5);
  ASSERT_TRUE(store_->Commit({"s1", 0, epoch_, bytes, 77}).ok());
  grpc::ClientContext context;
  Prepare(&context);
  pb::GetCheckpointRequest request;
  request.set_stream_id("s1");
  auto reader = stub_->GetCheckpoint(&context, request);
  std::vector<pb::GetCheckpointResponse> messages;
  pb::GetCheckpointResponse message;
  while (reader->Read(&message)) messages.push_back(message);
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(messages.size(), 4u);
  ASSERT_EQ(messages[0].part_case(), pb::GetCheckpointResponse::kHeader);
  EXPECT_EQ(messages[0].header().version(), 1u);  // 0 asked: resolved
  EXPECT_EQ(messages[0].header().size_bytes(), bytes.size());
  EXPECT_EQ(messages[0].header().token_count(), 77u);
  EXPECT_EQ(messages[0].header().checkpoint_id(), CheckpointIdOf(bytes));
  std::string joined;
  for (size_t i = 1; i < messages.size(); ++i) {
    ASSERT_EQ(messages[i].part_case(), pb::GetCheckpointResponse::kChunk);
    EXPECT_EQ(messages[i].chunk().size(), i + 1 < messages.size() ? kMaxChunkBytes : 12345u);
    joined += messages[i].chunk();
  }
  EXPECT_TRUE(joined == bytes);

  grpc::ClientContext missing_context;
  Prepare(&missing_context);
  request.set_version(9);
  auto missing = stub_->GetCheckpoint(&missing_context, request);
  EXPECT_FALSE(missing->Read(&message));
  EXPECT_EQ(missing->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StateStoreServiceTest, PageSizeZeroMeansOneHundred) {
  for (int i = 0; i < 105; ++i) {
    ASSERT_TRUE(store_->CreateStream({absl::StrCat("p", 1000 + i), "paged", "m"}).ok());
  }
  grpc::ClientContext context;
  Prepare(&context);
  pb::ListStreamsRequest request;
  request.set_tenant("paged");
  pb::ListStreamsResponse response;
  grpc::Status status = stub_->ListStreams(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.streams_size(), 100);
  EXPECT_FALSE(response.next_page_token().empty());

  grpc::ClientContext too_big_context;
  Prepare(&too_big_context);
  request.set_page_size(4000000000u);
  status = stub_->ListStreams(&too_big_context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(StateStoreServiceTest, UnparseableRequestLeavesTheServerServing) {
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  Prepare(&context);
  const std::string garbage = "\xff\xff\xff\xff\x0f";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  generic.UnaryCall(&context, "/gander.store.v1.StateStore/GetStream", grpc::StubOptions(),
                    &request, &response, [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();

  grpc::ClientContext after;
  Prepare(&after);
  pb::GetStreamRequest get;
  get.set_stream_id("s1");
  pb::GetStreamResponse info;
  ASSERT_TRUE(stub_->GetStream(&after, get, &info).ok());
  EXPECT_EQ(info.stream().id(), "s1");
}

TEST(StateStoreServiceObserver, ReportsEveryCallWithItsCode) {
  storage::FakeClock clock;
  std::unique_ptr<storage::StateStore> store = storage::NewMemoryStateStore({3, &clock});
  absl::Mutex mu;
  std::vector<std::string> calls;
  StateStoreServiceOptions options;
  options.on_call_end = [&](const std::string& method, absl::StatusCode code,
                            absl::Duration elapsed) {
    absl::MutexLock lock(&mu);
    EXPECT_GE(elapsed, absl::ZeroDuration());
    calls.push_back(absl::StrCat(method, " ", absl::StatusCodeToString(code)));
  };
  auto server = InProcessStoreServer::Start(store.get(), std::move(options));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = pb::StateStore::NewStub(
      grpc::CreateChannel((*server)->target(), grpc::InsecureChannelCredentials()));
  for (const char* id : {"s1", "s1", "bad id"}) {
    grpc::ClientContext context;
    pb::CreateStreamRequest request;
    request.set_stream_id(id);
    request.set_tenant("acme");
    request.set_model_fingerprint("m");
    pb::CreateStreamResponse response;
    stub->CreateStream(&context, request, &response);
  }
  {
    grpc::ClientContext context;
    pb::CommitResponse response;
    auto writer = stub->Commit(&context, &response);
    writer->WritesDone();
    writer->Finish();
  }
  (*server)->Shutdown();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(calls, (std::vector<std::string>{
                       "gander.store.v1.StateStore/CreateStream OK",
                       "gander.store.v1.StateStore/CreateStream ALREADY_EXISTS",
                       "gander.store.v1.StateStore/CreateStream INVALID_ARGUMENT",
                       "gander.store.v1.StateStore/Commit INVALID_ARGUMENT",
                   }));
}

}  // namespace
}  // namespace gander::service
