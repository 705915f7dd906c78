// The unary calls of gander.v1.Streams and what every call shares (tenant
// and ownership checks). ExportStream and ImportStream are in
// stream_transfer.cc.
#include "service/admin/streams_service.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "service/admin/ids.h"
#include "storage/remote/wire.h"

namespace gander::service {
namespace {

namespace pb = ::gander::v1;

// ListStreams' page size when the request gives 0, and the largest allowed.
constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

// The one answer for an unknown stream and for another tenant's.
absl::Status StreamNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("stream '", id, "' not found"));
}

storage::CreateStreamRequest NewStreamRequest(const std::string& id, const std::string& tenant,
                                              const std::string& model_fingerprint) {
  storage::CreateStreamRequest request;
  request.id = id;
  request.tenant = tenant;
  request.model_fingerprint = model_fingerprint;
  return request;
}

bool SameStream(const storage::StreamInfo& a, const storage::StreamInfo& b) {
  return a.id == b.id && a.tenant == b.tenant && a.created == b.created;
}

// Finishes a unary call with `status` on its default reactor.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

StreamsService::StreamsService(storage::StateStore* store, const engine::Backend& model,
                               std::string model_name, TenantResolver tenant_of,
                               OpenStreamProbe is_open_here, StreamsServiceOptions options)
    : store_(store),
      model_name_(std::move(model_name)),
      model_fingerprint_(model.fingerprint()),
      model_config_(model.config()),
      tenant_of_(std::move(tenant_of)),
      is_open_here_(std::move(is_open_here)),
      options_(options) {}

// --- Shared checks -----------------------------------------------------------

absl::StatusOr<std::string> StreamsService::Caller(const grpc::ServerContextBase& context) const {
  return ResolveCaller(tenant_of_, context);
}

absl::StatusOr<storage::StreamInfo> StreamsService::OwnedStream(const std::string& id,
                                                                const std::string& tenant) const {
  absl::StatusOr<storage::StreamInfo> info = store_->GetStream(id);
  if (!info.ok()) {
    if (info.status().code() == absl::StatusCode::kNotFound) return StreamNotFound(id);
    return info.status();
  }
  // Without authentication every caller is trusted with every tenant's
  // streams (requests without a tenant field could not reach them otherwise).
  if (info->tenant != tenant && options_.tenant_mode != TenantMode::kFromRequest) {
    return StreamNotFound(id);
  }
  return info;
}

absl::StatusOr<storage::StreamInfo> StreamsService::StillSameStream(
    const storage::StreamInfo& seen) const {
  absl::StatusOr<storage::StreamInfo> now = OwnedStream(seen.id, seen.tenant);
  if (!now.ok()) return now.status();
  if (!SameStream(seen, *now)) return StreamNotFound(seen.id);
  return now;
}

// --- Handlers ----------------------------------------------------------------

grpc::ServerUnaryReactor* StreamsService::CreateStream(grpc::CallbackServerContext* context,
                                                       const pb::CreateStreamRequest* request,
                                                       pb::CreateStreamResponse* response) {
  return FinishUnary(context, Create(*context, *request, response));
}

grpc::ServerUnaryReactor* StreamsService::GetStream(grpc::CallbackServerContext* context,
                                                    const pb::GetStreamRequest* request,
                                                    pb::GetStreamResponse* response) {
  return FinishUnary(context, Get(*context, *request, response));
}

grpc::ServerUnaryReactor* StreamsService::ListStreams(grpc::CallbackServerContext* context,
                                                      const pb::ListStreamsRequest* request,
                                                      pb::ListStreamsResponse* response) {
  return FinishUnary(context, List(*context, *request, response));
}

grpc::ServerUnaryReactor* StreamsService::ForkStream(grpc::CallbackServerContext* context,
                                                     const pb::ForkStreamRequest* request,
                                                     pb::ForkStreamResponse* response) {
  return FinishUnary(context, Fork(*context, *request, response));
}

grpc::ServerUnaryReactor* StreamsService::DeleteStream(grpc::CallbackServerContext* context,
                                                       const pb::DeleteStreamRequest* request,
                                                       pb::DeleteStreamResponse*) {
  return FinishUnary(context, Delete(*context, *request));
}

// --- Unary calls -------------------------------------------------------------

absl::Status StreamsService::Create(const grpc::ServerContextBase& context,
                                    const pb::CreateStreamRequest& request,
                                    pb::CreateStreamResponse* response) const {
  GANDER_ASSIGN_OR_RETURN(const std::string caller, Caller(context));
  if (!request.stream_id().empty()) {
    GANDER_RETURN_IF_ERROR(ValidateStreamId("stream_id", request.stream_id()));
  }
  GANDER_ASSIGN_OR_RETURN(const std::string tenant,
                          ActingTenant(caller, request.tenant(), options_.tenant_mode));
  if (!request.model().empty() && request.model() != model_name_) {
    return absl::NotFoundError(absl::StrCat("unknown model '", request.model(),
                                            "'; this worker serves '", model_name_, "'"));
  }
  GANDER_ASSIGN_OR_RETURN(
      const storage::StreamInfo info,
      CreateWithStreamId(request.stream_id(), [&](const std::string& id) {
        return store_->CreateStream(NewStreamRequest(id, tenant, model_fingerprint_));
      }));
  storage::wire::StreamInfoToProto(info, response->mutable_stream());
  return absl::OkStatus();
}

absl::Status StreamsService::Get(const grpc::ServerContextBase& context,
                                 const pb::GetStreamRequest& request,
                                 pb::GetStreamResponse* response) const {
  GANDER_ASSIGN_OR_RETURN(const std::string caller, Caller(context));
  GANDER_RETURN_IF_ERROR(ValidateStreamId("stream_id", request.stream_id()));
  GANDER_ASSIGN_OR_RETURN(const storage::StreamInfo seen, OwnedStream(request.stream_id(), caller));
  absl::StatusOr<std::vector<storage::VersionInfo>> versions =
      store_->ListVersions(request.stream_id());
  if (!versions.ok()) {
    if (versions.status().code() == absl::StatusCode::kNotFound) {
      return StreamNotFound(request.stream_id());
    }
    return versions.status();
  }
  // The versions listed must be those of the stream checked above, not of
  // a stream of the same id created since.
  GANDER_ASSIGN_OR_RETURN(const storage::StreamInfo info, StillSameStream(seen));
  storage::wire::StreamInfoToProto(info, response->mutable_stream());
  for (const storage::VersionInfo& version : *versions) {
    storage::wire::VersionInfoToProto(version, response->add_versions());
  }
  return absl::OkStatus();
}

absl::Status StreamsService::List(const grpc::ServerContextBase& context,
                                  const pb::ListStreamsRequest& request,
                                  pb::ListStreamsResponse* response) const {
  GANDER_ASSIGN_OR_RETURN(const std::string caller, Caller(context));
  GANDER_ASSIGN_OR_RETURN(const std::string tenant,
                          ActingTenant(caller, request.tenant(), options_.tenant_mode));
  if (request.page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size ", request.page_size(), " is over the maximum of ", kMaxPageSize));
  }
  const int page_size =
      static_cast<int>(request.page_size() == 0 ? kDefaultPageSize : request.page_size());
  GANDER_ASSIGN_OR_RETURN(const storage::ListStreamsResult page,
                          store_->ListStreams(tenant, page_size, request.page_token()));
  for (const storage::StreamInfo& info : page.streams) {
    storage::wire::StreamInfoToProto(info, response->add_streams());
  }
  response->set_next_page_token(page.next_page_token);
  return absl::OkStatus();
}

absl::Status StreamsService::Fork(const grpc::ServerContextBase& context,
                                  const pb::ForkStreamRequest& request,
                                  pb::ForkStreamResponse* response) const {
  GANDER_ASSIGN_OR_RETURN(const std::string caller, Caller(context));
  GANDER_RETURN_IF_ERROR(ValidateStreamId("source_stream_id", request.source_stream_id()));
  if (!request.stream_id().empty()) {
    GANDER_RETURN_IF_ERROR(ValidateStreamId("stream_id", request.stream_id()));
  }
  GANDER_ASSIGN_OR_RETURN(const storage::StreamInfo source,
                          OwnedStream(request.source_stream_id(), caller));
  absl::StatusOr<storage::StreamInfo> fork =
      CreateWithStreamId(request.stream_id(), [&](const std::string& id) {
        // The store keeps the source's fingerprint for a fork.
        return store_->Fork(source.id, request.version(), NewStreamRequest(id, source.tenant, ""));
      });
  // Whether the source is still the stream checked above: if it was deleted
  // (and perhaps its id taken by another tenant's stream) meanwhile, the
  // answer is the usual NOT_FOUND, and a fork made may hold the other
  // stream's state: it is undone.
  absl::StatusOr<storage::StreamInfo> after = StillSameStream(source);
  if (!fork.ok()) return after.ok() ? fork.status() : after.status();
  if (!after.ok()) {
    absl::Status undone = store_->DeleteStream(fork->id);
    if (!undone.ok() && undone.code() != absl::StatusCode::kNotFound) {
      return absl::Status(undone.code(),
                          absl::StrCat("stream '", source.id,
                                       "' changed while it was forked, and removing the fork '",
                                       fork->id, "' failed: ", undone.message()));
    }
    return after.status();
  }
  storage::wire::StreamInfoToProto(*fork, response->mutable_stream());
  return absl::OkStatus();
}

absl::Status StreamsService::Delete(const grpc::ServerContextBase& context,
                                    const pb::DeleteStreamRequest& request) const {
  GANDER_ASSIGN_OR_RETURN(const std::string caller, Caller(context));
  GANDER_RETURN_IF_ERROR(ValidateStreamId("stream_id", request.stream_id()));
  GANDER_RETURN_IF_ERROR(OwnedStream(request.stream_id(), caller).status());
  if (is_open_here_ && is_open_here_(request.stream_id())) {
    return absl::FailedPreconditionError(
        absl::StrCat("stream '", request.stream_id(), "' is open in a session; close it first"));
  }
  absl::Status deleted = store_->DeleteStream(request.stream_id());
  if (deleted.code() == absl::StatusCode::kNotFound) return StreamNotFound(request.stream_id());
  return deleted;
}

}  // namespace gander::service
