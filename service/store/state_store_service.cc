#include "service/store/state_store_service.h"

#include <algorithm>
#include <climits>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "storage/remote/wire.h"

namespace gander::service {
namespace {

namespace pb = ::gander::store::v1;
using storage::wire::ChunkReceiver;

// What a client-streaming upload delivered: its header and the verified
// bytes.
template <typename Request>
struct Upload {
  std::decay_t<decltype(std::declval<Request>().header())> header;
  std::string bytes;
};

// Reads a whole upload (header, then chunks) and checks it against the
// header. Nothing is written anywhere; the caller hands the bytes to the
// store only when this returns OK.
template <typename Request>
absl::StatusOr<Upload<Request>> ReceiveUpload(grpc::ServerContext* context,
                                              grpc::ServerReader<Request>* reader) {
  const auto cancelled = [] { return absl::CancelledError("the upload was cancelled"); };
  Request message;
  if (!reader->Read(&message)) {
    if (context->IsCancelled()) return cancelled();
    return absl::InvalidArgumentError(
        "the upload ended before its header (the first message must carry `header`)");
  }
  if (message.part_case() != Request::kHeader) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the upload's first message carries ",
        message.part_case() == Request::kChunk ? "a chunk" : "neither header nor chunk",
        "; it must carry `header`"));
  }
  Upload<Request> upload;
  upload.header = std::move(*message.mutable_header());
  GANDER_RETURN_IF_ERROR(storage::wire::ValidateUploadHeader(upload.header.size_bytes(),
                                                             upload.header.checkpoint_id()));
  ChunkReceiver receiver(upload.header.size_bytes(), upload.header.checkpoint_id(),
                         absl::StatusCode::kInvalidArgument);
  for (int index = 2; reader->Read(&message); ++index) {
    switch (message.part_case()) {
      case Request::kChunk:
        GANDER_RETURN_IF_ERROR(receiver.Add(message.chunk()));
        break;
      case Request::kHeader:
        return absl::InvalidArgumentError(
            absl::StrCat("message ", index, " of the upload carries a second header"));
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("message ", index, " of the upload carries neither header nor chunk"));
    }
  }
  if (context->IsCancelled()) return cancelled();
  absl::StatusOr<std::string> bytes = std::move(receiver).Finish();
  if (!bytes.ok()) return bytes.status();
  upload.bytes = std::move(*bytes);
  return upload;
}

storage::CreateStreamRequest CreateRequestFromProto(const pb::CreateStreamRequest& proto) {
  storage::CreateStreamRequest request;
  request.id = proto.stream_id();
  request.tenant = proto.tenant();
  request.model_fingerprint = proto.model_fingerprint();
  return request;
}

grpc::Status CreateStreamImpl(storage::StateStore* store, grpc::ServerContext*,
                              const pb::CreateStreamRequest* request,
                              pb::CreateStreamResponse* response) {
  absl::StatusOr<storage::StreamInfo> info = store->CreateStream(CreateRequestFromProto(*request));
  if (!info.ok()) return ToGrpcStatus(info.status());
  storage::wire::StreamInfoToProto(*info, response->mutable_stream());
  return grpc::Status::OK;
}

grpc::Status GetStreamImpl(storage::StateStore* store, grpc::ServerContext*,
                           const pb::GetStreamRequest* request, pb::GetStreamResponse* response) {
  absl::StatusOr<storage::StreamInfo> info = store->GetStream(request->stream_id());
  if (!info.ok()) return ToGrpcStatus(info.status());
  storage::wire::StreamInfoToProto(*info, response->mutable_stream());
  return grpc::Status::OK;
}

grpc::Status CreateStreamWithCheckpointImpl(
    storage::StateStore* store, grpc::ServerContext* context,
    grpc::ServerReader<pb::CreateStreamWithCheckpointRequest>* reader,
    pb::CreateStreamWithCheckpointResponse* response) {
  absl::StatusOr<Upload<pb::CreateStreamWithCheckpointRequest>> upload =
      ReceiveUpload(context, reader);
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  absl::StatusOr<storage::StreamInfo> info = store->CreateStreamWithCheckpoint(
      CreateRequestFromProto(upload->header.stream()), upload->bytes, upload->header.token_count());
  if (!info.ok()) return ToGrpcStatus(info.status());
  storage::wire::StreamInfoToProto(*info, response->mutable_stream());
  return grpc::Status::OK;
}

grpc::Status CommitImpl(storage::StateStore* store, grpc::ServerContext* context,
                        grpc::ServerReader<pb::CommitRequest>* reader,
                        pb::CommitResponse* response) {
  absl::StatusOr<Upload<pb::CommitRequest>> upload = ReceiveUpload(context, reader);
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  storage::CommitRequest request;
  request.stream_id = upload->header.stream_id();
  request.expected_version = upload->header.expected_version();
  request.lease_epoch = upload->header.lease_epoch();
  request.checkpoint = std::move(upload->bytes);
  request.token_count = upload->header.token_count();
  absl::StatusOr<uint64_t> version = store->Commit(request);
  if (!version.ok()) return ToGrpcStatus(version.status());
  response->set_version(*version);
  return grpc::Status::OK;
}

grpc::Status GetCheckpointImpl(storage::StateStore* store, grpc::ServerContext* context,
                               const pb::GetCheckpointRequest* request,
                               grpc::ServerWriter<pb::GetCheckpointResponse>* writer) {
  absl::StatusOr<storage::Checkpoint> checkpoint =
      store->GetCheckpoint(request->stream_id(), request->version());
  if (!checkpoint.ok()) return ToGrpcStatus(checkpoint.status());
  const auto gone = [&](size_t offset) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        absl::StrCat("the caller stopped reading the checkpoint at byte offset ",
                                     offset, " of ", checkpoint->bytes.size()));
  };
  pb::GetCheckpointResponse message;
  storage::wire::VersionInfoToProto(checkpoint->info, message.mutable_header());
  if (!writer->Write(message)) return gone(0);
  const std::string& bytes = checkpoint->bytes;
  for (size_t offset = 0; offset < bytes.size(); offset += storage::wire::kMaxChunkBytes) {
    if (context->IsCancelled()) return gone(offset);
    message.set_chunk(bytes.substr(offset, storage::wire::kMaxChunkBytes));
    if (!writer->Write(message)) return gone(offset);
  }
  return grpc::Status::OK;
}

grpc::Status ListVersionsImpl(storage::StateStore* store, grpc::ServerContext*,
                              const pb::ListVersionsRequest* request,
                              pb::ListVersionsResponse* response) {
  absl::StatusOr<std::vector<storage::VersionInfo>> versions =
      store->ListVersions(request->stream_id());
  if (!versions.ok()) return ToGrpcStatus(versions.status());
  for (const storage::VersionInfo& info : *versions) {
    storage::wire::VersionInfoToProto(info, response->add_versions());
  }
  return grpc::Status::OK;
}

grpc::Status ForkImpl(storage::StateStore* store, grpc::ServerContext*,
                      const pb::ForkRequest* request, pb::ForkResponse* response) {
  storage::CreateStreamRequest target;
  target.id = request->stream_id();
  target.tenant = request->tenant();
  absl::StatusOr<storage::StreamInfo> info =
      store->Fork(request->source_stream_id(), request->version(), target);
  if (!info.ok()) return ToGrpcStatus(info.status());
  storage::wire::StreamInfoToProto(*info, response->mutable_stream());
  return grpc::Status::OK;
}

grpc::Status DeleteStreamImpl(storage::StateStore* store, grpc::ServerContext*,
                              const pb::DeleteStreamRequest* request, pb::DeleteStreamResponse*) {
  return ToGrpcStatus(store->DeleteStream(request->stream_id()));
}

grpc::Status ListStreamsImpl(storage::StateStore* store, grpc::ServerContext*,
                             const pb::ListStreamsRequest* request,
                             pb::ListStreamsResponse* response) {
  constexpr int kDefaultPageSize = 100;
  const uint32_t asked = request->page_size();
  const int page_size =
      asked == 0 ? kDefaultPageSize : static_cast<int>(std::min<uint32_t>(asked, INT_MAX));
  absl::StatusOr<storage::ListStreamsResult> page =
      store->ListStreams(request->tenant(), page_size, request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (const storage::StreamInfo& info : page->streams) {
    storage::wire::StreamInfoToProto(info, response->add_streams());
  }
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status AcquireLeaseImpl(storage::StateStore* store, grpc::ServerContext*,
                              const pb::AcquireLeaseRequest* request,
                              pb::AcquireLeaseResponse* response) {
  absl::StatusOr<storage::Lease> lease = store->AcquireLease(
      request->stream_id(), request->owner(), storage::wire::DurationFromProto(request->ttl()));
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  storage::wire::LeaseToProto(*lease, response->mutable_lease());
  return grpc::Status::OK;
}

grpc::Status RenewLeaseImpl(storage::StateStore* store, grpc::ServerContext*,
                            const pb::RenewLeaseRequest* request,
                            pb::RenewLeaseResponse* response) {
  absl::StatusOr<storage::Lease> lease = store->RenewLease(
      request->stream_id(), request->epoch(), storage::wire::DurationFromProto(request->ttl()));
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  storage::wire::LeaseToProto(*lease, response->mutable_lease());
  return grpc::Status::OK;
}

grpc::Status ReleaseLeaseImpl(storage::StateStore* store, grpc::ServerContext*,
                              const pb::ReleaseLeaseRequest* request, pb::ReleaseLeaseResponse*) {
  return ToGrpcStatus(store->ReleaseLease(request->stream_id(), request->epoch()));
}

grpc::Status DeleteIdleStreamsImpl(storage::StateStore* store, grpc::ServerContext*,
                                   const pb::DeleteIdleStreamsRequest* request,
                                   pb::DeleteIdleStreamsResponse* response) {
  absl::StatusOr<int> deleted =
      store->DeleteIdleStreams(storage::wire::DurationFromProto(request->idle_ttl()));
  if (!deleted.ok()) return ToGrpcStatus(deleted.status());
  response->set_deleted_count(static_cast<uint64_t>(*deleted));
  return grpc::Status::OK;
}

}  // namespace

grpc::Status StateStoreService::Observe(absl::string_view method,
                                        absl::FunctionRef<grpc::Status()> call) {
  if (!options_.on_call_end) return call();
  const absl::Time start = absl::Now();
  grpc::Status status = call();
  options_.on_call_end(
      absl::StrCat(gander::store::v1::StateStore::service_full_name(), "/", method),
      static_cast<absl::StatusCode>(status.error_code()), absl::Now() - start);
  return status;
}

grpc::Status StateStoreService::CreateStream(grpc::ServerContext* context,
                                             const pb::CreateStreamRequest* request,
                                             pb::CreateStreamResponse* response) {
  return Observe("CreateStream",
                 [&] { return CreateStreamImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::GetStream(grpc::ServerContext* context,
                                          const pb::GetStreamRequest* request,
                                          pb::GetStreamResponse* response) {
  return Observe("GetStream", [&] { return GetStreamImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::CreateStreamWithCheckpoint(
    grpc::ServerContext* context, grpc::ServerReader<pb::CreateStreamWithCheckpointRequest>* reader,
    pb::CreateStreamWithCheckpointResponse* response) {
  return Observe("CreateStreamWithCheckpoint",
                 [&] { return CreateStreamWithCheckpointImpl(store_, context, reader, response); });
}

grpc::Status StateStoreService::Commit(grpc::ServerContext* context,
                                       grpc::ServerReader<pb::CommitRequest>* reader,
                                       pb::CommitResponse* response) {
  return Observe("Commit", [&] { return CommitImpl(store_, context, reader, response); });
}

grpc::Status StateStoreService::GetCheckpoint(
    grpc::ServerContext* context, const pb::GetCheckpointRequest* request,
    grpc::ServerWriter<pb::GetCheckpointResponse>* writer) {
  return Observe("GetCheckpoint",
                 [&] { return GetCheckpointImpl(store_, context, request, writer); });
}

grpc::Status StateStoreService::ListVersions(grpc::ServerContext* context,
                                             const pb::ListVersionsRequest* request,
                                             pb::ListVersionsResponse* response) {
  return Observe("ListVersions",
                 [&] { return ListVersionsImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::Fork(grpc::ServerContext* context, const pb::ForkRequest* request,
                                     pb::ForkResponse* response) {
  return Observe("Fork", [&] { return ForkImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::DeleteStream(grpc::ServerContext* context,
                                             const pb::DeleteStreamRequest* request,
                                             pb::DeleteStreamResponse* response) {
  return Observe("DeleteStream",
                 [&] { return DeleteStreamImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::ListStreams(grpc::ServerContext* context,
                                            const pb::ListStreamsRequest* request,
                                            pb::ListStreamsResponse* response) {
  return Observe("ListStreams",
                 [&] { return ListStreamsImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::AcquireLease(grpc::ServerContext* context,
                                             const pb::AcquireLeaseRequest* request,
                                             pb::AcquireLeaseResponse* response) {
  return Observe("AcquireLease",
                 [&] { return AcquireLeaseImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::RenewLease(grpc::ServerContext* context,
                                           const pb::RenewLeaseRequest* request,
                                           pb::RenewLeaseResponse* response) {
  return Observe("RenewLease", [&] { return RenewLeaseImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::ReleaseLease(grpc::ServerContext* context,
                                             const pb::ReleaseLeaseRequest* request,
                                             pb::ReleaseLeaseResponse* response) {
  return Observe("ReleaseLease",
                 [&] { return ReleaseLeaseImpl(store_, context, request, response); });
}

grpc::Status StateStoreService::DeleteIdleStreams(grpc::ServerContext* context,
                                                  const pb::DeleteIdleStreamsRequest* request,
                                                  pb::DeleteIdleStreamsResponse* response) {
  return Observe("DeleteIdleStreams",
                 [&] { return DeleteIdleStreamsImpl(store_, context, request, response); });
}

}  // namespace gander::service
