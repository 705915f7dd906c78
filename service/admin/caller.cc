#include "service/admin/caller.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/admin/ids.h"

namespace gander::service {

absl::StatusOr<std::string> ResolveCaller(const TenantResolver& resolver,
                                          const grpc::ServerContextBase& context) {
  if (!resolver) {
    return absl::InternalError("the server has no way to tell the caller's tenant");
  }
  absl::StatusOr<std::string> tenant = resolver(context);
  if (!tenant.ok()) return tenant.status();
  if (absl::Status valid = ValidateStreamId("the caller's tenant", *tenant); !valid.ok()) {
    return absl::InternalError(valid.message());
  }
  return tenant;
}

absl::StatusOr<std::string> ActingTenant(const std::string& caller, const std::string& requested,
                                         TenantMode mode) {
  if (requested.empty() || requested == caller) return caller;
  if (mode == TenantMode::kFromRequest) {
    if (absl::Status valid = ValidateStreamId("tenant", requested); !valid.ok()) return valid;
    return requested;
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "the request names tenant '", absl::CHexEscape(requested), "', but the caller is tenant '",
      caller, "'; a caller may act only for its own tenant"));
}

}  // namespace gander::service
