// InProcessStoreServer: a StateStoreService over a given store, listening on
// a loopback port chosen by the kernel (127.0.0.1:0), for tests of the
// remote store and of the service itself.
//
// Example:
//   std::unique_ptr<StateStore> backend = NewMemoryStateStore({});
//   auto server = InProcessStoreServer::Start(backend.get());
//   ASSERT_TRUE(server.ok());
//   RemoteStoreOptions options;
//   options.target = (*server)->target();  // "127.0.0.1:<port>"
//
// Ownership: the store is borrowed and must outlive the server.
// Thread safety: use from one thread; Shutdown may be called more than once
// (the destructor calls it).
// Failure behaviour: Start returns UNAVAILABLE when no port could be bound.
#ifndef GANDER_SERVICE_STORE_IN_PROCESS_STORE_SERVER_H_
#define GANDER_SERVICE_STORE_IN_PROCESS_STORE_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "service/store/state_store_service.h"
#include "storage/state_store.h"

namespace gander::service {

class InProcessStoreServer {
 public:
  static absl::StatusOr<std::unique_ptr<InProcessStoreServer>> Start(
      storage::StateStore* store, StateStoreServiceOptions options = {}) {
    auto server =
        std::unique_ptr<InProcessStoreServer>(new InProcessStoreServer(store, std::move(options)));
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &server->port_);
    builder.RegisterService(&server->service_);
    server->server_ = builder.BuildAndStart();
    if (server->server_ == nullptr || server->port_ <= 0) {
      return absl::UnavailableError("could not start a store server on 127.0.0.1:0");
    }
    return server;
  }

  ~InProcessStoreServer() { Shutdown(); }

  int port() const { return port_; }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  grpc::Server* server() { return server_.get(); }

  // Stops listening and cancels calls in flight; later calls to the port
  // fail with UNAVAILABLE.
  void Shutdown() {
    if (server_ != nullptr && !shut_down_) {
      shut_down_ = true;
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
    }
  }

 private:
  InProcessStoreServer(storage::StateStore* store, StateStoreServiceOptions options)
      : service_(store, std::move(options)) {}

  StateStoreService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  bool shut_down_ = false;
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_STORE_IN_PROCESS_STORE_SERVER_H_
