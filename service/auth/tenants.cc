#include "service/auth/tenants.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gander::service {
namespace {

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 256;
constexpr size_t kMaxTenantLength = 128;
constexpr uint32_t kMaxLimitValue = 1000000000;
constexpr absl::string_view kOpenStreamsOption = "max_open_streams";
constexpr absl::string_view kTokensPerRequestOption = "max_tokens_per_request";

// Reads the whole file at `path`. NOT_FOUND (with the reason) if it cannot.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot open token file '", path, "': ", std::strerror(errno)));
  }
  std::string contents;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::NotFoundError(
        absl::StrCat("cannot read token file '", path, "': ", std::strerror(error)));
  }
  return contents;
}

// Compares a presented token with a stored one without an early exit: the
// time depends on the stored token's length only, never on where the two
// differ.
bool ConstantTimeEquals(absl::string_view presented, absl::string_view stored) {
  uint32_t diff = presented.size() == stored.size() ? 0 : 1;
  const size_t presented_size = presented.size();
  for (size_t i = 0; i < stored.size(); ++i) {
    const unsigned char p =
        presented_size == 0 ? 0 : static_cast<unsigned char>(presented[i % presented_size]);
    diff |= static_cast<uint32_t>(p ^ static_cast<unsigned char>(stored[i]));
  }
  return diff == 0;
}

// Parses N of "option=N": decimal digits only, at most kMaxLimitValue.
bool ParseLimitValue(absl::string_view text, uint32_t* value) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > kMaxLimitValue) return false;
  *value = static_cast<uint32_t>(v);
  return true;
}

std::string LimitsText(const TenantLimits& limits) {
  return absl::StrCat(kOpenStreamsOption, "=", limits.max_open_streams, " ",
                      kTokensPerRequestOption, "=", limits.max_tokens_per_request);
}

}  // namespace

bool IsValidTenantId(absl::string_view tenant) {
  if (tenant.empty() || tenant.size() > kMaxTenantLength) return false;
  for (char c : tenant) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

TenantDirectory TenantDirectory::Disabled(const Options& options) {
  return TenantDirectory(/*enabled=*/false, options);
}

absl::StatusOr<TenantDirectory> TenantDirectory::Open(const std::string& path,
                                                      const Options& options) {
  if (path.empty()) return Disabled(options);
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  return Parse(*contents, path, options);
}

absl::StatusOr<TenantDirectory> TenantDirectory::Parse(absl::string_view contents,
                                                       absl::string_view source_name,
                                                       const Options& options) {
  TenantDirectory directory(/*enabled=*/true, options);
  const TenantLimits defaults{options.default_max_open_streams,
                              options.default_max_tokens_per_request};
  // Token -> line of its first appearance (only used while loading).
  absl::flat_hash_map<std::string, int> token_lines;
  // Tenant -> its limits and the line that first gave them.
  absl::flat_hash_map<std::string, std::pair<TenantLimits, int>> tenant_limits;

  absl::ConsumePrefix(&contents, "\xEF\xBB\xBF");  // a UTF-8 byte-order mark, if any
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    auto error = [&](const auto&... parts) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", line_number, ": ", parts...));
    };
    absl::ConsumeSuffix(&line, "\r");
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;

    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() < 2) {
      return error("expected 'TOKEN TENANT [", kOpenStreamsOption, "=N] [", kTokensPerRequestOption,
                   "=N]', found a single field");
    }

    const absl::string_view token = fields[0];
    if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
      return error("token has ", token.size(), " characters (must have ", kMinTokenLength, " to ",
                   kMaxTokenLength, ")");
    }
    for (size_t i = 0; i < token.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(token[i]);
      if (c < 0x21 || c > 0x7E) {
        return error("token character ", i + 1,
                     " is not printable ASCII (allowed: 0x21 to 0x7E, no spaces)");
      }
    }

    const absl::string_view tenant = fields[1];
    if (!IsValidTenantId(tenant)) {
      return error("tenant id '", absl::CHexEscape(tenant.substr(0, kMaxTenantLength + 1)),
                   "' does not match [A-Za-z0-9._:-]{1,128}");
    }

    TenantLimits limits = defaults;
    bool seen_open_streams = false;
    bool seen_tokens_per_request = false;
    for (size_t i = 2; i < fields.size(); ++i) {
      const absl::string_view field = fields[i];
      const size_t equals = field.find('=');
      const absl::string_view key = field.substr(0, equals);
      const absl::string_view value =
          equals == absl::string_view::npos ? absl::string_view() : field.substr(equals + 1);
      uint32_t* target;
      bool* seen;
      if (key == kOpenStreamsOption) {
        target = &limits.max_open_streams;
        seen = &seen_open_streams;
      } else if (key == kTokensPerRequestOption) {
        target = &limits.max_tokens_per_request;
        seen = &seen_tokens_per_request;
      } else {
        return error("unknown option '", absl::CHexEscape(key.substr(0, 64)), "' (expected ",
                     kOpenStreamsOption, "=N or ", kTokensPerRequestOption, "=N)");
      }
      if (*seen) return error("option ", key, " given twice");
      *seen = true;
      if (equals == absl::string_view::npos || !ParseLimitValue(value, target)) {
        return error("option ", key, " needs a decimal value from 0 to ", kMaxLimitValue,
                     " (0 = no limit), found '", absl::CHexEscape(value.substr(0, 32)), "'");
      }
    }

    auto [token_it, new_token] = token_lines.try_emplace(std::string(token), line_number);
    if (!new_token) {
      return error("duplicate token (first given on line ", token_it->second, ")");
    }
    auto [tenant_it, new_tenant] =
        tenant_limits.try_emplace(std::string(tenant), limits, line_number);
    if (!new_tenant && tenant_it->second.first != limits) {
      return error("tenant '", tenant, "' has limits (", LimitsText(limits),
                   ") that differ from line ", tenant_it->second.second, " (",
                   LimitsText(tenant_it->second.first),
                   "); every token of a tenant must give the same limits");
    }

    Entry entry;
    entry.token = std::string(token);
    entry.principal.tenant = std::string(tenant);
    entry.principal.limits = limits;
    entry.principal.authenticated = true;
    directory.entries_.push_back(std::move(entry));
  }
  if (directory.entries_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": no tokens (every caller would be refused)"));
  }
  return directory;
}

absl::StatusOr<Principal> TenantDirectory::Authenticate(
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata) const {
  if (!enabled_) return AuthenticateBearer("");
  const grpc::string_ref key(kAuthorizationMetadataKey.data(), kAuthorizationMetadataKey.size());
  auto [begin, end] = client_metadata.equal_range(key);
  if (begin == end) {
    return absl::UnauthenticatedError(
        "missing 'authorization' metadata (expected 'authorization: Bearer <token>')");
  }
  if (std::next(begin) != end) {
    return absl::UnauthenticatedError(
        "'authorization' metadata given more than once (send exactly one)");
  }
  return AuthenticateBearer(absl::string_view(begin->second.data(), begin->second.size()));
}

absl::StatusOr<Principal> TenantDirectory::AuthenticateBearer(
    absl::string_view authorization) const {
  if (!enabled_) {
    Principal principal;
    principal.tenant = std::string(kDefaultTenant);
    principal.limits =
        TenantLimits{options_.default_max_open_streams, options_.default_max_tokens_per_request};
    principal.authenticated = false;
    return principal;
  }
  // Never quote any part of `authorization` back: a client that forgot the
  // scheme sends its token in the place of the scheme.
  const size_t space = authorization.find_first_of(" \t");
  const absl::string_view scheme = authorization.substr(0, space);
  if (space == absl::string_view::npos || !absl::EqualsIgnoreCase(scheme, "Bearer")) {
    return absl::UnauthenticatedError(
        "'authorization' metadata does not use the Bearer scheme (expected 'Bearer <token>')");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(space + 1));
  if (token.empty()) return absl::UnauthenticatedError("empty bearer token");

  // Look at every entry, with no early exit, so that the time does not tell
  // which entry (if any) matched.
  size_t match = 0;  // Index + 1 of the matching entry; 0 = none.
  for (size_t i = 0; i < entries_.size(); ++i) {
    const size_t equal = ConstantTimeEquals(token, entries_[i].token) ? 1 : 0;
    match |= (i + 1) * equal;
  }
  if (match == 0) return absl::UnauthenticatedError("unknown bearer token");
  return entries_[match - 1].principal;
}

OpenStreamTicket::OpenStreamTicket(OpenStreamTicket&& other) noexcept
    : usage_(std::exchange(other.usage_, nullptr)), tenant_(std::move(other.tenant_)) {}

OpenStreamTicket& OpenStreamTicket::operator=(OpenStreamTicket&& other) noexcept {
  if (this != &other) {
    Release();
    usage_ = std::exchange(other.usage_, nullptr);
    tenant_ = std::move(other.tenant_);
  }
  return *this;
}

OpenStreamTicket::~OpenStreamTicket() { Release(); }

void OpenStreamTicket::Release() {
  if (usage_ == nullptr) return;
  std::exchange(usage_, nullptr)->ReleaseOpenStream(tenant_);
}

absl::StatusOr<OpenStreamTicket> TenantUsage::AcquireOpenStream(const Principal& principal) {
  absl::MutexLock lock(&mu_);
  const uint32_t limit = principal.limits.max_open_streams;
  size_t& open = open_streams_[principal.tenant];
  if (limit != 0 && open >= limit) {
    return absl::ResourceExhaustedError(absl::StrCat("tenant ", principal.tenant, " has ", open,
                                                     " open streams (limit ", limit, ")"));
  }
  ++open;
  return OpenStreamTicket(this, principal.tenant);
}

size_t TenantUsage::open_streams(absl::string_view tenant) const {
  absl::MutexLock lock(&mu_);
  auto it = open_streams_.find(tenant);
  return it == open_streams_.end() ? 0 : it->second;
}

void TenantUsage::ReleaseOpenStream(const std::string& tenant) {
  absl::MutexLock lock(&mu_);
  auto it = open_streams_.find(tenant);
  if (it == open_streams_.end()) return;  // Unreachable: every ticket was counted.
  if (--it->second == 0) open_streams_.erase(it);
}

}  // namespace gander::service
