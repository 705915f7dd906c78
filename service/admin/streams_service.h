// StreamsService: the gRPC service gander.v1.Streams
// (proto/gander/v1/streams.proto), the administrative contract of a worker:
// create, describe, list, fork, delete, export and import a tenant's streams
// without opening a session. Every call goes to the state store; states are
// checked against the worker's loaded model on import.
//
// Tenants. Every call first resolves the caller's tenant (TenantResolver,
// service/admin/caller.h; its error is the answer). A stream of another
// tenant is answered exactly as an unknown id: NOT_FOUND with the message
// "stream '<id>' not found", whatever the call, so existence never leaks. A
// request's `tenant` field other than the caller's is PERMISSION_DENIED
// (or, with TenantMode::kFromRequest, names the tenant to act for).
//
// Checks and codes, in order, besides the store's own (which pass through
// unchanged: ALREADY_EXISTS, UNAVAILABLE, DATA_LOSS, ...):
//   CreateStream   id well formed (INVALID_ARGUMENT); tenant rule; model ""
//                  or the loaded model's name (NOT_FOUND "unknown model").
//                  An empty id gets "s-" + 16 random hex digits.
//   GetStream      id; ownership (NOT_FOUND).
//   ListStreams    tenant rule; page_size 0 means 100, over 1000 is
//                  INVALID_ARGUMENT; a page token from another tenant or
//                  malformed is INVALID_ARGUMENT (the store's check).
//   ForkStream     ids; ownership of the source; the new stream belongs to
//                  the source's tenant and model (empty id: assigned).
//   DeleteStream   id; ownership; a stream with a live session on this
//                  worker (OpenStreamProbe) is FAILED_PRECONDITION "stream
//                  '<id>' is open in a session; close it first".
//   ExportStream   id; ownership; the version retained (NOT_FOUND, also for
//                  a stream without checkpoints); the stored bytes an
//                  intact snapshot (DATA_LOSS; FAILED_PRECONDITION for one
//                  this build cannot read). Then one header message and
//                  chunks of 1 MiB (the last may be shorter).
//   ImportStream   the first message a header, no later one (INVALID_ARGUMENT);
//                  header: id well formed, tenant rule, size_bytes in
//                  1..max_import_bytes, checkpoint_id empty or 32 lowercase
//                  hex (INVALID_ARGUMENT); chunks of 1 byte to 1 MiB that
//                  never go past size_bytes and end exactly at it
//                  (INVALID_ARGUMENT); the bytes' XXH3-128 equal to
//                  checkpoint_id when given (DATA_LOSS); the bytes a Gander
//                  state (INVALID_ARGUMENT), intact (DATA_LOSS), of the
//                  loaded model's fingerprint and shape (FAILED_PRECONDITION
//                  "the state belongs to model ..."), decoding cleanly
//                  (DATA_LOSS); then created in one atomic store call
//                  (storage/portable.h ImportCheckpoint). Nothing is written
//                  before every check has passed; a cancelled call writes
//                  nothing.
//
// Blocking: the handlers call the store (and, on import, hash and decode the
// state) on gRPC's callback threads. A store call takes milliseconds, and
// hashing and decoding a state about a millisecond per MB; acceptable for
// these administrative, low-rate calls, and never done on the session path.
// Export and import hold the whole state in memory (at most 1 GiB) for the
// length of the call.
//
// Races: ownership is checked with a read before the store call that acts.
// Reads (GetStream, ExportStream) re-read the stream afterwards and answer
// NOT_FOUND if it was deleted or replaced meanwhile; ForkStream undoes a fork
// whose source changed hands meanwhile. DeleteStream cannot be made atomic
// with its check through the StateStore interface: deleting and re-creating
// the same id for another tenant between the two calls (milliseconds) would
// let the delete hit the new stream.
//
// Example:
//   StreamsService streams(store.get(), *model, "rwkv7-0.1b", tenant_of,
//                          [&](const std::string& id) { return sessions.IsOpen(id); });
//   grpc::ServerBuilder builder;
//   builder.RegisterService(&streams);
//
// Ownership: the store is borrowed and must outlive the service; the model
// is read once in the constructor (name, fingerprint, shape are copied) and
// need not outlive it. The service must outlive the server it is registered
// with.
// Thread safety: every handler may run concurrently; the service holds no
// mutable state. The resolver and the probe must be thread-safe.
// Failure behaviour: every call is finished exactly once, with a status,
// also when the client cancels; nothing aborts on any request.
#ifndef GANDER_SERVICE_ADMIN_STREAMS_SERVICE_H_
#define GANDER_SERVICE_ADMIN_STREAMS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/model_config.h"
#include "gander/v1/streams.grpc.pb.h"
#include "service/admin/caller.h"
#include "storage/state_store.h"

namespace gander::service {

// Whether `stream_id` has a live session on this worker. Thread-safe.
using OpenStreamProbe = std::function<bool(const std::string& stream_id)>;

// The largest state the contract (and the store) accept: 1 GiB.
inline constexpr uint64_t kMaxStateBytes = uint64_t{1} << 30;
// The most bytes in one chunk of ExportStream or ImportStream: 1 MiB.
inline constexpr uint64_t kMaxChunkBytes = uint64_t{1} << 20;

struct StreamsServiceOptions {
  // The largest ImportHeader.size_bytes accepted, in bytes; larger is
  // INVALID_ARGUMENT before any chunk is read. Values over kMaxStateBytes
  // act as kMaxStateBytes. Default: 1 GiB.
  uint64_t max_import_bytes = kMaxStateBytes;
  // How a request's `tenant` field other than the caller's is taken
  // (service/admin/caller.h). kFromRequest only for a worker without
  // authentication: callers are trusted, and calls that name a stream reach
  // it whatever its tenant. Default: kStrict (PERMISSION_DENIED, and another
  // tenant's stream is NOT_FOUND).
  TenantMode tenant_mode = TenantMode::kStrict;
};

class StreamsService final : public gander::v1::Streams::CallbackService {
 public:
  // `model_name` is ModelInfo.name of `model`, the one model the worker
  // serves. A null `is_open_here` means no stream is ever open here.
  StreamsService(storage::StateStore* store, const engine::Backend& model, std::string model_name,
                 TenantResolver tenant_of, OpenStreamProbe is_open_here,
                 StreamsServiceOptions options = {});

  grpc::ServerUnaryReactor* CreateStream(grpc::CallbackServerContext* context,
                                         const gander::v1::CreateStreamRequest* request,
                                         gander::v1::CreateStreamResponse* response) override;
  grpc::ServerUnaryReactor* GetStream(grpc::CallbackServerContext* context,
                                      const gander::v1::GetStreamRequest* request,
                                      gander::v1::GetStreamResponse* response) override;
  grpc::ServerUnaryReactor* ListStreams(grpc::CallbackServerContext* context,
                                        const gander::v1::ListStreamsRequest* request,
                                        gander::v1::ListStreamsResponse* response) override;
  grpc::ServerUnaryReactor* ForkStream(grpc::CallbackServerContext* context,
                                       const gander::v1::ForkStreamRequest* request,
                                       gander::v1::ForkStreamResponse* response) override;
  grpc::ServerUnaryReactor* DeleteStream(grpc::CallbackServerContext* context,
                                         const gander::v1::DeleteStreamRequest* request,
                                         gander::v1::DeleteStreamResponse* response) override;
  grpc::ServerWriteReactor<gander::v1::ExportStreamResponse>* ExportStream(
      grpc::CallbackServerContext* context,
      const gander::v1::ExportStreamRequest* request) override;
  grpc::ServerReadReactor<gander::v1::ImportStreamRequest>* ImportStream(
      grpc::CallbackServerContext* context, gander::v1::ImportStreamResponse* response) override;

 private:
  class ExportReactor;  // stream_transfer.cc
  class ImportReactor;  // stream_transfer.cc

  // What ExportStream sends: the header message and the bytes to chunk.
  struct Export {
    gander::v1::ExportStreamResponse header;
    std::string bytes;
  };

  absl::Status Create(const grpc::ServerContextBase& context,
                      const gander::v1::CreateStreamRequest& request,
                      gander::v1::CreateStreamResponse* response) const;
  absl::Status Get(const grpc::ServerContextBase& context,
                   const gander::v1::GetStreamRequest& request,
                   gander::v1::GetStreamResponse* response) const;
  absl::Status List(const grpc::ServerContextBase& context,
                    const gander::v1::ListStreamsRequest& request,
                    gander::v1::ListStreamsResponse* response) const;
  absl::Status Fork(const grpc::ServerContextBase& context,
                    const gander::v1::ForkStreamRequest& request,
                    gander::v1::ForkStreamResponse* response) const;
  absl::Status Delete(const grpc::ServerContextBase& context,
                      const gander::v1::DeleteStreamRequest& request) const;
  absl::StatusOr<Export> PrepareExport(const grpc::ServerContextBase& context,
                                       const gander::v1::ExportStreamRequest& request) const;
  // Checks an import's header for a call by `caller`; returns the tenant the
  // new stream will belong to.
  absl::StatusOr<std::string> CheckImportHeader(const gander::v1::ImportHeader& header,
                                                const std::string& caller) const;
  // Verifies the received `bytes` against `header` and the loaded model,
  // then, unless the call was cancelled meanwhile, creates the stream.
  absl::StatusOr<storage::StreamInfo> CompleteImport(const grpc::ServerContextBase& context,
                                                     const gander::v1::ImportHeader& header,
                                                     const std::string& tenant,
                                                     const std::string& bytes) const;

  absl::StatusOr<std::string> Caller(const grpc::ServerContextBase& context) const;
  // `id`'s stream when it belongs to `tenant`; NOT_FOUND, identical for an
  // unknown id and another tenant's, otherwise.
  absl::StatusOr<storage::StreamInfo> OwnedStream(const std::string& id,
                                                  const std::string& tenant) const;
  // Re-reads `seen`'s stream: NOT_FOUND when it was deleted or replaced (by
  // a stream of the same id created later) since `seen` was read.
  absl::StatusOr<storage::StreamInfo> StillSameStream(const storage::StreamInfo& seen) const;

  storage::StateStore* const store_;
  const std::string model_name_;
  const std::string model_fingerprint_;
  const engine::ModelConfig model_config_;
  const TenantResolver tenant_of_;
  const OpenStreamProbe is_open_here_;
  const StreamsServiceOptions options_;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_ADMIN_STREAMS_SERVICE_H_
