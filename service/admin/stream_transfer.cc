// ExportStream (server-streaming) and ImportStream (client-streaming) of
// gander.v1.Streams: moving a stream's encoded state in chunks of at most
// 1 MiB. See streams_service.h for the checks and their codes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "service/admin/convert.h"
#include "service/admin/ids.h"
#include "service/admin/streams_service.h"
#include "storage/portable.h"
#include "storage/remote/wire.h"
#include "storage/state_codec.h"

namespace gander::service {
namespace {

namespace pb = ::gander::v1;

// Memory reserved up front for an import, at most: the declared size is the
// client's word, so a large one is grown into as bytes arrive.
constexpr size_t kMaxImportReserve = size_t{64} << 20;

std::string ShapeString(int layers, int embd, int heads, int head_size) {
  return absl::StrCat("L=", layers, " C=", embd, " H=", heads, " N=", head_size);
}

absl::Status WithPrefix(const absl::Status& status, absl::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

}  // namespace

// --- ExportStream --------------------------------------------------------------

absl::StatusOr<StreamsService::Export> StreamsService::PrepareExport(
    const grpc::ServerContextBase& context, const pb::ExportStreamRequest& request) const {
  GANDER_ASSIGN_OR_RETURN(const std::string caller, Caller(context));
  const std::string& id = request.stream_id();
  GANDER_RETURN_IF_ERROR(ValidateStreamId("stream_id", id));
  GANDER_ASSIGN_OR_RETURN(const storage::StreamInfo seen, OwnedStream(id, caller));
  if (request.version() == 0 && seen.version == 0) {
    return absl::NotFoundError(
        absl::StrCat("stream '", id, "' has no checkpoint to export (it is at version 0)"));
  }
  absl::StatusOr<storage::Checkpoint> checkpoint = store_->GetCheckpoint(id, request.version());
  // The bytes must be those of the stream checked above, not of a stream of
  // the same id created since; this also answers a NOT_FOUND for a stream
  // deleted meanwhile in the usual form.
  GANDER_ASSIGN_OR_RETURN(const storage::StreamInfo info, StillSameStream(seen));
  if (!checkpoint.ok()) return checkpoint.status();

  // The store verified the bytes against their content hash; the
  // snapshot's own checks tell whether they are a state this build reads
  // (the same rule as storage::ExportCheckpoint, which cannot be used here
  // because it returns neither the version's metadata nor the codec).
  const std::string what =
      absl::StrCat("exporting version ", checkpoint->info.version, " of stream '", id, "': ");
  absl::StatusOr<storage::SnapshotHeader> snapshot = storage::ReadSnapshotHeader(checkpoint->bytes);
  if (!snapshot.ok()) {
    if (snapshot.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::FailedPreconditionError(absl::StrCat(
          what,
          "the checkpoint is not a state this build can export: ", snapshot.status().message()));
    }
    return WithPrefix(snapshot.status(), what);
  }

  Export result;
  pb::ExportHeader* header = result.header.mutable_header();
  storage::wire::StreamInfoToProto(info, header->mutable_stream());
  storage::wire::VersionInfoToProto(checkpoint->info, header->mutable_version());
  header->set_codec(StateCodecToProto(snapshot->codec));
  header->set_size_bytes(checkpoint->bytes.size());
  result.bytes = std::move(checkpoint->bytes);
  return result;
}

// Sends the header, then the bytes in chunks of kMaxChunkBytes (the last may
// be shorter), one write at a time; finishes OK after the last chunk, or
// CANCELLED when a write fails (the client went away).
class StreamsService::ExportReactor final
    : public grpc::ServerWriteReactor<pb::ExportStreamResponse> {
 public:
  ExportReactor(const StreamsService& service, grpc::CallbackServerContext* context,
                const pb::ExportStreamRequest& request) {
    absl::StatusOr<Export> prepared = service.PrepareExport(*context, request);
    if (!prepared.ok()) {
      Finish(ToGrpcStatus(prepared.status()));
      return;
    }
    export_ = std::move(*prepared);
    StartWrite(&export_.header);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          absl::StrCat("the client stopped receiving the state before byte offset ",
                                       offset_, " of ", export_.bytes.size())));
      return;
    }
    if (offset_ == export_.bytes.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const size_t length = std::min<size_t>(kMaxChunkBytes, export_.bytes.size() - offset_);
    chunk_.set_chunk(export_.bytes.data() + offset_, length);
    offset_ += length;
    StartWrite(&chunk_);
  }

  void OnDone() override { delete this; }

 private:
  Export export_;
  pb::ExportStreamResponse chunk_;  // the chunk being written
  size_t offset_ = 0;               // bytes handed to writes so far
};

grpc::ServerWriteReactor<pb::ExportStreamResponse>* StreamsService::ExportStream(
    grpc::CallbackServerContext* context, const pb::ExportStreamRequest* request) {
  return new ExportReactor(*this, context, *request);
}

// --- ImportStream --------------------------------------------------------------

absl::StatusOr<std::string> StreamsService::CheckImportHeader(const pb::ImportHeader& header,
                                                              const std::string& caller) const {
  if (!header.stream_id().empty()) {
    GANDER_RETURN_IF_ERROR(ValidateStreamId("header.stream_id", header.stream_id()));
  }
  GANDER_ASSIGN_OR_RETURN(std::string tenant,
                          ActingTenant(caller, header.tenant(), options_.tenant_mode));
  const uint64_t limit = std::min(options_.max_import_bytes, kMaxStateBytes);
  if (header.size_bytes() == 0) {
    return absl::InvalidArgumentError("header.size_bytes is 0; a state is at least 1 byte");
  }
  if (header.size_bytes() > limit) {
    return absl::InvalidArgumentError(absl::StrCat("header.size_bytes ", header.size_bytes(),
                                                   " is over this server's limit of ", limit,
                                                   " bytes"));
  }
  if (!header.checkpoint_id().empty() && !storage::wire::IsCheckpointId(header.checkpoint_id())) {
    return absl::InvalidArgumentError(
        absl::StrCat("header.checkpoint_id '", absl::CHexEscape(header.checkpoint_id()),
                     "' is not 32 lowercase hex characters (an XXH3-128)"));
  }
  return tenant;
}

absl::StatusOr<storage::StreamInfo> StreamsService::CompleteImport(
    const grpc::ServerContextBase& context, const pb::ImportHeader& header,
    const std::string& tenant, const std::string& bytes) const {
  const std::string what = header.stream_id().empty()
                               ? std::string("importing a stream: ")
                               : absl::StrCat("importing stream '", header.stream_id(), "': ");
  if (!header.checkpoint_id().empty()) {
    const std::string actual = storage::wire::CheckpointIdOf(bytes);
    if (actual != header.checkpoint_id()) {
      return absl::DataLossError(absl::StrCat(
          what, "the ", bytes.size(), " bytes received hash to checkpoint id ", actual,
          ", the header says ", header.checkpoint_id(), " (corrupted in transit or at rest)"));
    }
  }
  absl::StatusOr<storage::SnapshotHeader> snapshot = storage::ReadSnapshotHeader(bytes);
  if (!snapshot.ok()) return WithPrefix(snapshot.status(), what);
  const engine::ModelConfig& config = model_config_;
  if (snapshot->model_fingerprint != model_fingerprint_ || snapshot->layers != config.layers ||
      snapshot->embd != config.embd || snapshot->heads != config.heads ||
      snapshot->head_size != config.head_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, "the state belongs to model '", absl::CHexEscape(snapshot->model_fingerprint), "' (",
        ShapeString(snapshot->layers, snapshot->embd, snapshot->heads, snapshot->head_size),
        "), not to the model '", model_name_, "' this worker serves ('", model_fingerprint_, "', ",
        ShapeString(config.layers, config.embd, config.heads, config.head_size), ")"));
  }
  // A full decode: the payload itself must decode to a state (checks the
  // codec's invariants that the header alone cannot).
  if (absl::StatusOr<storage::StreamSnapshot> decoded =
          storage::DecodeSnapshot(bytes, model_fingerprint_, model_config_);
      !decoded.ok()) {
    return WithPrefix(decoded.status(), what);
  }
  if (context.IsCancelled()) {
    return absl::CancelledError(absl::StrCat(what, "the client cancelled the call"));
  }
  return CreateWithStreamId(header.stream_id(), [&](const std::string& id) {
    storage::CreateStreamRequest request;
    request.id = id;
    request.tenant = tenant;
    request.model_fingerprint = model_fingerprint_;
    return storage::ImportCheckpoint(*store_, bytes, request);
  });
}

// Reads the header, then chunks, checking each as it arrives; at the
// client's half-close verifies and creates the stream. The first failed
// check finishes the call (the client's further writes fail).
class StreamsService::ImportReactor final
    : public grpc::ServerReadReactor<pb::ImportStreamRequest> {
 public:
  ImportReactor(const StreamsService& service, grpc::CallbackServerContext* context,
                pb::ImportStreamResponse* response)
      : service_(service), context_(context), response_(response) {
    absl::StatusOr<std::string> caller = service_.Caller(*context_);
    if (!caller.ok()) {
      Finish(ToGrpcStatus(caller.status()));
      return;
    }
    caller_ = std::move(*caller);
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // half-closed by the client, or the call failed
      Finish(ToGrpcStatus(Complete()));
      return;
    }
    ++messages_;
    if (absl::Status taken = Take(); !taken.ok()) {
      Finish(ToGrpcStatus(taken));
      return;
    }
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  // Checks and keeps message_ (message number messages_).
  absl::Status Take() {
    switch (message_.part_case()) {
      case pb::ImportStreamRequest::kHeader: {
        if (have_header_) {
          return absl::InvalidArgumentError(
              absl::StrCat("message ", messages_,
                           " of the import carries a second header; only the first "
                           "message may"));
        }
        GANDER_ASSIGN_OR_RETURN(tenant_, service_.CheckImportHeader(message_.header(), caller_));
        header_ = std::move(*message_.mutable_header());
        have_header_ = true;
        bytes_.reserve(std::min<size_t>(header_.size_bytes(), kMaxImportReserve));
        return absl::OkStatus();
      }
      case pb::ImportStreamRequest::kChunk: {
        if (!have_header_) {
          return absl::InvalidArgumentError(
              "the import's first message carries a chunk; it must carry `header`");
        }
        const std::string& chunk = message_.chunk();
        const std::string where = absl::StrCat("message ", messages_, " (a chunk of ", chunk.size(),
                                               " bytes at byte offset ", bytes_.size(), ")");
        if (chunk.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, " is empty; chunks are 1 byte to 1 MiB"));
        }
        if (chunk.size() > kMaxChunkBytes) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, " is over 1 MiB (", kMaxChunkBytes, " bytes)"));
        }
        if (chunk.size() > header_.size_bytes() - bytes_.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, " goes past the header's size_bytes of ", header_.size_bytes()));
        }
        bytes_.append(chunk);
        return absl::OkStatus();
      }
      default:
        return absl::InvalidArgumentError(
            have_header_ ? absl::StrCat("message ", messages_,
                                        " of the import carries neither header nor chunk")
                         : std::string("the import's first message carries neither header nor "
                                       "chunk; it must carry `header`"));
    }
  }

  // At the end of the client's messages.
  absl::Status Complete() {
    if (context_->IsCancelled()) {
      return absl::CancelledError("the import was cancelled by the client");
    }
    if (!have_header_) {
      return absl::InvalidArgumentError(
          "the import ended before its header (the first message must carry `header`)");
    }
    if (bytes_.size() != header_.size_bytes()) {
      return absl::InvalidArgumentError(absl::StrCat("the import ended after ", bytes_.size(),
                                                     " bytes; the header's size_bytes is ",
                                                     header_.size_bytes()));
    }
    GANDER_ASSIGN_OR_RETURN(const storage::StreamInfo info,
                            service_.CompleteImport(*context_, header_, tenant_, bytes_));
    storage::wire::StreamInfoToProto(info, response_->mutable_stream());
    return absl::OkStatus();
  }

  const StreamsService& service_;
  grpc::CallbackServerContext* const context_;
  pb::ImportStreamResponse* const response_;
  std::string caller_;
  pb::ImportStreamRequest message_;  // the message being read
  uint64_t messages_ = 0;            // messages read so far
  bool have_header_ = false;
  pb::ImportHeader header_;
  std::string tenant_;  // the new stream's
  std::string bytes_;   // received so far
};

grpc::ServerReadReactor<pb::ImportStreamRequest>* StreamsService::ImportStream(
    grpc::CallbackServerContext* context, pb::ImportStreamResponse* response) {
  return new ImportReactor(*this, context, response);
}

}  // namespace gander::service
