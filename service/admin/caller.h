// Who an admin call acts for: the caller's tenant, as the worker's
// authentication reports it, and the rule for requests that name a tenant.
//
// A TenantResolver answers the caller's tenant from its call context (with
// authentication on, from the bearer token; off, a fixed tenant such as
// "default"), or the error to answer the call with (UNAUTHENTICATED, ...),
// which the services return unchanged.
//
// Tenant rule of requests with a `tenant` field (CreateStream, ListStreams,
// ImportStream's header):
//   empty                                   the caller's tenant
//   equal to the caller's                   the caller's tenant
//   another tenant, strict mode (default)   PERMISSION_DENIED
//   another tenant, request mode            that tenant (a worker without
//                                           authentication: the contract lets
//                                           a request name its tenant), if
//                                           well formed (else INVALID_ARGUMENT)
//
// Example:
//   TenantResolver tenant_of = [&](const grpc::ServerContextBase& context)
//       -> absl::StatusOr<std::string> {
//     GANDER_ASSIGN_OR_RETURN(Principal p, directory.Authenticate(context.client_metadata()));
//     return p.tenant;
//   };
//   GANDER_ASSIGN_OR_RETURN(std::string caller, ResolveCaller(tenant_of, *context));
//   GANDER_ASSIGN_OR_RETURN(std::string tenant,
//                           ActingTenant(caller, request.tenant(), TenantMode::kStrict));
//
// Thread safety: pure functions; the resolver must be safe to call from
// several threads at once.
#ifndef GANDER_SERVICE_ADMIN_CALLER_H_
#define GANDER_SERVICE_ADMIN_CALLER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::service {

// The caller's tenant ([A-Za-z0-9._:-]{1,128}) or the status to answer with.
using TenantResolver = std::function<absl::StatusOr<std::string>(const grpc::ServerContextBase&)>;

// How a request's `tenant` field other than the caller's own is taken.
enum class TenantMode {
  kStrict,       // PERMISSION_DENIED (authentication on; the default)
  kFromRequest,  // the call acts for that tenant (authentication off)
};

// The caller's tenant from `resolver`; its error unchanged. INTERNAL when no
// resolver was given, or when it answers a malformed tenant (a worker bug,
// not the caller's).
absl::StatusOr<std::string> ResolveCaller(const TenantResolver& resolver,
                                          const grpc::ServerContextBase& context);

// The tenant a call with `requested` in its `tenant` field acts for (see the
// table above).
absl::StatusOr<std::string> ActingTenant(const std::string& caller, const std::string& requested,
                                         TenantMode mode);

}  // namespace gander::service

#endif  // GANDER_SERVICE_ADMIN_CALLER_H_
