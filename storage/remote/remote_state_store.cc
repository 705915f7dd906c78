#include "storage/remote/remote_state_store.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <climits>
#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "gander/store/v1/state_store.grpc.pb.h"
#include "storage/remote/wire.h"

namespace gander::storage {
namespace {

namespace pb = ::gander::store::v1;

// A string argument must be UTF-8 to travel in a proto3 `string` field. One
// that is not can only be a malformed name or token, which the store would
// refuse with INVALID_ARGUMENT too; it is refused here without a call.
absl::Status CheckSendable(absl::string_view what, absl::string_view value) {
  if (wire::IsValidUtf8(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " is not valid UTF-8 (and so not a valid ", what, ")"));
}

class RemoteStateStore final : public StateStore {
 public:
  RemoteStateStore(std::shared_ptr<grpc::Channel> channel, const RemoteStoreOptions& options)
      : channel_(std::move(channel)),
        stub_(pb::StateStore::NewStub(channel_)),
        call_timeout_(options.call_timeout),
        wait_for_ready_(options.connect_timeout.has_value()) {}

  absl::StatusOr<StreamInfo> CreateStream(const CreateStreamRequest& request) override {
    pb::CreateStreamRequest proto;
    GANDER_RETURN_IF_ERROR(CreateRequestToProto(request, &proto));
    pb::CreateStreamResponse response;
    GANDER_RETURN_IF_ERROR(Call([&](grpc::ClientContext* context) {
      return stub_->CreateStream(context, proto, &response);
    }));
    return wire::StreamInfoFromProto(response.stream());
  }

  absl::StatusOr<StreamInfo> GetStream(const std::string& id) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", id));
    pb::GetStreamRequest request;
    request.set_stream_id(id);
    pb::GetStreamResponse response;
    GANDER_RETURN_IF_ERROR(Call([&](grpc::ClientContext* context) {
      return stub_->GetStream(context, request, &response);
    }));
    return wire::StreamInfoFromProto(response.stream());
  }

  absl::StatusOr<StreamInfo> CreateStreamWithCheckpoint(const CreateStreamRequest& request,
                                                        const std::string& checkpoint,
                                                        uint64_t token_count) override {
    pb::CreateStreamWithCheckpointRequest header;
    GANDER_RETURN_IF_ERROR(
        CreateRequestToProto(request, header.mutable_header()->mutable_stream()));
    header.mutable_header()->set_token_count(token_count);
    header.mutable_header()->set_size_bytes(checkpoint.size());
    header.mutable_header()->set_checkpoint_id(wire::CheckpointIdOf(checkpoint));
    pb::CreateStreamWithCheckpointResponse response;
    grpc::ClientContext context;
    Prepare(&context);
    GANDER_RETURN_IF_ERROR(
        Upload(header, checkpoint, stub_->CreateStreamWithCheckpoint(&context, &response)));
    return wire::StreamInfoFromProto(response.stream());
  }

  absl::StatusOr<uint64_t> Commit(const CommitRequest& request) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", request.stream_id));
    pb::CommitRequest header;
    pb::CommitHeader* h = header.mutable_header();
    h->set_stream_id(request.stream_id);
    h->set_expected_version(request.expected_version);
    h->set_lease_epoch(request.lease_epoch);
    h->set_token_count(request.token_count);
    h->set_size_bytes(request.checkpoint.size());
    h->set_checkpoint_id(wire::CheckpointIdOf(request.checkpoint));
    pb::CommitResponse response;
    grpc::ClientContext context;
    Prepare(&context);
    GANDER_RETURN_IF_ERROR(Upload(header, request.checkpoint, stub_->Commit(&context, &response)));
    return response.version();
  }

  absl::StatusOr<Checkpoint> GetCheckpoint(const std::string& id, uint64_t version) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", id));
    pb::GetCheckpointRequest request;
    request.set_stream_id(id);
    request.set_version(version);
    grpc::ClientContext context;
    Prepare(&context);
    std::unique_ptr<grpc::ClientReader<pb::GetCheckpointResponse>> reader =
        stub_->GetCheckpoint(&context, request);

    Checkpoint checkpoint;
    std::optional<wire::ChunkReceiver> receiver;
    absl::Status problem;
    pb::GetCheckpointResponse message;
    for (int index = 1; reader->Read(&message); ++index) {
      if (!receiver.has_value()) {
        if (message.part_case() != pb::GetCheckpointResponse::kHeader) {
          problem = absl::DataLossError(
              absl::StrCat("the download of ", id, "@", version, " did not begin with its header"));
          break;
        }
        checkpoint.info = wire::VersionInfoFromProto(message.header());
        if (!wire::IsCheckpointId(checkpoint.info.checkpoint_id)) {
          problem = absl::DataLossError(absl::StrCat("the download of ", id, "@", version,
                                                     " announced a malformed checkpoint_id"));
          break;
        }
        receiver.emplace(checkpoint.info.size_bytes, checkpoint.info.checkpoint_id,
                         absl::StatusCode::kDataLoss);
        continue;
      }
      if (message.part_case() != pb::GetCheckpointResponse::kChunk) {
        problem = absl::DataLossError(absl::StrCat("message ", index, " of the download of ", id,
                                                   "@", version, " is not a chunk"));
        break;
      }
      problem = receiver->Add(message.chunk());
      if (!problem.ok()) break;
    }
    if (!problem.ok()) {
      context.TryCancel();
      while (reader->Read(&message)) {
      }
      reader->Finish().IgnoreError();
      return problem;
    }
    GANDER_RETURN_IF_ERROR(FromGrpcStatus(reader->Finish()));
    if (!receiver.has_value()) {
      return absl::DataLossError(
          absl::StrCat("the download of ", id, "@", version, " ended without a header"));
    }
    absl::StatusOr<std::string> bytes = std::move(*receiver).Finish();
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(), absl::StrCat("download of ", id, "@", version,
                                                              ": ", bytes.status().message()));
    }
    checkpoint.bytes = std::move(*bytes);
    return checkpoint;
  }

  absl::StatusOr<std::vector<VersionInfo>> ListVersions(const std::string& id) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", id));
    pb::ListVersionsRequest request;
    request.set_stream_id(id);
    pb::ListVersionsResponse response;
    GANDER_RETURN_IF_ERROR(Call([&](grpc::ClientContext* context) {
      return stub_->ListVersions(context, request, &response);
    }));
    std::vector<VersionInfo> versions;
    versions.reserve(response.versions_size());
    for (const gander::v1::VersionInfo& v : response.versions()) {
      versions.push_back(wire::VersionInfoFromProto(v));
    }
    return versions;
  }

  absl::StatusOr<StreamInfo> Fork(const std::string& source, uint64_t version,
                                  const CreateStreamRequest& request) override {
    // request.model_fingerprint is ignored by the interface: not sent.
    GANDER_RETURN_IF_ERROR(CheckSendable("source stream id", source));
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", request.id));
    GANDER_RETURN_IF_ERROR(CheckSendable("tenant", request.tenant));
    pb::ForkRequest proto;
    proto.set_source_stream_id(source);
    proto.set_version(version);
    proto.set_stream_id(request.id);
    proto.set_tenant(request.tenant);
    pb::ForkResponse response;
    GANDER_RETURN_IF_ERROR(
        Call([&](grpc::ClientContext* context) { return stub_->Fork(context, proto, &response); }));
    return wire::StreamInfoFromProto(response.stream());
  }

  absl::Status DeleteStream(const std::string& id) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", id));
    pb::DeleteStreamRequest request;
    request.set_stream_id(id);
    pb::DeleteStreamResponse response;
    return Call([&](grpc::ClientContext* context) {
      return stub_->DeleteStream(context, request, &response);
    });
  }

  absl::StatusOr<ListStreamsResult> ListStreams(const std::string& tenant, int page_size,
                                                const std::string& page_token) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("tenant", tenant));
    // On the wire 0 means "the default"; the interface refuses it.
    if (page_size < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("page size ", page_size, " is outside 1..1000"));
    }
    GANDER_RETURN_IF_ERROR(CheckSendable("page token", page_token));
    pb::ListStreamsRequest request;
    request.set_tenant(tenant);
    request.set_page_size(static_cast<uint32_t>(page_size));
    request.set_page_token(page_token);
    pb::ListStreamsResponse response;
    GANDER_RETURN_IF_ERROR(Call([&](grpc::ClientContext* context) {
      return stub_->ListStreams(context, request, &response);
    }));
    ListStreamsResult result;
    result.streams.reserve(response.streams_size());
    for (const gander::v1::StreamInfo& info : response.streams()) {
      result.streams.push_back(wire::StreamInfoFromProto(info));
    }
    result.next_page_token = response.next_page_token();
    return result;
  }

  absl::StatusOr<Lease> AcquireLease(const std::string& id, const std::string& owner,
                                     absl::Duration ttl) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", id));
    GANDER_RETURN_IF_ERROR(CheckSendable("owner", owner));
    pb::AcquireLeaseRequest request;
    request.set_stream_id(id);
    request.set_owner(owner);
    GANDER_RETURN_IF_ERROR(wire::DurationToProto(ttl, "lease ttl", request.mutable_ttl()));
    pb::AcquireLeaseResponse response;
    GANDER_RETURN_IF_ERROR(Call([&](grpc::ClientContext* context) {
      return stub_->AcquireLease(context, request, &response);
    }));
    return wire::LeaseFromProto(response.lease());
  }

  absl::StatusOr<Lease> RenewLease(const std::string& id, uint64_t epoch,
                                   absl::Duration ttl) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", id));
    pb::RenewLeaseRequest request;
    request.set_stream_id(id);
    request.set_epoch(epoch);
    GANDER_RETURN_IF_ERROR(wire::DurationToProto(ttl, "lease ttl", request.mutable_ttl()));
    pb::RenewLeaseResponse response;
    GANDER_RETURN_IF_ERROR(Call([&](grpc::ClientContext* context) {
      return stub_->RenewLease(context, request, &response);
    }));
    return wire::LeaseFromProto(response.lease());
  }

  absl::Status ReleaseLease(const std::string& id, uint64_t epoch) override {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", id));
    pb::ReleaseLeaseRequest request;
    request.set_stream_id(id);
    request.set_epoch(epoch);
    pb::ReleaseLeaseResponse response;
    return Call([&](grpc::ClientContext* context) {
      return stub_->ReleaseLease(context, request, &response);
    });
  }

  absl::StatusOr<int> DeleteIdleStreams(absl::Duration idle_ttl) override {
    pb::DeleteIdleStreamsRequest request;
    GANDER_RETURN_IF_ERROR(wire::DurationToProto(idle_ttl, "idle ttl", request.mutable_idle_ttl()));
    pb::DeleteIdleStreamsResponse response;
    GANDER_RETURN_IF_ERROR(Call([&](grpc::ClientContext* context) {
      return stub_->DeleteIdleStreams(context, request, &response);
    }));
    return static_cast<int>(std::min<uint64_t>(response.deleted_count(), INT_MAX));
  }

 private:
  void Prepare(grpc::ClientContext* context) const {
    if (call_timeout_ != absl::InfiniteDuration()) {
      context->set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
    }
    if (wait_for_ready_) context->set_wait_for_ready(true);
  }

  // One unary call with a fresh, prepared context.
  absl::Status Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const {
    grpc::ClientContext context;
    Prepare(&context);
    return FromGrpcStatus(rpc(&context));
  }

  static absl::Status CreateRequestToProto(const CreateStreamRequest& request,
                                           pb::CreateStreamRequest* proto) {
    GANDER_RETURN_IF_ERROR(CheckSendable("stream id", request.id));
    GANDER_RETURN_IF_ERROR(CheckSendable("tenant", request.tenant));
    GANDER_RETURN_IF_ERROR(CheckSendable("model fingerprint", request.model_fingerprint));
    proto->set_stream_id(request.id);
    proto->set_tenant(request.tenant);
    proto->set_model_fingerprint(request.model_fingerprint);
    return absl::OkStatus();
  }

  // Sends `header`, then `bytes` in full chunks of kMaxChunkBytes (the last
  // one shorter), then half-closes and waits for the answer. When the
  // server answers early (it refused the header), the remaining chunks are
  // not sent and its status is returned.
  template <typename Request>
  static absl::Status Upload(const Request& header, const std::string& bytes,
                             std::unique_ptr<grpc::ClientWriter<Request>> writer) {
    bool open = writer->Write(header);
    Request chunk;
    for (size_t offset = 0; open && offset < bytes.size(); offset += wire::kMaxChunkBytes) {
      chunk.set_chunk(bytes.substr(offset, wire::kMaxChunkBytes));
      open = writer->Write(chunk);
    }
    if (open) writer->WritesDone();
    return FromGrpcStatus(writer->Finish());
  }

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<pb::StateStore::Stub> stub_;
  const absl::Duration call_timeout_;
  const bool wait_for_ready_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> ConnectRemoteStateStore(
    const RemoteStoreOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("remote store: the target (host:port) is empty");
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("remote store: call_timeout ",
                                                   absl::FormatDuration(options.call_timeout),
                                                   " is not positive"));
  }
  if (options.connect_timeout.has_value() && *options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("remote store: connect_timeout ",
                                                   absl::FormatDuration(*options.connect_timeout),
                                                   " is not positive"));
  }
  constexpr int kMinReceiveBytes = static_cast<int>(wire::kMaxChunkBytes) + (64 << 10);
  if (options.max_receive_message_bytes < kMinReceiveBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("remote store: max_receive_message_bytes ", options.max_receive_message_bytes,
                     " is below ", kMinReceiveBytes, " (a 1 MiB chunk and its framing)"));
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options.credentials != nullptr ? options.credentials : grpc::InsecureChannelCredentials();
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("remote store: no channel could be made for target '", options.target, "'"));
  }
  if (options.connect_timeout.has_value()) {
    const absl::Duration timeout = *options.connect_timeout;
    if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout))) {
      return absl::UnavailableError(absl::StrCat("remote store: could not connect to ",
                                                 options.target, " within ",
                                                 absl::FormatDuration(timeout)));
    }
  }
  return std::unique_ptr<StateStore>(
      std::make_unique<RemoteStateStore>(std::move(channel), options));
}

}  // namespace gander::storage
