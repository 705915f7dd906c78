#include "cli/client/testing/fake_gander_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "gander/v1/models.grpc.pb.h"
#include "gander/v1/sessions.grpc.pb.h"
#include "gander/v1/streams.grpc.pb.h"

namespace gander::cli::client::testing {

struct FakeGanderServer::State {
  struct Stream {
    v1::StreamInfo info;
    std::vector<v1::VersionInfo> versions;
    std::string bytes;  // what every version holds
  };

  absl::Mutex mu;
  FakeGanderOptions options ABSL_GUARDED_BY(mu);
  std::map<std::string, Stream> streams ABSL_GUARDED_BY(mu);
  std::vector<FakeCall> calls ABSL_GUARDED_BY(mu);
  std::vector<v1::StreamRequest> session_requests ABSL_GUARDED_BY(mu);
  std::vector<size_t> import_chunks ABSL_GUARDED_BY(mu);
  std::vector<std::string> page_tokens ABSL_GUARDED_BY(mu);
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;

  FakeGanderOptions Options() {
    absl::MutexLock lock(&mu);
    return options;
  }

  void Record(const std::string& method, const grpc::ServerContextBase& context) {
    FakeCall call;
    call.method = method;
    const auto& metadata = context.client_metadata();
    if (auto it = metadata.find("authorization"); it != metadata.end()) {
      call.authorization = std::string(it->second.data(), it->second.size());
    }
    if (auto it = metadata.find("x-gander-stream-id"); it != metadata.end()) {
      call.stream_id_header = std::string(it->second.data(), it->second.size());
    }
    absl::MutexLock lock(&mu);
    calls.push_back(std::move(call));
  }

  std::string NewIdLocked(const char* prefix) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return absl::StrCat(prefix, next_id++);
  }
};

namespace {

using State = FakeGanderServer::State;

std::string HashHex(const std::string& bytes) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(bytes.data(), bytes.size()));
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : canonical.digest) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 15]);
  }
  return hex;
}

v1::VersionInfo MakeVersion(uint64_t version, uint64_t tokens, const std::string& bytes) {
  v1::VersionInfo info;
  info.set_version(version);
  info.set_checkpoint_id(HashHex(bytes));
  info.set_token_count(tokens);
  info.set_size_bytes(bytes.size());
  info.mutable_create_time()->set_seconds(1700000000 + static_cast<int64_t>(version));
  return info;
}

// Sessions.Stream, driven by its reactions: requests are queued as they are
// read (a cancel acts at once), and each completed write lets the next
// event go out, so a generation runs concurrently with reading.
class SessionReactor : public grpc::ServerBidiReactor<v1::StreamRequest, v1::StreamResponse> {
 public:
  explicit SessionReactor(std::shared_ptr<State> state)
      : state_(std::move(state)), options_(state_->Options()) {
    absl::MutexLock lock(&mu_);
    StartRead(&read_);
  }

  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      reads_done_ = true;
    } else {
      {
        absl::MutexLock state_lock(&state_->mu);
        state_->session_requests.push_back(read_);
      }
      if (read_.has_cancel()) {
        if (generating_) cancel_requested_ = true;
      } else {
        pending_.push_back(read_);
      }
      if (!finished_) StartRead(&read_);
    }
    PumpLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      outbox_.clear();
      End(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    }
    PumpLocked();
  }

  void OnDone() override { delete this; }

 private:
  void End(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!end_status_.has_value()) end_status_ = std::move(status);
  }

  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!finished_ && !writing_) {
      if (end_status_.has_value() && outbox_.empty()) {
        finished_ = true;
        Finish(*end_status_);
        return;
      }
      if (!outbox_.empty()) {
        current_ = std::move(outbox_.front());
        outbox_.pop_front();
        writing_ = true;
        StartWrite(&current_);
        return;
      }
      if (generating_) {
        NextGenerationEvent();
      } else if (!pending_.empty()) {
        v1::StreamRequest request = std::move(pending_.front());
        pending_.pop_front();
        Process(request);
      } else if (reads_done_) {
        if (!opened_) {
          End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no open request"));
        } else if (policy_ == v1::CHECKPOINT_POLICY_ON_CLOSE && !close_checkpoint_written_) {
          close_checkpoint_written_ = true;
          Checkpoint();
        } else {
          End(grpc::Status::OK);
        }
      } else {
        return;  // Wait for the next request.
      }
    }
  }

  void Checkpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string bytes = absl::StrCat("fake-state:", stream_id_, ":", token_count_);
    v1::Checkpointed checkpoint;
    {
      absl::MutexLock lock(&state_->mu);
      State::Stream& stream = state_->streams[stream_id_];
      const uint64_t version = stream.info.version() + 1;
      stream.info.set_version(version);
      stream.info.set_token_count(token_count_);
      stream.bytes = bytes;
      stream.versions.push_back(MakeVersion(version, token_count_, bytes));
      checkpoint.set_version(version);
    }
    checkpoint.set_token_count(token_count_);
    checkpoint.set_durable(true);
    checkpoint.set_size_bytes(bytes.size());
    v1::StreamResponse response;
    *response.mutable_checkpointed() = checkpoint;
    outbox_.push_back(std::move(response));
  }

  void Open(const v1::Open& open) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!options_.open_status.ok()) return End(options_.open_status);
    policy_ = open.checkpoint_policy();
    uint64_t version = 0;
    {
      absl::MutexLock lock(&state_->mu);
      switch (open.target_case()) {
        case v1::Open::kCreate: {
          stream_id_ = open.create().stream_id().empty() ? state_->NewIdLocked("stream-")
                                                         : open.create().stream_id();
          if (state_->streams.count(stream_id_)) {
            return End(grpc::Status(grpc::StatusCode::ALREADY_EXISTS, stream_id_));
          }
          State::Stream& stream = state_->streams[stream_id_];
          stream.info.set_id(stream_id_);
          stream.info.set_tenant(open.create().tenant());
          break;
        }
        case v1::Open::kResume: {
          auto it = state_->streams.find(open.resume().stream_id());
          if (it == state_->streams.end()) {
            return End(grpc::Status(grpc::StatusCode::NOT_FOUND, open.resume().stream_id()));
          }
          stream_id_ = it->first;
          version = it->second.info.version();
          token_count_ = it->second.info.token_count();
          break;
        }
        case v1::Open::kFork: {
          auto it = state_->streams.find(open.fork().source_stream_id());
          if (it == state_->streams.end() || it->second.info.version() == 0) {
            return End(grpc::Status(grpc::StatusCode::NOT_FOUND, open.fork().source_stream_id()));
          }
          const State::Stream source = it->second;
          stream_id_ = open.fork().stream_id().empty() ? state_->NewIdLocked("fork-")
                                                       : open.fork().stream_id();
          State::Stream& stream = state_->streams[stream_id_];
          stream.info.set_id(stream_id_);
          stream.info.set_version(1);
          stream.info.set_token_count(source.info.token_count());
          stream.info.set_parent_id(source.info.id());
          stream.info.set_parent_version(open.fork().version() ? open.fork().version()
                                                               : source.info.version());
          stream.bytes = source.bytes;
          stream.versions = {MakeVersion(1, source.info.token_count(), source.bytes)};
          version = 1;
          token_count_ = source.info.token_count();
          break;
        }
        default:
          return End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "open without target"));
      }
    }
    opened_ = true;
    v1::StreamResponse response;
    v1::Opened* opened = response.mutable_opened();
    opened->set_stream_id(stream_id_);
    opened->set_version(version);
    opened->set_token_count(token_count_);
    opened->set_model(options_.model_name);
    opened->set_model_fingerprint("00ff");
    outbox_.push_back(std::move(response));
  }

  void Process(const v1::StreamRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!opened_) {
      if (!request.has_open()) {
        return End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first request not open"));
      }
      return Open(request.open());
    }
    v1::StreamResponse response;
    switch (request.request_case()) {
      case v1::StreamRequest::kAppendInput: {
        const v1::AppendInput& input = request.append_input();
        uint32_t count = 0;
        if (input.has_token_ids()) {
          for (uint32_t id : input.token_ids().ids()) {
            if (id >= options_.vocab_size) {
              return End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                      absl::StrCat("token id ", id, " >= vocab")));
            }
          }
          count = static_cast<uint32_t>(input.token_ids().ids_size());
        } else {
          count = static_cast<uint32_t>(input.text().size());
        }
        pending_tokens_ += count;
        response.mutable_input_appended()->set_token_count(count);
        response.mutable_input_appended()->set_pending_token_count(pending_tokens_);
        outbox_.push_back(std::move(response));
        return;
      }
      case v1::StreamRequest::kGenerate: {
        if (!options_.generate_status.ok()) return End(options_.generate_status);
        if (pending_tokens_ == 0 && token_count_ == 0) {
          return End(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no input"));
        }
        token_count_ += pending_tokens_;
        pending_tokens_ = 0;
        generating_ = true;
        cancel_requested_ = false;
        produced_ = 0;
        const uint32_t max = request.generate().max_tokens();
        remaining_ =
            options_.generate_until_cancel ? 100000 : (max ? max : options_.default_max_tokens);
        return;
      }
      case v1::StreamRequest::kCheckpointNow:
        Checkpoint();
        return;
      default:
        return End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unexpected request"));
    }
  }

  void NextGenerationEvent() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    v1::StreamResponse response;
    if (cancel_requested_ || remaining_ == 0) {
      generating_ = false;
      v1::GenerationFinished* finished = response.mutable_generation_finished();
      finished->set_reason(cancel_requested_ ? v1::FINISH_REASON_CANCELLED
                                             : v1::FINISH_REASON_MAX_TOKENS);
      finished->set_generated_token_count(produced_);
      finished->set_token_count(token_count_);
      finished->set_trailing_text(cancel_requested_ ? "" : ".");
      outbox_.push_back(std::move(response));
      if (produced_ > 0 && (policy_ == v1::CHECKPOINT_POLICY_UNSPECIFIED ||
                            policy_ == v1::CHECKPOINT_POLICY_AFTER_GENERATION ||
                            policy_ == v1::CHECKPOINT_POLICY_EVERY_N_TOKENS)) {
        Checkpoint();
      }
      return;
    }
    v1::GeneratedToken* token = response.mutable_token();
    token->set_token_id(static_cast<uint32_t>(token_count_ % options_.vocab_size));
    token->set_position(token_count_);
    token->set_text(absl::StrCat(token_count_, " "));
    if (options_.invalid_utf8_token && produced_ == 2) token->set_text("\xff");
    ++token_count_;
    ++produced_;
    --remaining_;
    outbox_.push_back(std::move(response));
  }

  const std::shared_ptr<State> state_;
  const FakeGanderOptions options_;
  absl::Mutex mu_;
  v1::StreamRequest read_ ABSL_GUARDED_BY(mu_);
  v1::StreamResponse current_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::StreamResponse> outbox_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::StreamRequest> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_status_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool opened_ ABSL_GUARDED_BY(mu_) = false;
  bool close_checkpoint_written_ ABSL_GUARDED_BY(mu_) = false;
  v1::CheckpointPolicy policy_ ABSL_GUARDED_BY(mu_) = v1::CHECKPOINT_POLICY_UNSPECIFIED;
  std::string stream_id_ ABSL_GUARDED_BY(mu_);
  uint64_t token_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pending_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  bool generating_ ABSL_GUARDED_BY(mu_) = false;
  bool cancel_requested_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t produced_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t remaining_ ABSL_GUARDED_BY(mu_) = 0;
};

class FakeSessions final : public v1::Sessions::CallbackService {
 public:
  explicit FakeSessions(std::shared_ptr<State> state) : state_(std::move(state)) {}

  grpc::ServerBidiReactor<v1::StreamRequest, v1::StreamResponse>* Stream(
      grpc::CallbackServerContext* context) override {
    state_->Record("Sessions.Stream", *context);
    return new SessionReactor(state_);
  }

 private:
  std::shared_ptr<State> state_;
};

class FakeStreams final : public v1::Streams::Service {
 public:
  explicit FakeStreams(std::shared_ptr<State> state) : state_(std::move(state)) {}

  grpc::Status GetStream(grpc::ServerContext* context, const v1::GetStreamRequest* request,
                         v1::GetStreamResponse* response) override {
    state_->Record("Streams.GetStream", *context);
    absl::MutexLock lock(&state_->mu);
    auto it = state_->streams.find(request->stream_id());
    if (it == state_->streams.end()) return NotFound(request->stream_id());
    *response->mutable_stream() = it->second.info;
    for (const v1::VersionInfo& v : it->second.versions) *response->add_versions() = v;
    return grpc::Status::OK;
  }

  grpc::Status ListStreams(grpc::ServerContext* context, const v1::ListStreamsRequest* request,
                           v1::ListStreamsResponse* response) override {
    state_->Record("Streams.ListStreams", *context);
    absl::MutexLock lock(&state_->mu);
    state_->page_tokens.push_back(request->page_token());
    const uint32_t page_size =
        request->page_size() ? request->page_size() : state_->options.default_page_size;
    auto it = request->page_token().empty() ? state_->streams.begin()
                                            : state_->streams.upper_bound(request->page_token());
    for (; it != state_->streams.end() && response->streams_size() < static_cast<int>(page_size);
         ++it) {
      *response->add_streams() = it->second.info;
    }
    if (it != state_->streams.end()) response->set_next_page_token(std::prev(it)->first);
    return grpc::Status::OK;
  }

  grpc::Status ForkStream(grpc::ServerContext* context, const v1::ForkStreamRequest* request,
                          v1::ForkStreamResponse* response) override {
    state_->Record("Streams.ForkStream", *context);
    absl::MutexLock lock(&state_->mu);
    auto it = state_->streams.find(request->source_stream_id());
    if (it == state_->streams.end() || it->second.info.version() == 0) {
      return NotFound(request->source_stream_id());
    }
    const State::Stream source = it->second;
    const std::string id =
        request->stream_id().empty() ? state_->NewIdLocked("fork-") : request->stream_id();
    if (state_->streams.count(id)) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, absl::StrCat("stream ", id));
    }
    State::Stream& stream = state_->streams[id];
    stream.info = source.info;
    stream.info.set_id(id);
    stream.info.set_version(1);
    stream.info.set_parent_id(source.info.id());
    stream.info.set_parent_version(request->version() ? request->version() : source.info.version());
    stream.bytes = source.bytes;
    stream.versions = {MakeVersion(1, source.info.token_count(), source.bytes)};
    *response->mutable_stream() = stream.info;
    return grpc::Status::OK;
  }

  grpc::Status DeleteStream(grpc::ServerContext* context, const v1::DeleteStreamRequest* request,
                            v1::DeleteStreamResponse*) override {
    state_->Record("Streams.DeleteStream", *context);
    absl::MutexLock lock(&state_->mu);
    if (state_->streams.erase(request->stream_id()) == 0) return NotFound(request->stream_id());
    return grpc::Status::OK;
  }

  grpc::Status ExportStream(grpc::ServerContext* context, const v1::ExportStreamRequest* request,
                            grpc::ServerWriter<v1::ExportStreamResponse>* writer) override {
    state_->Record("Streams.ExportStream", *context);
    State::Stream stream;
    FakeGanderOptions options;
    {
      absl::MutexLock lock(&state_->mu);
      auto it = state_->streams.find(request->stream_id());
      if (it == state_->streams.end() || it->second.versions.empty()) {
        return NotFound(request->stream_id());
      }
      stream = it->second;
      options = state_->options;
    }
    v1::ExportStreamResponse response;
    v1::ExportHeader* header = response.mutable_header();
    *header->mutable_stream() = stream.info;
    *header->mutable_version() = stream.versions.back();
    header->set_codec(v1::STATE_CODEC_LOSSLESS);
    header->set_size_bytes(stream.bytes.size());
    if (!writer->Write(response)) return grpc::Status::OK;
    std::string bytes = stream.bytes;
    bytes.resize(bytes.size() - std::min<uint64_t>(bytes.size(), options.export_short_by));
    if (options.export_corrupt && !bytes.empty()) bytes[0] ^= 1;
    constexpr size_t kChunk = size_t{1} << 20;
    for (size_t offset = 0; offset < bytes.size(); offset += kChunk) {
      response.set_chunk(bytes.substr(offset, kChunk));
      if (!writer->Write(response)) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status ImportStream(grpc::ServerContext* context,
                            grpc::ServerReader<v1::ImportStreamRequest>* reader,
                            v1::ImportStreamResponse* response) override {
    state_->Record("Streams.ImportStream", *context);
    v1::ImportStreamRequest request;
    if (!reader->Read(&request) || !request.has_header()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first request is not a header");
    }
    const v1::ImportHeader header = request.header();
    std::string bytes;
    std::vector<size_t> chunks;
    while (reader->Read(&request)) {
      if (!request.has_chunk() || request.chunk().empty() ||
          request.chunk().size() > (size_t{1} << 20)) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad chunk");
      }
      chunks.push_back(request.chunk().size());
      bytes += request.chunk();
    }
    absl::MutexLock lock(&state_->mu);
    state_->import_chunks.insert(state_->import_chunks.end(), chunks.begin(), chunks.end());
    if (bytes.size() != header.size_bytes()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("received ", bytes.size(), " of ", header.size_bytes()));
    }
    if (!header.checkpoint_id().empty() && header.checkpoint_id() != HashHex(bytes)) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS, "checkpoint id mismatch");
    }
    const std::string id =
        header.stream_id().empty() ? state_->NewIdLocked("import-") : header.stream_id();
    if (state_->streams.count(id)) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, absl::StrCat("stream ", id));
    }
    State::Stream& stream = state_->streams[id];
    stream.info.set_id(id);
    stream.info.set_tenant(header.tenant());
    stream.info.set_version(1);
    stream.info.set_token_count(7);
    stream.bytes = bytes;
    stream.versions = {MakeVersion(1, 7, bytes)};
    *response->mutable_stream() = stream.info;
    return grpc::Status::OK;
  }

 private:
  static grpc::Status NotFound(const std::string& id) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("stream ", id, " not found"));
  }

  std::shared_ptr<State> state_;
};

class FakeModels final : public v1::Models::Service {
 public:
  explicit FakeModels(std::shared_ptr<State> state) : state_(std::move(state)) {}

  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest*,
                          v1::ListModelsResponse* response) override {
    state_->Record("Models.ListModels", *context);
    const FakeGanderOptions options = state_->Options();
    v1::ModelInfo* model = response->add_models();
    model->set_name(options.model_name);
    model->set_fingerprint("00ff");
    model->set_layers(2);
    model->set_embedding_size(64);
    model->set_head_size(64);
    model->set_vocab_size(options.vocab_size);
    model->set_weight_dtype("fp32");
    model->set_state_bytes(uint64_t{2} * (2 * 64 + 64 * 64) * 4);
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace

FakeGanderServer::FakeGanderServer(FakeGanderOptions options) : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  services_.push_back(std::make_unique<FakeSessions>(state_));
  services_.push_back(std::make_unique<FakeStreams>(state_));
  services_.push_back(std::make_unique<FakeModels>(state_));
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  for (auto& service : services_) builder.RegisterService(service.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    std::fprintf(stderr, "FakeGanderServer: cannot listen on 127.0.0.1\n");
    std::abort();
  }
}

FakeGanderServer::~FakeGanderServer() {
  // Calls still open after the grace period are cancelled.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

std::string FakeGanderServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void FakeGanderServer::AddStream(const v1::StreamInfo& info, const std::string& bytes) {
  absl::MutexLock lock(&state_->mu);
  State::Stream& stream = state_->streams[info.id()];
  stream.info = info;
  stream.bytes = bytes;
  stream.versions.clear();
  for (uint64_t v = 1; v <= info.version(); ++v) {
    stream.versions.push_back(MakeVersion(v, info.token_count(), bytes));
  }
}

bool FakeGanderServer::GetStream(const std::string& id, v1::StreamInfo* info) const {
  absl::MutexLock lock(&state_->mu);
  auto it = state_->streams.find(id);
  if (it == state_->streams.end()) return false;
  *info = it->second.info;
  return true;
}

std::string FakeGanderServer::StreamBytes(const std::string& id) const {
  absl::MutexLock lock(&state_->mu);
  auto it = state_->streams.find(id);
  return it == state_->streams.end() ? "" : it->second.bytes;
}

std::vector<FakeCall> FakeGanderServer::calls() const {
  absl::MutexLock lock(&state_->mu);
  return state_->calls;
}

std::vector<v1::StreamRequest> FakeGanderServer::session_requests() const {
  absl::MutexLock lock(&state_->mu);
  return state_->session_requests;
}

std::vector<size_t> FakeGanderServer::import_chunk_sizes() const {
  absl::MutexLock lock(&state_->mu);
  return state_->import_chunks;
}

std::vector<std::string> FakeGanderServer::page_tokens() const {
  absl::MutexLock lock(&state_->mu);
  return state_->page_tokens;
}

void FakeGanderServer::set_options(const FakeGanderOptions& options) {
  absl::MutexLock lock(&state_->mu);
  state_->options = options;
}

}  // namespace gander::cli::client::testing
