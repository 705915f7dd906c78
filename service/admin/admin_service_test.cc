// gander.v1.Streams and gander.v1.Models served in process on 127.0.0.1:0
// over a memory store and a small random model, called through the
// generated stubs. The caller's tenant comes from the test metadata header
// "x-test-tenant" (absent: UNAUTHENTICATED).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/model.h"
#include "engine/model_config.h"
#include "engine/recurrent_state.h"
#include "engine/weights/random_model.h"
#include "gander/v1/models.grpc.pb.h"
#include "gander/v1/streams.grpc.pb.h"
#include "gtest/gtest.h"
#include "service/admin/convert.h"
#include "service/admin/ids.h"
#include "service/admin/models_service.h"
#include "service/admin/streams_service.h"
#include "storage/memory_state_store.h"
#include "storage/remote/wire.h"
#include "storage/state_codec.h"
#include "storage/state_store.h"

namespace gander::service {
namespace {

namespace pb = ::gander::v1;
using grpc::StatusCode;

constexpr char kModelName[] = "tiny-rwkv7";
constexpr char kTenantHeader[] = "x-test-tenant";
constexpr uint64_t kMiB = uint64_t{1} << 20;

// The tenant named by the caller's "x-test-tenant" header.
absl::StatusOr<std::string> TenantFromHeader(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(kTenantHeader);
  if (it == metadata.end()) return absl::UnauthenticatedError("no x-test-tenant header");
  return std::string(it->second.data(), it->second.size());
}

// Streams "open in a session" as far as DeleteStream's hook can tell.
class OpenStreams {
 public:
  void Open(const std::string& id) {
    absl::MutexLock lock(&mu_);
    open_.insert(id);
  }
  void Close(const std::string& id) {
    absl::MutexLock lock(&mu_);
    open_.erase(id);
  }
  bool IsOpen(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return open_.count(id) > 0;
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> open_ ABSL_GUARDED_BY(mu_);
};

// Both services on a loopback port chosen by the kernel, with stubs.
class TestServer {
 public:
  TestServer(const engine::Model& model, storage::StateStore* store, OpenStreams* open,
             const StreamsServiceOptions& options)
      : streams_service_(
            store, model, kModelName, TenantFromHeader,
            [open](const std::string& id) { return open->IsOpen(id); }, options),
        models_service_(model, kModelName, "/models/rwkv_vocab_v20230424.txt", TenantFromHeader) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&streams_service_);
    builder.RegisterService(&models_service_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ <= 0) return;
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    streams = pb::Streams::NewStub(channel);
    models = pb::Models::NewStub(channel);
  }

  ~TestServer() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
    }
  }

  bool Started() const { return server_ != nullptr && port_ > 0; }

  std::unique_ptr<pb::Streams::Stub> streams;
  std::unique_ptr<pb::Models::Stub> models;

 private:
  StreamsService streams_service_;
  ModelsService models_service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// The served model, loaded once for every test (SetUpTestSuite), and why
// loading failed if it did.
engine::Model* shared_model = nullptr;
absl::Status* load_status = nullptr;

// A StateStore that forwards to another, first running a one-shot hook
// before the call it is armed for: how the tests make a stream change
// between a service's ownership check and the store call that follows.
class HookedStore final : public storage::StateStore {
 public:
  explicit HookedStore(storage::StateStore* inner) : inner_(inner) {}

  // Runs `hook` once, just before the next call of `method` ("Fork", ...).
  void Arm(const std::string& method, std::function<void()> hook) {
    method_ = method;
    hook_ = std::move(hook);
  }

  absl::StatusOr<storage::StreamInfo> CreateStream(
      const storage::CreateStreamRequest& request) override {
    Before("CreateStream");
    return inner_->CreateStream(request);
  }
  absl::StatusOr<storage::StreamInfo> GetStream(const std::string& id) override {
    Before("GetStream");
    return inner_->GetStream(id);
  }
  absl::StatusOr<storage::StreamInfo> CreateStreamWithCheckpoint(
      const storage::CreateStreamRequest& request, const std::string& checkpoint,
      uint64_t token_count) override {
    Before("CreateStreamWithCheckpoint");
    return inner_->CreateStreamWithCheckpoint(request, checkpoint, token_count);
  }
  absl::StatusOr<uint64_t> Commit(const storage::CommitRequest& request) override {
    Before("Commit");
    return inner_->Commit(request);
  }
  absl::StatusOr<storage::Checkpoint> GetCheckpoint(const std::string& id,
                                                    uint64_t version) override {
    Before("GetCheckpoint");
    return inner_->GetCheckpoint(id, version);
  }
  absl::StatusOr<std::vector<storage::VersionInfo>> ListVersions(const std::string& id) override {
    Before("ListVersions");
    return inner_->ListVersions(id);
  }
  absl::StatusOr<storage::StreamInfo> Fork(const std::string& source, uint64_t version,
                                           const storage::CreateStreamRequest& request) override {
    Before("Fork");
    return inner_->Fork(source, version, request);
  }
  absl::Status DeleteStream(const std::string& id) override {
    Before("DeleteStream");
    return inner_->DeleteStream(id);
  }
  absl::StatusOr<storage::ListStreamsResult> ListStreams(const std::string& tenant, int page_size,
                                                         const std::string& page_token) override {
    Before("ListStreams");
    return inner_->ListStreams(tenant, page_size, page_token);
  }
  absl::StatusOr<storage::Lease> AcquireLease(const std::string& id, const std::string& owner,
                                              absl::Duration ttl) override {
    return inner_->AcquireLease(id, owner, ttl);
  }
  absl::StatusOr<storage::Lease> RenewLease(const std::string& id, uint64_t epoch,
                                            absl::Duration ttl) override {
    return inner_->RenewLease(id, epoch, ttl);
  }
  absl::Status ReleaseLease(const std::string& id, uint64_t epoch) override {
    return inner_->ReleaseLease(id, epoch);
  }
  absl::StatusOr<int> DeleteIdleStreams(absl::Duration idle_ttl) override {
    return inner_->DeleteIdleStreams(idle_ttl);
  }

 private:
  // The services call the store from gRPC's threads, one call at a time in
  // these tests; the hook is taken under a mutex all the same.
  void Before(const std::string& method) {
    std::function<void()> hook;
    {
      absl::MutexLock lock(&mu_);
      if (method != method_) return;
      hook = std::move(hook_);
      method_.clear();
    }
    if (hook) hook();
  }

  storage::StateStore* const inner_;
  absl::Mutex mu_;
  std::string method_ ABSL_GUARDED_BY(mu_);
  std::function<void()> hook_ ABSL_GUARDED_BY(mu_);
};

// What one ExportStream call delivered.
struct Exported {
  pb::ExportHeader header;
  std::vector<size_t> chunk_sizes;
  std::string bytes;
  int headers = 0;  // messages that carried a header
};

class AdminServiceTest : public ::testing::Test {
 protected:
  // The served model: 64 layers of C = N = 64, so that one raw state
  // (64 * (2 * 64 + 64 * 64) * 4 = 1,081,344 bytes) needs two export chunks,
  // while the weights stay small (about 6 MB).
  static void SetUpTestSuite() {
    const char* dir = std::getenv("TEST_TMPDIR");
    const std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/admin_model.pth");
    engine::RandomModelSpec spec;
    spec.layers = 64;
    spec.embd = 64;
    spec.vocab = 64;
    spec.seed = 11;
    load_status = new absl::Status(
        engine::WriteRandomModel(spec, path, engine::TensorFormat::kPth, engine::FileDtype::kBF16));
    if (!load_status->ok()) return;
    absl::StatusOr<std::unique_ptr<engine::Model>> model =
        engine::Model::Load(path, engine::LoadOptions(), /*threads=*/1);
    if (!model.ok()) {
      *load_status = model.status();
      return;
    }
    shared_model = model->release();
  }

  static void TearDownTestSuite() {
    delete shared_model;
    shared_model = nullptr;
    delete load_status;
    load_status = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(load_status->ok()) << *load_status;
    store_ = storage::NewMemoryStateStore(storage::StoreOptions());
    StartServer(StreamsServiceOptions());
  }

  // (Re)starts the server with `options`, over `store` (default: store_).
  void StartServer(const StreamsServiceOptions& options, storage::StateStore* store = nullptr) {
    server_.reset();
    server_ = std::make_unique<TestServer>(*shared_model, store != nullptr ? store : store_.get(),
                                           &open_, options);
    ASSERT_TRUE(server_->Started());
  }

  const engine::Model& TestModel() const { return *shared_model; }

  // A client context for `tenant` ("" sends no tenant header).
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& tenant) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!tenant.empty()) context->AddMetadata(kTenantHeader, tenant);
    return context;
  }

  grpc::Status Create(const std::string& tenant, const std::string& id,
                      pb::StreamInfo* stream = nullptr, const std::string& model_name = "",
                      const std::string& request_tenant = "") {
    pb::CreateStreamRequest request;
    request.set_stream_id(id);
    request.set_model(model_name);
    request.set_tenant(request_tenant);
    pb::CreateStreamResponse response;
    grpc::Status status = server_->streams->CreateStream(Context(tenant).get(), request, &response);
    if (stream != nullptr) *stream = response.stream();
    return status;
  }

  grpc::Status Get(const std::string& tenant, const std::string& id,
                   pb::GetStreamResponse* response = nullptr) {
    pb::GetStreamRequest request;
    request.set_stream_id(id);
    pb::GetStreamResponse ignored;
    return server_->streams->GetStream(Context(tenant).get(), request,
                                       response != nullptr ? response : &ignored);
  }

  grpc::Status List(const std::string& tenant, uint32_t page_size, const std::string& page_token,
                    pb::ListStreamsResponse* response, const std::string& request_tenant = "") {
    pb::ListStreamsRequest request;
    request.set_tenant(request_tenant);
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    return server_->streams->ListStreams(Context(tenant).get(), request, response);
  }

  grpc::Status Fork(const std::string& tenant, const std::string& source, uint64_t version,
                    const std::string& id, pb::StreamInfo* stream = nullptr) {
    pb::ForkStreamRequest request;
    request.set_source_stream_id(source);
    request.set_version(version);
    request.set_stream_id(id);
    pb::ForkStreamResponse response;
    grpc::Status status = server_->streams->ForkStream(Context(tenant).get(), request, &response);
    if (stream != nullptr) *stream = response.stream();
    return status;
  }

  grpc::Status Delete(const std::string& tenant, const std::string& id) {
    pb::DeleteStreamRequest request;
    request.set_stream_id(id);
    pb::DeleteStreamResponse response;
    return server_->streams->DeleteStream(Context(tenant).get(), request, &response);
  }

  grpc::Status Export(const std::string& tenant, const std::string& id, uint64_t version,
                      Exported* exported) {
    pb::ExportStreamRequest request;
    request.set_stream_id(id);
    request.set_version(version);
    auto context = Context(tenant);
    std::unique_ptr<grpc::ClientReader<pb::ExportStreamResponse>> reader =
        server_->streams->ExportStream(context.get(), request);
    pb::ExportStreamResponse message;
    while (reader->Read(&message)) {
      if (message.part_case() == pb::ExportStreamResponse::kHeader) {
        ++exported->headers;
        exported->header = message.header();
      } else {
        exported->chunk_sizes.push_back(message.chunk().size());
        exported->bytes += message.chunk();
      }
    }
    return reader->Finish();
  }

  // Sends `messages` as one ImportStream call, as far as the server reads.
  grpc::Status ImportMessages(const std::string& tenant,
                              const std::vector<pb::ImportStreamRequest>& messages,
                              pb::ImportStreamResponse* response = nullptr) {
    auto context = Context(tenant);
    pb::ImportStreamResponse ignored;
    std::unique_ptr<grpc::ClientWriter<pb::ImportStreamRequest>> writer =
        server_->streams->ImportStream(context.get(), response != nullptr ? response : &ignored);
    for (const pb::ImportStreamRequest& message : messages) {
      if (!writer->Write(message)) break;  // the server has finished the call
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // An import of `bytes` (declared as `declared_size`, -1: their size) in
  // chunks of `chunk_size`.
  grpc::Status Import(const std::string& tenant, const std::string& id, const std::string& bytes,
                      pb::ImportStreamResponse* response = nullptr,
                      const std::string& checkpoint_id = "", size_t chunk_size = kMiB,
                      int64_t declared_size = -1, const std::string& header_tenant = "") {
    std::vector<pb::ImportStreamRequest> messages(1);
    pb::ImportHeader* header = messages[0].mutable_header();
    header->set_stream_id(id);
    header->set_tenant(header_tenant);
    header->set_size_bytes(declared_size < 0 ? bytes.size() : static_cast<uint64_t>(declared_size));
    header->set_checkpoint_id(checkpoint_id);
    for (size_t offset = 0; offset < bytes.size(); offset += chunk_size) {
      messages.emplace_back().set_chunk(bytes.substr(offset, chunk_size));
    }
    return ImportMessages(tenant, messages, response);
  }

  // An encoded snapshot of a random state shaped for `config`.
  static std::string Snapshot(const std::string& fingerprint, const engine::ModelConfig& config,
                              uint64_t token_count, storage::StateCodec codec, uint32_t seed) {
    storage::StreamSnapshot snapshot;
    snapshot.model_fingerprint = fingerprint;
    snapshot.config = config;
    snapshot.token_count = token_count;
    snapshot.state = engine::RecurrentState(config);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    for (float& x : snapshot.state.floats()) x = normal(rng);
    snapshot.sampler_state = absl::StrCat("sampler-", seed);
    snapshot.pending_input = {1, 2, 3};
    absl::StatusOr<std::string> bytes = storage::EncodeSnapshot(snapshot, codec);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::string();
  }

  // A snapshot for the served model.
  std::string ModelSnapshot(uint64_t token_count,
                            storage::StateCodec codec = storage::StateCodec::kRaw,
                            uint32_t seed = 1) const {
    return Snapshot(TestModel().fingerprint(), TestModel().config(), token_count, codec, seed);
  }

  // Creates `id` for `tenant` in the store directly, with `bytes` as
  // version 1.
  void Seed(const std::string& id, const std::string& tenant, const std::string& bytes,
            uint64_t token_count) {
    storage::CreateStreamRequest request;
    request.id = id;
    request.tenant = tenant;
    request.model_fingerprint = TestModel().fingerprint();
    ASSERT_TRUE(store_->CreateStreamWithCheckpoint(request, bytes, token_count).ok());
  }

  // Commits `bytes` as `id`'s next version through the store.
  void CommitVersion(const std::string& id, const std::string& bytes, uint64_t token_count) {
    absl::StatusOr<storage::StreamInfo> info = store_->GetStream(id);
    ASSERT_TRUE(info.ok()) << info.status();
    absl::StatusOr<storage::Lease> lease = store_->AcquireLease(id, "test", absl::Seconds(30));
    ASSERT_TRUE(lease.ok()) << lease.status();
    storage::CommitRequest commit;
    commit.stream_id = id;
    commit.expected_version = info->version;
    commit.lease_epoch = lease->epoch;
    commit.checkpoint = bytes;
    commit.token_count = token_count;
    ASSERT_TRUE(store_->Commit(commit).ok());
    ASSERT_TRUE(store_->ReleaseLease(id, lease->epoch).ok());
  }

  std::unique_ptr<storage::StateStore> store_;
  OpenStreams open_;
  std::unique_ptr<TestServer> server_;
};

// --- Create, Get, List, Fork, Delete ------------------------------------------

TEST_F(AdminServiceTest, CreateGetDelete) {
  pb::StreamInfo created;
  ASSERT_TRUE(Create("acme", "a1", &created).ok());
  EXPECT_EQ(created.id(), "a1");
  EXPECT_EQ(created.tenant(), "acme");
  EXPECT_EQ(created.model_fingerprint(), TestModel().fingerprint());
  EXPECT_EQ(created.version(), 0u);
  EXPECT_EQ(created.token_count(), 0u);
  EXPECT_EQ(created.parent_id(), "");
  EXPECT_GT(created.create_time().seconds(), 1600000000);
  EXPECT_EQ(created.create_time().nanos() % 1000, 0);  // microseconds

  pb::GetStreamResponse got;
  ASSERT_TRUE(Get("acme", "a1", &got).ok());
  EXPECT_EQ(got.stream().SerializeAsString(), created.SerializeAsString());
  EXPECT_EQ(got.versions_size(), 0);

  EXPECT_EQ(Create("acme", "a1").error_code(), StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(Delete("acme", "a1").ok());
  grpc::Status gone = Get("acme", "a1");
  EXPECT_EQ(gone.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(gone.error_message(), "stream 'a1' not found");
  EXPECT_EQ(Delete("acme", "a1").error_code(), StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, CreateAssignsAnIdWhenNoneIsGiven) {
  pb::StreamInfo first, second;
  ASSERT_TRUE(Create("acme", "", &first).ok());
  ASSERT_TRUE(Create("acme", "", &second).ok());
  const std::regex shape("s-[0-9a-f]{16}");
  EXPECT_TRUE(std::regex_match(first.id(), shape)) << first.id();
  EXPECT_TRUE(std::regex_match(second.id(), shape)) << second.id();
  EXPECT_NE(first.id(), second.id());
  EXPECT_TRUE(Get("acme", first.id()).ok());
}

TEST_F(AdminServiceTest, CreateChecksModelAndId) {
  EXPECT_TRUE(Create("acme", "named", nullptr, kModelName).ok());
  grpc::Status unknown = Create("acme", "x", nullptr, "rwkv7-7b");
  EXPECT_EQ(unknown.error_code(), StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.error_message().find("unknown model 'rwkv7-7b'"), std::string::npos)
      << unknown.error_message();
  EXPECT_EQ(Create("acme", "bad id").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create("acme", std::string(129, 'a')).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Create("acme", std::string(128, 'a')).ok());
  EXPECT_EQ(Get("acme", "x").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("acme", "").error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminServiceTest, GetListsRetainedVersionsOldestFirst) {
  const std::string v1 = ModelSnapshot(10, storage::StateCodec::kInt8, 1);
  const std::string v2 = ModelSnapshot(20, storage::StateCodec::kInt8, 2);
  Seed("s", "acme", v1, 10);
  CommitVersion("s", v2, 20);
  pb::GetStreamResponse got;
  ASSERT_TRUE(Get("acme", "s", &got).ok());
  EXPECT_EQ(got.stream().version(), 2u);
  EXPECT_EQ(got.stream().token_count(), 20u);
  ASSERT_EQ(got.versions_size(), 2);
  EXPECT_EQ(got.versions(0).version(), 1u);
  EXPECT_EQ(got.versions(0).checkpoint_id(), storage::wire::CheckpointIdOf(v1));
  EXPECT_EQ(got.versions(0).size_bytes(), v1.size());
  EXPECT_EQ(got.versions(0).token_count(), 10u);
  EXPECT_EQ(got.versions(1).version(), 2u);
  EXPECT_EQ(got.versions(1).checkpoint_id(), storage::wire::CheckpointIdOf(v2));
  EXPECT_EQ(got.versions(1).token_count(), 20u);
}

TEST_F(AdminServiceTest, ListPaginatesByIdPerTenant) {
  for (const char* id : {"a3", "a0", "a4", "a2", "a1"}) ASSERT_TRUE(Create("acme", id).ok());
  for (const char* id : {"b0", "b1"}) ASSERT_TRUE(Create("beta", id).ok());

  std::vector<std::vector<std::string>> pages;
  std::string token;
  do {
    pb::ListStreamsResponse page;
    ASSERT_TRUE(List("acme", 2, token, &page).ok());
    pages.emplace_back();
    for (const pb::StreamInfo& info : page.streams()) {
      EXPECT_EQ(info.tenant(), "acme");
      pages.back().push_back(info.id());
    }
    token = page.next_page_token();
  } while (!token.empty() && pages.size() < 10);
  const std::vector<std::vector<std::string>> expected = {{"a0", "a1"}, {"a2", "a3"}, {"a4"}};
  EXPECT_EQ(pages, expected);

  pb::ListStreamsResponse all;
  ASSERT_TRUE(List("acme", 0, "", &all).ok());  // 0 = 100
  EXPECT_EQ(all.streams_size(), 5);
  EXPECT_EQ(all.next_page_token(), "");

  pb::ListStreamsResponse first;
  ASSERT_TRUE(List("acme", 1, "", &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  pb::ListStreamsResponse ignored;
  EXPECT_EQ(List("beta", 1, first.next_page_token(), &ignored).error_code(),
            StatusCode::INVALID_ARGUMENT);  // a token is valid for its tenant only
  EXPECT_EQ(List("acme", 1, "not a token", &ignored).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(List("acme", 1000, "", &ignored).ok());
  EXPECT_EQ(List("acme", 1001, "", &ignored).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminServiceTest, ForkSharesTheSourceCheckpoint) {
  const std::string v1 = ModelSnapshot(10, storage::StateCodec::kLossless, 1);
  const std::string v2 = ModelSnapshot(25, storage::StateCodec::kLossless, 2);
  Seed("src", "acme", v1, 10);
  CommitVersion("src", v2, 25);

  pb::StreamInfo head;
  ASSERT_TRUE(Fork("acme", "src", 0, "at-head", &head).ok());
  EXPECT_EQ(head.id(), "at-head");
  EXPECT_EQ(head.tenant(), "acme");
  EXPECT_EQ(head.version(), 1u);
  EXPECT_EQ(head.token_count(), 25u);
  EXPECT_EQ(head.parent_id(), "src");
  EXPECT_EQ(head.parent_version(), 2u);
  EXPECT_EQ(head.model_fingerprint(), TestModel().fingerprint());
  pb::GetStreamResponse forked;
  ASSERT_TRUE(Get("acme", "at-head", &forked).ok());
  ASSERT_EQ(forked.versions_size(), 1);
  EXPECT_EQ(forked.versions(0).checkpoint_id(), storage::wire::CheckpointIdOf(v2));

  pb::StreamInfo older;
  ASSERT_TRUE(Fork("acme", "src", 1, "at-1", &older).ok());
  EXPECT_EQ(older.parent_version(), 1u);
  EXPECT_EQ(older.token_count(), 10u);

  pb::StreamInfo assigned;
  ASSERT_TRUE(Fork("acme", "src", 0, "", &assigned).ok());
  EXPECT_TRUE(std::regex_match(assigned.id(), std::regex("s-[0-9a-f]{16}"))) << assigned.id();

  EXPECT_EQ(Fork("acme", "src", 7, "f7").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Fork("acme", "src", 0, "at-1").error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Fork("acme", "src", 0, "bad id").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Fork("acme", "", 0, "f").error_code(), StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Create("acme", "empty").ok());
  EXPECT_EQ(Fork("acme", "empty", 0, "f").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("acme", "f").error_code(), StatusCode::NOT_FOUND);

  // Deleting the source leaves its forks.
  ASSERT_TRUE(Delete("acme", "src").ok());
  EXPECT_TRUE(Get("acme", "at-head").ok());
}

TEST_F(AdminServiceTest, DeleteRefusesAStreamOpenInASession) {
  ASSERT_TRUE(Create("acme", "busy").ok());
  open_.Open("busy");
  grpc::Status refused = Delete("acme", "busy");
  EXPECT_EQ(refused.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(refused.error_message(), "stream 'busy' is open in a session; close it first");
  // Another tenant learns nothing, not even that it is open.
  EXPECT_EQ(Delete("beta", "busy").error_code(), StatusCode::NOT_FOUND);
  EXPECT_TRUE(Get("acme", "busy").ok());
  open_.Close("busy");
  EXPECT_TRUE(Delete("acme", "busy").ok());
}

// --- Tenants -------------------------------------------------------------------

TEST_F(AdminServiceTest, AnotherTenantsStreamIsNotFoundForEveryCall) {
  Seed("secret", "acme", ModelSnapshot(5), 5);
  // Each call's answer for acme's stream must equal its answer for an
  // unknown id, up to the id itself.
  const auto expect_hidden = [](const grpc::Status& foreign, const grpc::Status& unknown) {
    EXPECT_EQ(foreign.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(unknown.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(foreign.error_message(), "stream 'secret' not found");
    EXPECT_EQ(unknown.error_message(), "stream 'nosuch' not found");
  };
  expect_hidden(Get("beta", "secret"), Get("beta", "nosuch"));
  expect_hidden(Fork("beta", "secret", 0, "stolen"), Fork("beta", "nosuch", 0, "stolen"));
  expect_hidden(Delete("beta", "secret"), Delete("beta", "nosuch"));
  Exported foreign_export, unknown_export;
  expect_hidden(Export("beta", "secret", 0, &foreign_export),
                Export("beta", "nosuch", 0, &unknown_export));
  EXPECT_EQ(foreign_export.headers, 0);
  EXPECT_TRUE(foreign_export.bytes.empty());

  pb::ListStreamsResponse listed;
  ASSERT_TRUE(List("beta", 0, "", &listed).ok());
  EXPECT_EQ(listed.streams_size(), 0);

  // Nothing happened to acme's stream, and no fork was made.
  pb::GetStreamResponse got;
  ASSERT_TRUE(Get("acme", "secret", &got).ok());
  EXPECT_EQ(got.stream().version(), 1u);
  EXPECT_EQ(Get("acme", "stolen").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("beta", "stolen").error_code(), StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, NamingAnotherTenantIsPermissionDenied) {
  EXPECT_EQ(Create("beta", "x", nullptr, "", "acme").error_code(), StatusCode::PERMISSION_DENIED);
  pb::ListStreamsResponse listed;
  EXPECT_EQ(List("beta", 0, "", &listed, "acme").error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Import("beta", "x", ModelSnapshot(3), nullptr, "", kMiB, -1, "acme").error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get("acme", "x").error_code(), StatusCode::NOT_FOUND);

  // Naming one's own tenant is the same as naming none.
  pb::StreamInfo own;
  ASSERT_TRUE(Create("beta", "y", &own, "", "beta").ok());
  EXPECT_EQ(own.tenant(), "beta");
  EXPECT_TRUE(List("beta", 0, "", &listed, "beta").ok());
  EXPECT_EQ(listed.streams_size(), 1);
}

TEST_F(AdminServiceTest, ACallerWithoutATenantIsUnauthenticated) {
  Seed("s", "acme", ModelSnapshot(1), 1);
  EXPECT_EQ(Create("", "x").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Get("", "s").error_code(), StatusCode::UNAUTHENTICATED);
  pb::ListStreamsResponse listed;
  EXPECT_EQ(List("", 0, "", &listed).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Fork("", "s", 0, "f").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Delete("", "s").error_code(), StatusCode::UNAUTHENTICATED);
  Exported exported;
  EXPECT_EQ(Export("", "s", 0, &exported).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Import("", "x", ModelSnapshot(1)).error_code(), StatusCode::UNAUTHENTICATED);
  pb::ListModelsResponse models;
  EXPECT_EQ(
      server_->models->ListModels(Context("").get(), pb::ListModelsRequest(), &models).error_code(),
      StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Get("acme", "s").ok());
}

TEST_F(AdminServiceTest, RequestModeActsForTheNamedTenant) {
  StreamsServiceOptions options;
  options.tenant_mode = TenantMode::kFromRequest;
  StartServer(options);
  pb::StreamInfo created;
  ASSERT_TRUE(Create("default", "x", &created, "", "other").ok());
  EXPECT_EQ(created.tenant(), "other");
  // Without authentication every caller is trusted: calls without a tenant
  // field reach any tenant's stream.
  EXPECT_TRUE(Get("default", "x").ok());
  pb::ListStreamsResponse listed;
  ASSERT_TRUE(List("default", 0, "", &listed, "other").ok());
  ASSERT_EQ(listed.streams_size(), 1);
  EXPECT_EQ(listed.streams(0).id(), "x");
  EXPECT_EQ(Create("default", "y", nullptr, "", "bad tenant").error_code(),
            StatusCode::INVALID_ARGUMENT);
}

// A stream deleted and its id re-created for another tenant between a
// call's ownership check and its store call: the other tenant's stream
// stays hidden, and nothing is left behind.
TEST_F(AdminServiceTest, AStreamReplacedMidCallStaysHidden) {
  HookedStore hooked(store_.get());
  StartServer(StreamsServiceOptions(), &hooked);
  const std::string theirs = ModelSnapshot(77, storage::StateCodec::kInt8, 9);
  const auto replace_src = [&] {
    ASSERT_TRUE(store_->DeleteStream("src").ok());
    Seed("src", "beta", theirs, 77);
  };

  Seed("src", "acme", ModelSnapshot(1, storage::StateCodec::kInt8), 1);
  hooked.Arm("ListVersions", replace_src);
  grpc::Status status = Get("acme", "src");
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "stream 'src' not found");

  ASSERT_TRUE(store_->DeleteStream("src").ok());
  Seed("src", "acme", ModelSnapshot(1, storage::StateCodec::kInt8), 1);
  hooked.Arm("GetCheckpoint", replace_src);
  Exported exported;
  status = Export("acme", "src", 0, &exported);
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "stream 'src' not found");
  EXPECT_EQ(exported.headers, 0);
  EXPECT_TRUE(exported.bytes.empty());

  ASSERT_TRUE(store_->DeleteStream("src").ok());
  Seed("src", "acme", ModelSnapshot(1, storage::StateCodec::kInt8), 1);
  hooked.Arm("Fork", replace_src);
  status = Fork("acme", "src", 0, "copy");
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "stream 'src' not found");
  EXPECT_EQ(store_->GetStream("copy").status().code(), absl::StatusCode::kNotFound);

  // Deleted (not replaced) before the fork: the usual NOT_FOUND as well.
  hooked.Arm("Fork", [&] { ASSERT_TRUE(store_->DeleteStream("src").ok()); });
  ASSERT_TRUE(store_->DeleteStream("src").ok());
  Seed("src", "acme", ModelSnapshot(1, storage::StateCodec::kInt8), 1);
  status = Fork("acme", "src", 0, "copy");
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "stream 'src' not found");
}

// --- Export and import ---------------------------------------------------------

TEST_F(AdminServiceTest, ExportThenImportGivesIdenticalBytes) {
  const std::string original = ModelSnapshot(1234, storage::StateCodec::kRaw, 7);
  ASSERT_GT(original.size(), kMiB);  // at least two chunks
  Seed("src", "acme", original, 1234);

  Exported exported;
  ASSERT_TRUE(Export("acme", "src", 0, &exported).ok());
  EXPECT_EQ(exported.headers, 1);
  EXPECT_EQ(exported.bytes, original);
  ASSERT_EQ(exported.chunk_sizes.size(), 2u);
  EXPECT_EQ(exported.chunk_sizes[0], kMiB);
  EXPECT_EQ(exported.chunk_sizes[1], original.size() - kMiB);
  const pb::ExportHeader& header = exported.header;
  EXPECT_EQ(header.stream().id(), "src");
  EXPECT_EQ(header.stream().tenant(), "acme");
  EXPECT_EQ(header.version().version(), 1u);
  EXPECT_EQ(header.version().token_count(), 1234u);
  EXPECT_EQ(header.version().checkpoint_id(), storage::wire::CheckpointIdOf(original));
  EXPECT_EQ(header.version().size_bytes(), original.size());
  EXPECT_EQ(header.size_bytes(), original.size());
  EXPECT_EQ(header.codec(), pb::STATE_CODEC_RAW);

  pb::ImportStreamResponse imported;
  ASSERT_TRUE(
      Import("acme", "dst", exported.bytes, &imported, header.version().checkpoint_id()).ok());
  EXPECT_EQ(imported.stream().id(), "dst");
  EXPECT_EQ(imported.stream().tenant(), "acme");
  EXPECT_EQ(imported.stream().version(), 1u);
  EXPECT_EQ(imported.stream().token_count(), 1234u);
  EXPECT_EQ(imported.stream().model_fingerprint(), TestModel().fingerprint());
  EXPECT_EQ(imported.stream().parent_id(), "");

  Exported again;
  ASSERT_TRUE(Export("acme", "dst", 1, &again).ok());
  EXPECT_EQ(again.bytes, original);
  EXPECT_EQ(again.header.version().checkpoint_id(), header.version().checkpoint_id());

  // Small, uneven chunks and a server-assigned id work as well.
  pb::ImportStreamResponse assigned;
  ASSERT_TRUE(Import("acme", "", original, &assigned, "", 100003).ok());
  EXPECT_TRUE(std::regex_match(assigned.stream().id(), std::regex("s-[0-9a-f]{16}")));
  Exported third;
  ASSERT_TRUE(Export("acme", assigned.stream().id(), 0, &third).ok());
  EXPECT_EQ(third.bytes, original);
}

TEST_F(AdminServiceTest, ExportNamesEachCodecByItsWireNumber) {
  const std::vector<std::pair<storage::StateCodec, pb::StateCodec>> codecs = {
      {storage::StateCodec::kRaw, pb::STATE_CODEC_RAW},
      {storage::StateCodec::kLossless, pb::STATE_CODEC_LOSSLESS},
      {storage::StateCodec::kBF16, pb::STATE_CODEC_BF16},
      {storage::StateCodec::kInt8, pb::STATE_CODEC_INT8}};
  for (const auto& [codec, wire] : codecs) {
    const std::string id = absl::StrCat("c", static_cast<int>(codec));
    const std::string bytes = ModelSnapshot(3, codec);
    Seed(id, "acme", bytes, 3);
    Exported exported;
    ASSERT_TRUE(Export("acme", id, 0, &exported).ok());
    EXPECT_EQ(exported.header.codec(), wire) << storage::StateCodecName(codec);
    EXPECT_EQ(exported.bytes, bytes);
  }
}

TEST_F(AdminServiceTest, ExportErrors) {
  ASSERT_TRUE(Create("acme", "empty").ok());
  Exported exported;
  EXPECT_EQ(Export("acme", "empty", 0, &exported).error_code(), StatusCode::NOT_FOUND);
  Seed("s", "acme", ModelSnapshot(1), 1);
  EXPECT_EQ(Export("acme", "s", 2, &exported).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Export("acme", "bad id", 0, &exported).error_code(), StatusCode::INVALID_ARGUMENT);
  // Bytes committed by something else than a Gander writer.
  Seed("junk", "acme", "these bytes are not a state", 1);
  EXPECT_EQ(Export("acme", "junk", 0, &exported).error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(exported.headers, 0);
}

TEST_F(AdminServiceTest, ImportRejectsCorruptBytes) {
  const std::string original = ModelSnapshot(9, storage::StateCodec::kLossless);
  std::string corrupt = original;
  corrupt[corrupt.size() / 2] ^= 0x10;
  grpc::Status status = Import("acme", "c", corrupt);
  EXPECT_EQ(status.error_code(), StatusCode::DATA_LOSS) << status.error_message();
  status = Import("acme", "c", corrupt, nullptr, storage::wire::CheckpointIdOf(original));
  EXPECT_EQ(status.error_code(), StatusCode::DATA_LOSS) << status.error_message();
  EXPECT_NE(status.error_message().find("checkpoint id"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Get("acme", "c").error_code(), StatusCode::NOT_FOUND);
  // The intact bytes with a wrong (well-formed) checkpoint id.
  EXPECT_EQ(
      Import("acme", "c", original, nullptr, storage::wire::CheckpointIdOf("other")).error_code(),
      StatusCode::DATA_LOSS);
  EXPECT_EQ(Get("acme", "c").error_code(), StatusCode::NOT_FOUND);
  EXPECT_TRUE(Import("acme", "c", original, nullptr, storage::wire::CheckpointIdOf(original)).ok());
}

TEST_F(AdminServiceTest, ImportRejectsTruncatedBytes) {
  const std::string original = ModelSnapshot(9);
  const std::string truncated = original.substr(0, original.size() - 100);
  // Declared as what was sent: the snapshot itself is truncated.
  grpc::Status status = Import("acme", "t", truncated);
  EXPECT_EQ(status.error_code(), StatusCode::DATA_LOSS) << status.error_message();
  // Declared in full, but the client stopped early.
  status = Import("acme", "t", truncated, nullptr, "", kMiB, original.size());
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(Get("acme", "t").error_code(), StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, ImportRejectsAnotherModelsState) {
  const std::string other_fingerprint = Snapshot(
      "0123456789abcdef0123456789abcdef", TestModel().config(), 4, storage::StateCodec::kRaw, 3);
  grpc::Status status = Import("acme", "m", other_fingerprint);
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("belongs to model '0123456789abcdef0123456789abcdef'"),
            std::string::npos)
      << status.error_message();

  engine::ModelConfig other_shape = TestModel().config();
  other_shape.layers = 2;
  status =
      Import("acme", "m",
             Snapshot(TestModel().fingerprint(), other_shape, 4, storage::StateCodec::kRaw, 3));
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_EQ(Get("acme", "m").error_code(), StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, ImportRejectsMalformedUploads) {
  const std::string bytes = ModelSnapshot(2, storage::StateCodec::kInt8);  // under 1 MiB
  const auto header = [&](uint64_t size) {
    pb::ImportStreamRequest message;
    message.mutable_header()->set_stream_id("u");
    message.mutable_header()->set_size_bytes(size);
    return message;
  };
  const auto chunk = [](const std::string& data) {
    pb::ImportStreamRequest message;
    message.set_chunk(data);
    return message;
  };
  const auto code = [&](const std::vector<pb::ImportStreamRequest>& messages) {
    grpc::Status status = ImportMessages("acme", messages);
    EXPECT_FALSE(status.ok());
    return status.error_code();
  };
  const std::string head = bytes.substr(0, 100);
  const std::string tail = bytes.substr(100);

  EXPECT_EQ(code({header(0)}), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({header(kMaxStateBytes + 1), chunk(head)}), StatusCode::INVALID_ARGUMENT);
  // Chunks beyond the declared size.
  EXPECT_EQ(code({header(bytes.size() - 1), chunk(head), chunk(tail)}),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({chunk(head)}), StatusCode::INVALID_ARGUMENT);  // no header first
  EXPECT_EQ(code({}), StatusCode::INVALID_ARGUMENT);             // nothing at all
  EXPECT_EQ(code({header(bytes.size()), chunk(head), header(bytes.size()), chunk(tail)}),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({header(bytes.size()), chunk(head), chunk(""), chunk(tail)}),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code({header(bytes.size()), chunk(head), pb::ImportStreamRequest(), chunk(tail)}),
            StatusCode::INVALID_ARGUMENT);
  const std::string raw = ModelSnapshot(2, storage::StateCodec::kRaw);  // over 1 MiB
  grpc::Status oversize =
      ImportMessages("acme", {header(raw.size()), chunk(raw.substr(0, kMiB + 1))});
  EXPECT_EQ(oversize.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(oversize.error_message().find("over 1 MiB"), std::string::npos)
      << oversize.error_message();
  EXPECT_EQ(Import("acme", "u", bytes, nullptr, "ABC").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Import("acme", "u", "not a Gander state at all").error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Import("acme", "bad id", bytes).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("acme", "u").error_code(), StatusCode::NOT_FOUND);

  // The well-formed upload goes through; a second one to the same id is
  // ALREADY_EXISTS.
  EXPECT_TRUE(ImportMessages("acme", {header(bytes.size()), chunk(head), chunk(tail)}).ok());
  EXPECT_EQ(code({header(bytes.size()), chunk(bytes)}), StatusCode::ALREADY_EXISTS);
}

TEST_F(AdminServiceTest, ImportHonoursTheSizeLimitOption) {
  const std::string bytes = ModelSnapshot(2, storage::StateCodec::kInt8);
  StreamsServiceOptions options;
  options.max_import_bytes = bytes.size() - 1;
  StartServer(options);
  EXPECT_EQ(Import("acme", "big", bytes).error_code(), StatusCode::INVALID_ARGUMENT);
  options.max_import_bytes = bytes.size();
  StartServer(options);
  EXPECT_TRUE(Import("acme", "big", bytes).ok());
}

TEST_F(AdminServiceTest, CancelledTransfersFinishAndWriteNothing) {
  const std::string bytes = ModelSnapshot(6);  // two chunks
  Seed("src", "acme", bytes, 6);
  {
    // The client reads the header, then gives up.
    auto context = Context("acme");
    pb::ExportStreamRequest request;
    request.set_stream_id("src");
    auto reader = server_->streams->ExportStream(context.get(), request);
    pb::ExportStreamResponse message;
    ASSERT_TRUE(reader->Read(&message));
    EXPECT_TRUE(message.has_header());
    context->TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
  }
  {
    // The client sends the header and part of the bytes, then gives up.
    auto context = Context("acme");
    pb::ImportStreamResponse response;
    auto writer = server_->streams->ImportStream(context.get(), &response);
    pb::ImportStreamRequest message;
    message.mutable_header()->set_stream_id("half");
    message.mutable_header()->set_size_bytes(bytes.size());
    ASSERT_TRUE(writer->Write(message));
    message.set_chunk(bytes.substr(0, kMiB));
    ASSERT_TRUE(writer->Write(message));
    context->TryCancel();
    EXPECT_EQ(writer->Finish().error_code(), StatusCode::CANCELLED);
  }
  // Shutting the server down waits for every call to have finished on the
  // server's side too.
  server_.reset();
  EXPECT_EQ(store_->GetStream("half").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<storage::StreamInfo> source = store_->GetStream("src");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(source->version, 1u);
}

// --- Models --------------------------------------------------------------------

TEST_F(AdminServiceTest, ListModelsDescribesTheLoadedModel) {
  pb::ListModelsResponse response;
  ASSERT_TRUE(
      server_->models->ListModels(Context("acme").get(), pb::ListModelsRequest(), &response).ok());
  ASSERT_EQ(response.models_size(), 1);
  const pb::ModelInfo& info = response.models(0);
  EXPECT_EQ(info.name(), kModelName);
  EXPECT_EQ(info.fingerprint(), TestModel().fingerprint());
  EXPECT_EQ(info.fingerprint().size(), 32u);
  EXPECT_EQ(info.layers(), 64u);
  EXPECT_EQ(info.embedding_size(), 64u);
  EXPECT_EQ(info.head_size(), 64u);
  EXPECT_EQ(info.vocab_size(), 64u);
  EXPECT_EQ(info.weight_dtype(), "bf16");
  EXPECT_EQ(info.state_bytes(), 64u * (2 * 64 + 1 * 64 * 64) * 4);
  EXPECT_EQ(info.vocabulary(), "rwkv_vocab_v20230424");
}

// --- Helpers -------------------------------------------------------------------

TEST(AdminHelpersTest, CodecWireNumbersAreOneAboveTheDiskIds) {
  for (int id = 0; id <= 3; ++id) {
    const auto codec = static_cast<storage::StateCodec>(id);
    EXPECT_EQ(static_cast<int>(StateCodecToProto(codec)), id + 1);
    absl::StatusOr<storage::StateCodec> back =
        StateCodecFromProto(StateCodecToProto(codec), storage::StateCodec::kRaw);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, codec);
  }
  EXPECT_EQ(StateCodecToProto(static_cast<storage::StateCodec>(9)), pb::STATE_CODEC_UNSPECIFIED);
  absl::StatusOr<storage::StateCodec> unspecified =
      StateCodecFromProto(pb::STATE_CODEC_UNSPECIFIED, storage::StateCodec::kLossless);
  ASSERT_TRUE(unspecified.ok());
  EXPECT_EQ(*unspecified, storage::StateCodec::kLossless);
  EXPECT_EQ(StateCodecFromProto(static_cast<pb::StateCodec>(5), storage::StateCodec::kRaw)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AdminHelpersTest, IdsAndNames) {
  EXPECT_TRUE(ValidateStreamId("stream_id", "Az09._:-").ok());
  EXPECT_EQ(ValidateStreamId("stream_id", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateStreamId("stream_id", "a/b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VocabularyName("/m/rwkv_vocab_v20230424.txt"), "rwkv_vocab_v20230424");
  EXPECT_EQ(VocabularyName("rwkv_vocab_v20230424"), "rwkv_vocab_v20230424");
  EXPECT_EQ(VocabularyName("vocab.json"), "vocab");
  EXPECT_EQ(VocabularyName(""), "");
}

}  // namespace
}  // namespace gander::service
