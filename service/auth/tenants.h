// Who is calling, and how much that caller may use: the tenant directory
// (bearer tokens -> tenants and their limits) and the per-tenant counter of
// open streams.
//
// A worker started with `--auth-tokens=FILE` loads the token file once at
// start-up and authenticates every call from its gRPC metadata
// (`authorization: Bearer <token>`). Without the flag, authentication is
// off: every caller is the tenant "default" with the default limits.
//
// Token file format (UTF-8 text; see testdata/tokens.example):
//   - A leading UTF-8 byte-order mark is skipped.
//   - A line whose first non-blank character is '#' is a comment; blank
//     lines are ignored. '#' elsewhere is an ordinary character (tokens may
//     contain it). Lines may end in "\n" or "\r\n".
//   - Every other line is one entry, fields separated by spaces or tabs:
//       TOKEN TENANT [max_open_streams=N] [max_tokens_per_request=N]
//     TOKEN: 16 to 256 printable ASCII characters other than space (0x21 to
//     0x7E). TENANT: [A-Za-z0-9._:-]{1,128}. N: a decimal integer in
//     [0, 1000000000]; 0 means "no limit". An option left out takes its
//     value from TenantDirectory::Options. Each option at most once per line.
//   - A token may appear only once in the file. A tenant may have several
//     tokens (several lines, for rotation); all its lines must then give the
//     same limits.
//   Every error is INVALID_ARGUMENT and names the file and line number; it
//   never quotes a token. A missing or unreadable file is NOT_FOUND.
//
// Example:
//   GANDER_ASSIGN_OR_RETURN(TenantDirectory tenants,
//                           TenantDirectory::Open(flags.auth_tokens));  // "" = disabled
//   TenantUsage usage;
//   ...
//   // In a handler:
//   absl::StatusOr<Principal> caller = tenants.Authenticate(context->client_metadata());
//   if (!caller.ok()) return ToGrpcStatus(caller.status());       // UNAUTHENTICATED
//   absl::StatusOr<OpenStreamTicket> ticket = usage.AcquireOpenStream(*caller);
//   if (!ticket.ok()) return ToGrpcStatus(ticket.status());       // RESOURCE_EXHAUSTED
//   // Keep `*ticket` alive as long as the stream is open.
//
// Ownership: TenantDirectory is a value (movable, copyable) holding the
// tokens in memory. An OpenStreamTicket points into the TenantUsage that
// issued it, which must outlive the ticket.
//
// Thread safety: a TenantDirectory is immutable after construction; its const
// methods may be called concurrently. TenantUsage is fully thread-safe.
//
// Secrets: tokens are compared in constant time (for a given token length
// and directory size, the time does not depend on which bytes match) and
// never appear in a Status message or a log line.
#ifndef GANDER_SERVICE_AUTH_TENANTS_H_
#define GANDER_SERVICE_AUTH_TENANTS_H_

#include <grpcpp/support/string_ref.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace gander::service {

// What one tenant may use. 0 in a field means "no per-tenant limit" (the
// worker's own limits still apply).
struct TenantLimits {
  // Streams the tenant may have open at once (Sessions.Stream calls past
  // `open`), on one worker.
  uint32_t max_open_streams = 0;
  // Tokens one `generate` may produce; also caps a request's `max_tokens`.
  uint32_t max_tokens_per_request = 0;

  friend bool operator==(const TenantLimits& a, const TenantLimits& b) {
    return a.max_open_streams == b.max_open_streams &&
           a.max_tokens_per_request == b.max_tokens_per_request;
  }
  friend bool operator!=(const TenantLimits& a, const TenantLimits& b) { return !(a == b); }
};

// An authenticated caller.
struct Principal {
  // The tenant, [A-Za-z0-9._:-]{1,128}; "default" when authentication is off.
  std::string tenant;
  // The tenant's limits (file values, else the directory's defaults).
  TenantLimits limits;
  // True when the tenant was proven by a bearer token; false when
  // authentication is off (then a request may name its own tenant).
  bool authenticated = false;
};

// Limits for tenants whose token-file line does not set them, and for every
// caller when authentication is off.
struct TenantDirectoryOptions {
  // Default: 0 (no per-tenant limit on open streams).
  uint32_t default_max_open_streams = 0;
  // Default: 0 (no per-tenant limit; the worker's per-request limit applies).
  uint32_t default_max_tokens_per_request = 0;
};

// The tenant of every caller when authentication is off.
inline constexpr absl::string_view kDefaultTenant = "default";

// The metadata key carrying the bearer token (gRPC lower-cases keys).
inline constexpr absl::string_view kAuthorizationMetadataKey = "authorization";

// True when `tenant` matches [A-Za-z0-9._:-]{1,128}.
bool IsValidTenantId(absl::string_view tenant);

// Bearer tokens and the tenants they stand for.
class TenantDirectory {
 public:
  using Options = TenantDirectoryOptions;

  // Authentication off: every caller is tenant "default" with the limits of
  // `options`.
  static TenantDirectory Disabled(const Options& options = Options());

  // Loads the token file at `path`; an empty `path` gives Disabled(options).
  // NOT_FOUND if the file cannot be read, INVALID_ARGUMENT (naming the line)
  // if it is malformed. A file with no entries is INVALID_ARGUMENT too: it
  // would lock every caller out.
  static absl::StatusOr<TenantDirectory> Open(const std::string& path = "",
                                              const Options& options = Options());

  // Parses token-file `contents`; `source_name` prefixes error messages
  // ("source_name:LINE: ..."). Same errors as Open except NOT_FOUND.
  static absl::StatusOr<TenantDirectory> Parse(absl::string_view contents,
                                               absl::string_view source_name,
                                               const Options& options = Options());

  // Whether callers must present a token.
  bool enabled() const { return enabled_; }
  // Number of tokens loaded (0 when disabled).
  size_t token_count() const { return entries_.size(); }
  const Options& options() const { return options_; }

  // Authenticates a call from its client metadata (ServerContext::
  // client_metadata()). When disabled, returns the "default" principal
  // whatever the metadata. Otherwise UNAUTHENTICATED when the `authorization`
  // entry is missing or given more than once, does not use the Bearer scheme
  // (compared case-insensitively), has an empty token, or the token is
  // unknown.
  absl::StatusOr<Principal> Authenticate(
      const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata) const;

  // Authenticates one `authorization` metadata value ("Bearer <token>").
  // Same results as Authenticate.
  absl::StatusOr<Principal> AuthenticateBearer(absl::string_view authorization) const;

 private:
  struct Entry {
    std::string token;
    Principal principal;
  };

  TenantDirectory(bool enabled, const Options& options) : enabled_(enabled), options_(options) {}

  bool enabled_;
  Options options_;
  std::vector<Entry> entries_;
};

class TenantUsage;

// One open stream counted against its tenant. Move-only; releases its slot
// when destroyed (or when Release() is called). A default-constructed or
// moved-from ticket holds nothing.
class OpenStreamTicket {
 public:
  OpenStreamTicket() = default;
  OpenStreamTicket(OpenStreamTicket&& other) noexcept;
  OpenStreamTicket& operator=(OpenStreamTicket&& other) noexcept;
  OpenStreamTicket(const OpenStreamTicket&) = delete;
  OpenStreamTicket& operator=(const OpenStreamTicket&) = delete;
  ~OpenStreamTicket();

  // Gives the slot back now; the ticket then holds nothing.
  void Release();
  // Whether the ticket still holds a slot.
  bool held() const { return usage_ != nullptr; }
  const std::string& tenant() const { return tenant_; }

 private:
  friend class TenantUsage;
  OpenStreamTicket(TenantUsage* usage, std::string tenant)
      : usage_(usage), tenant_(std::move(tenant)) {}

  TenantUsage* usage_ = nullptr;
  std::string tenant_;
};

// Counts open streams per tenant and admits new ones within the tenant's
// `max_open_streams`. Thread-safe. Must outlive every ticket it issued.
class TenantUsage {
 public:
  TenantUsage() = default;
  TenantUsage(const TenantUsage&) = delete;
  TenantUsage& operator=(const TenantUsage&) = delete;

  // Counts one more open stream for `principal.tenant`, or returns
  // RESOURCE_EXHAUSTED ("tenant acme has 3 open streams (limit 3)") when the
  // tenant is at its limit (nothing is counted then).
  absl::StatusOr<OpenStreamTicket> AcquireOpenStream(const Principal& principal)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Streams `tenant` has open now.
  size_t open_streams(absl::string_view tenant) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class OpenStreamTicket;
  void ReleaseOpenStream(const std::string& tenant) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, size_t> open_streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gander::service

#endif  // GANDER_SERVICE_AUTH_TENANTS_H_
