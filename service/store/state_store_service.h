// StateStoreService: the gRPC service gander.store.v1.StateStore
// (proto/gander/store/v1/state_store.proto) over any storage::StateStore, so
// several workers can share one store (`gander store-server`; the client is
// storage/remote/remote_state_store.h).
//
// Each RPC calls exactly one method of the store and returns its status with
// the same code and message (common/grpc_status.h). What the service checks
// itself is the chunked transfer of checkpoints (storage/remote/wire.h):
//   INVALID_ARGUMENT  an upload whose first message is not its header, a
//                     second header, a message with neither part, an empty
//                     chunk or one over 1 MiB, chunks going past the
//                     header's size_bytes or ending short of it, a
//                     size_bytes over 1 GiB, a checkpoint_id that is not 32
//                     lowercase hex characters
//   DATA_LOSS         the uploaded bytes do not hash to the checkpoint_id
//   CANCELLED         the caller cancelled the upload or the download
// A rejected or cancelled upload reaches the store not at all: nothing is
// written. Downloads go out as a header and chunks of at most 1 MiB (each
// full but the last). ListStreams' page_size 0 means 100, as the contract
// says; every other value goes to the store as is.
//
// StateStoreServiceOptions::on_call_end reports every call (metrics).
//
// Example:
//   std::unique_ptr<storage::StateStore> store = ...;
//   service::StateStoreService service(store.get());
//   grpc::ServerBuilder builder;
//   builder.AddListeningPort("0.0.0.0:50052", grpc::InsecureServerCredentials());
//   builder.RegisterService(&service);
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//
// Ownership: the store is borrowed; it must outlive the service, and the
// service must outlive the server it is registered with.
// Thread safety: handlers run concurrently on the server's threads (the
// synchronous API: the stores block on disk, so a handler holds its thread
// for the length of one store call; a transfer holds it while chunks flow).
// Failure behaviour: malformed requests are answered with a status, never a
// crash; the store's errors pass through unchanged.
#ifndef GANDER_SERVICE_STORE_STATE_STORE_SERVICE_H_
#define GANDER_SERVICE_STORE_STATE_STORE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gander/store/v1/state_store.grpc.pb.h"
#include "storage/state_store.h"

namespace gander::service {

struct StateStoreServiceOptions {
  // Called once at the end of every RPC (for metrics) with the method's full
  // gRPC name ("gander.store.v1.StateStore/Commit"), the status code it
  // ended with and how long it took (transfers included). Runs on the
  // handler's thread: it must be thread-safe and quick. Default: none.
  std::function<void(const std::string& method, absl::StatusCode code, absl::Duration elapsed)>
      on_call_end;
};

class StateStoreService final : public gander::store::v1::StateStore::Service {
 public:
  explicit StateStoreService(storage::StateStore* store, StateStoreServiceOptions options = {})
      : store_(store), options_(std::move(options)) {}

  grpc::Status CreateStream(grpc::ServerContext* context,
                            const gander::store::v1::CreateStreamRequest* request,
                            gander::store::v1::CreateStreamResponse* response) override;
  grpc::Status GetStream(grpc::ServerContext* context,
                         const gander::store::v1::GetStreamRequest* request,
                         gander::store::v1::GetStreamResponse* response) override;
  grpc::Status CreateStreamWithCheckpoint(
      grpc::ServerContext* context,
      grpc::ServerReader<gander::store::v1::CreateStreamWithCheckpointRequest>* reader,
      gander::store::v1::CreateStreamWithCheckpointResponse* response) override;
  grpc::Status Commit(grpc::ServerContext* context,
                      grpc::ServerReader<gander::store::v1::CommitRequest>* reader,
                      gander::store::v1::CommitResponse* response) override;
  grpc::Status GetCheckpoint(
      grpc::ServerContext* context, const gander::store::v1::GetCheckpointRequest* request,
      grpc::ServerWriter<gander::store::v1::GetCheckpointResponse>* writer) override;
  grpc::Status ListVersions(grpc::ServerContext* context,
                            const gander::store::v1::ListVersionsRequest* request,
                            gander::store::v1::ListVersionsResponse* response) override;
  grpc::Status Fork(grpc::ServerContext* context, const gander::store::v1::ForkRequest* request,
                    gander::store::v1::ForkResponse* response) override;
  grpc::Status DeleteStream(grpc::ServerContext* context,
                            const gander::store::v1::DeleteStreamRequest* request,
                            gander::store::v1::DeleteStreamResponse* response) override;
  grpc::Status ListStreams(grpc::ServerContext* context,
                           const gander::store::v1::ListStreamsRequest* request,
                           gander::store::v1::ListStreamsResponse* response) override;
  grpc::Status AcquireLease(grpc::ServerContext* context,
                            const gander::store::v1::AcquireLeaseRequest* request,
                            gander::store::v1::AcquireLeaseResponse* response) override;
  grpc::Status RenewLease(grpc::ServerContext* context,
                          const gander::store::v1::RenewLeaseRequest* request,
                          gander::store::v1::RenewLeaseResponse* response) override;
  grpc::Status ReleaseLease(grpc::ServerContext* context,
                            const gander::store::v1::ReleaseLeaseRequest* request,
                            gander::store::v1::ReleaseLeaseResponse* response) override;
  grpc::Status DeleteIdleStreams(grpc::ServerContext* context,
                                 const gander::store::v1::DeleteIdleStreamsRequest* request,
                                 gander::store::v1::DeleteIdleStreamsResponse* response) override;

 private:
  // Runs `call`, reporting it to options_.on_call_end.
  grpc::Status Observe(absl::string_view method, absl::FunctionRef<grpc::Status()> call);

  storage::StateStore* const store_;
  const StateStoreServiceOptions options_;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_STORE_STATE_STORE_SERVICE_H_
