// Conversions between absl::Status (used everywhere inside Gander) and
// grpc::Status (what crosses the wire), for every layer that speaks gRPC
// (the servers, the remote store client, the clients). The canonical codes are the same
// numbers in both, so a code is never changed on the way; only the message
// is carried. Every gRPC handler returns ToGrpcStatus(...) of its internal
// result, and every client turns a grpc::Status back with FromGrpcStatus.
//
// Thread safety: pure functions.
#ifndef GANDER_COMMON_GRPC_STATUS_H_
#define GANDER_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace gander {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace gander

#endif  // GANDER_COMMON_GRPC_STATUS_H_
