#include "service/auth/tenants.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gander::service {
namespace {

using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

constexpr char kAcmeToken[] = "acme-token-0123456789abcdef";
constexpr char kGlobexToken[] = "globex#token+with/symbols!";

// A file of the source tree, as the test sees it (Bazel runfiles).
std::string SourcePath(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return relative;
  return absl::StrCat(srcdir, "/", workspace, "/", relative);
}

TenantDirectory::Options TestOptions() {
  TenantDirectory::Options options;
  options.default_max_open_streams = 5;
  options.default_max_tokens_per_request = 1000;
  return options;
}

TenantDirectory ParseOrDie(absl::string_view contents) {
  absl::StatusOr<TenantDirectory> directory =
      TenantDirectory::Parse(contents, "tokens.txt", TestOptions());
  EXPECT_TRUE(directory.ok()) << directory.status();
  return directory.ok() ? *std::move(directory) : TenantDirectory::Disabled();
}

TenantDirectory TwoTenants() {
  return ParseOrDie(absl::StrCat("# two tenants\n", kAcmeToken, " acme max_open_streams=2\n",
                                 kGlobexToken, "\tglobex.eu:prod\tmax_tokens_per_request=64\n"));
}

// Expects Parse(contents) to fail with INVALID_ARGUMENT naming `line`, with
// `fragment` in the message.
void ExpectParseError(absl::string_view contents, int line, absl::string_view fragment) {
  absl::StatusOr<TenantDirectory> directory =
      TenantDirectory::Parse(contents, "tokens.txt", TestOptions());
  ASSERT_FALSE(directory.ok()) << "accepted:\n" << contents;
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument) << directory.status();
  EXPECT_NE(directory.status().message().find(absl::StrCat("tokens.txt:", line, ": ")),
            absl::string_view::npos)
      << directory.status();
  EXPECT_NE(directory.status().message().find(fragment), absl::string_view::npos)
      << directory.status();
}

TEST(TenantDirectoryParse, ReadsEntriesLimitsAndDefaults) {
  TenantDirectory directory = TwoTenants();
  EXPECT_TRUE(directory.enabled());
  EXPECT_EQ(directory.token_count(), 2u);

  absl::StatusOr<Principal> acme =
      directory.AuthenticateBearer(absl::StrCat("Bearer ", kAcmeToken));
  ASSERT_TRUE(acme.ok()) << acme.status();
  EXPECT_EQ(acme->tenant, "acme");
  EXPECT_TRUE(acme->authenticated);
  EXPECT_EQ(acme->limits.max_open_streams, 2u);
  EXPECT_EQ(acme->limits.max_tokens_per_request, 1000u);  // the default

  absl::StatusOr<Principal> globex =
      directory.AuthenticateBearer(absl::StrCat("Bearer ", kGlobexToken));
  ASSERT_TRUE(globex.ok()) << globex.status();
  EXPECT_EQ(globex->tenant, "globex.eu:prod");
  EXPECT_EQ(globex->limits.max_open_streams, 5u);  // the default
  EXPECT_EQ(globex->limits.max_tokens_per_request, 64u);
}

TEST(TenantDirectoryParse, AcceptsBomCrlfIndentedCommentsAndZeroLimits) {
  TenantDirectory directory = ParseOrDie(
      absl::StrCat("\xEF\xBB\xBF   # indented comment after a byte-order mark\r\n\r\n  \t\n",
                   kAcmeToken, " acme max_open_streams=0 max_tokens_per_request=1000000000  \r\n"));
  absl::StatusOr<Principal> acme =
      directory.AuthenticateBearer(absl::StrCat("Bearer ", kAcmeToken));
  ASSERT_TRUE(acme.ok()) << acme.status();
  EXPECT_EQ(acme->limits.max_open_streams, 0u);
  EXPECT_EQ(acme->limits.max_tokens_per_request, 1000000000u);
}

TEST(TenantDirectoryParse, TokenLengthBoundaries) {
  const std::string min_token(16, 'a');
  const std::string max_token(256, 'b');
  TenantDirectory directory = ParseOrDie(absl::StrCat(min_token, " t1\n", max_token, " t2\n"));
  EXPECT_EQ(directory.AuthenticateBearer("Bearer " + min_token)->tenant, "t1");
  EXPECT_EQ(directory.AuthenticateBearer("Bearer " + max_token)->tenant, "t2");

  ExpectParseError(absl::StrCat("# c\n", std::string(15, 'a'), " t1\n"), 2,
                   "token has 15 characters");
  ExpectParseError(absl::StrCat(std::string(257, 'a'), " t1\n"), 1, "token has 257 characters");
}

TEST(TenantDirectoryParse, RejectsBadLines) {
  const std::string ok = absl::StrCat(kAcmeToken, " acme\n");
  ExpectParseError(ok + "lonely-field-0123456789\n", 2, "found a single field");
  ExpectParseError(ok + "abcdefghij\x01klmnopqrstu tenant\n", 2,
                   "token character 11 is not printable ASCII");
  ExpectParseError(ok + "abcdefghij\xc3\xa9klmnopqrstu tenant\n", 2,
                   "token character 11 is not printable ASCII");
  ExpectParseError(ok + "0123456789abcdef0 bad/tenant\n", 2, "tenant id 'bad/tenant'");
  ExpectParseError(ok + absl::StrCat("0123456789abcdef0 ", std::string(129, 't'), "\n"), 2,
                   "does not match");
  ExpectParseError(ok + "0123456789abcdef0 t max_streams=3\n", 2, "unknown option 'max_streams'");
  ExpectParseError(ok + "0123456789abcdef0 t max_open_streams\n", 2,
                   "max_open_streams needs a decimal value");
  ExpectParseError(ok + "0123456789abcdef0 t max_open_streams=\n", 2, "found ''");
  ExpectParseError(ok + "0123456789abcdef0 t max_open_streams=-1\n", 2, "found '-1'");
  ExpectParseError(ok + "0123456789abcdef0 t max_open_streams=+1\n", 2, "found '+1'");
  ExpectParseError(ok + "0123456789abcdef0 t max_open_streams=1000000001\n", 2,
                   "found '1000000001'");
  ExpectParseError(ok + "0123456789abcdef0 t max_tokens_per_request=1x\n", 2, "found '1x'");
  ExpectParseError(ok + "0123456789abcdef0 t max_open_streams=1 max_open_streams=1\n", 2,
                   "option max_open_streams given twice");
}

TEST(TenantDirectoryParse, DuplicateTokenNamesBothLinesAndHidesTheToken) {
  absl::StatusOr<TenantDirectory> directory = TenantDirectory::Parse(
      absl::StrCat(kAcmeToken, " acme\n# comment\n", kAcmeToken, " other\n"), "tokens.txt");
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(directory.status().message(), "tokens.txt:3: duplicate token (first given on line 1)");
}

TEST(TenantDirectoryParse, TenantWithSeveralTokensNeedsTheSameLimits) {
  const std::string second = "second-acme-token-0000";
  TenantDirectory directory = ParseOrDie(
      absl::StrCat(kAcmeToken, " acme max_open_streams=3\n", second, " acme max_open_streams=3\n"));
  EXPECT_EQ(directory.AuthenticateBearer("Bearer " + second)->tenant, "acme");

  ExpectParseError(absl::StrCat(kAcmeToken, " acme max_open_streams=3\n\n", second, " acme\n"), 3,
                   "differ from line 1");
}

TEST(TenantDirectoryParse, EmptyFileIsRejected) {
  absl::StatusOr<TenantDirectory> directory =
      TenantDirectory::Parse("# nothing but comments\n\n", "tokens.txt");
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(directory.status().message().find("no tokens"), absl::string_view::npos);
}

TEST(TenantDirectoryOpen, LoadsTheExampleFile) {
  absl::StatusOr<TenantDirectory> directory =
      TenantDirectory::Open(SourcePath("service/auth/testdata/tokens.example"), TestOptions());
  ASSERT_TRUE(directory.ok()) << directory.status();
  EXPECT_EQ(directory->token_count(), 4u);
  absl::StatusOr<Principal> globex =
      directory->AuthenticateBearer("Bearer example-token-for-globex-0001");
  ASSERT_TRUE(globex.ok()) << globex.status();
  EXPECT_EQ(globex->tenant, "globex.eu:prod");
  EXPECT_EQ(globex->limits.max_open_streams, 2u);
  EXPECT_EQ(globex->limits.max_tokens_per_request, 1000u);
  absl::StatusOr<Principal> research =
      directory->AuthenticateBearer("Bearer b7e4a1c9-2f0d-4e8b-9c3a-5d6f7e8a9b0c");
  ASSERT_TRUE(research.ok()) << research.status();
  EXPECT_EQ(research->tenant, "research-team_2");
  EXPECT_EQ(research->limits.max_open_streams, 5u);
}

TEST(TenantDirectoryOpen, MissingFileIsNotFound) {
  absl::StatusOr<TenantDirectory> directory = TenantDirectory::Open("/nonexistent/tokens.txt");
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(directory.status().message().find("/nonexistent/tokens.txt"), absl::string_view::npos);
}

TEST(TenantDirectoryOpen, EmptyPathDisablesAuthentication) {
  absl::StatusOr<TenantDirectory> directory = TenantDirectory::Open("", TestOptions());
  ASSERT_TRUE(directory.ok()) << directory.status();
  EXPECT_FALSE(directory->enabled());
  EXPECT_EQ(directory->token_count(), 0u);

  // Any metadata, also none or a wrong token, gives the default principal.
  const std::string value = "Bearer wrong-token-0000000000";
  Metadata with_header;
  with_header.emplace("authorization", value);
  for (const Metadata& metadata : {Metadata(), with_header}) {
    absl::StatusOr<Principal> principal = directory->Authenticate(metadata);
    ASSERT_TRUE(principal.ok()) << principal.status();
    EXPECT_EQ(principal->tenant, "default");
    EXPECT_FALSE(principal->authenticated);
    EXPECT_EQ(principal->limits.max_open_streams, 5u);
    EXPECT_EQ(principal->limits.max_tokens_per_request, 1000u);
  }
}

// Expects Authenticate(metadata) to be UNAUTHENTICATED with exactly `message`.
void ExpectUnauthenticated(const TenantDirectory& directory, const Metadata& metadata,
                           absl::string_view message) {
  absl::StatusOr<Principal> principal = directory.Authenticate(metadata);
  ASSERT_FALSE(principal.ok()) << "authenticated as " << principal->tenant;
  EXPECT_EQ(principal.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(principal.status().message(), message);
}

TEST(TenantDirectoryAuthenticate, AcceptsBearerInAnyCase) {
  TenantDirectory directory = TwoTenants();
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER\t", "bEaReR   "}) {
    const std::string value = absl::StrCat(scheme, kGlobexToken);
    Metadata metadata;
    metadata.emplace("x-gander-stream-id", "s1");
    metadata.emplace("authorization", value);
    absl::StatusOr<Principal> principal = directory.Authenticate(metadata);
    ASSERT_TRUE(principal.ok()) << scheme << ": " << principal.status();
    EXPECT_EQ(principal->tenant, "globex.eu:prod");
  }
}

TEST(TenantDirectoryAuthenticate, RejectsWithPreciseMessages) {
  TenantDirectory directory = TwoTenants();
  ExpectUnauthenticated(
      directory, Metadata(),
      "missing 'authorization' metadata (expected 'authorization: Bearer <token>')");

  const std::string basic = "Basic dXNlcjpwYXNz";
  const std::string bare = kAcmeToken;  // the scheme forgotten
  const std::string empty = "Bearer   ";
  const std::string prefix = absl::StrCat("Bearer ", std::string(kAcmeToken).substr(0, 20));
  const std::string longer = absl::StrCat("Bearer ", kAcmeToken, "x");
  const std::string other = "Bearer not-a-known-token-at-all";
  const std::string wrong_case = absl::StrCat("Bearer ", absl::AsciiStrToUpper(kAcmeToken));
  const std::string kScheme =
      "'authorization' metadata does not use the Bearer scheme (expected 'Bearer <token>')";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {basic, kScheme},
      {bare, kScheme},
      {"Bearer", kScheme},
      {"Bearertoken-0123456789abcdef", kScheme},
      {empty, "empty bearer token"},
      {prefix, "unknown bearer token"},
      {longer, "unknown bearer token"},
      {other, "unknown bearer token"},
      {wrong_case, "unknown bearer token"},
  };
  for (const auto& [value, message] : cases) {
    SCOPED_TRACE(value);
    Metadata metadata;
    metadata.emplace("authorization", value);
    ExpectUnauthenticated(directory, metadata, message);
  }

  const std::string good = absl::StrCat("Bearer ", kAcmeToken);
  Metadata twice;
  twice.emplace("authorization", good);
  twice.emplace("authorization", good);
  ExpectUnauthenticated(directory, twice,
                        "'authorization' metadata given more than once (send exactly one)");
}

TEST(TenantDirectoryAuthenticate, IsSafeToCallConcurrently) {
  const TenantDirectory directory = TwoTenants();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string value = absl::StrCat("Bearer ", t % 2 == 0 ? kAcmeToken : kGlobexToken);
      const std::string expected = t % 2 == 0 ? "acme" : "globex.eu:prod";
      for (int i = 0; i < 2000; ++i) {
        absl::StatusOr<Principal> principal = directory.AuthenticateBearer(value);
        if (!principal.ok() || principal->tenant != expected) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

Principal MakePrincipal(const std::string& tenant, uint32_t max_open_streams) {
  Principal principal;
  principal.tenant = tenant;
  principal.limits.max_open_streams = max_open_streams;
  principal.authenticated = true;
  return principal;
}

TEST(TenantUsage, AdmitsUpToTheLimitAndReleasesOnDestruction) {
  TenantUsage usage;
  const Principal acme = MakePrincipal("acme", 2);
  {
    absl::StatusOr<OpenStreamTicket> first = usage.AcquireOpenStream(acme);
    ASSERT_TRUE(first.ok()) << first.status();
    absl::StatusOr<OpenStreamTicket> second = usage.AcquireOpenStream(acme);
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(usage.open_streams("acme"), 2u);
    EXPECT_EQ(first->tenant(), "acme");

    absl::StatusOr<OpenStreamTicket> third = usage.AcquireOpenStream(acme);
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(third.status().message(), "tenant acme has 2 open streams (limit 2)");
    EXPECT_EQ(usage.open_streams("acme"), 2u);  // the refusal counted nothing

    // Other tenants are counted apart.
    absl::StatusOr<OpenStreamTicket> globex = usage.AcquireOpenStream(MakePrincipal("globex", 1));
    ASSERT_TRUE(globex.ok()) << globex.status();
    EXPECT_EQ(usage.open_streams("globex"), 1u);

    first->Release();
    EXPECT_FALSE(first->held());
    EXPECT_EQ(usage.open_streams("acme"), 1u);
    first->Release();  // a second release does nothing
    EXPECT_EQ(usage.open_streams("acme"), 1u);
    EXPECT_TRUE(usage.AcquireOpenStream(acme).ok());  // admitted, then released at once
  }
  EXPECT_EQ(usage.open_streams("acme"), 0u);
  EXPECT_EQ(usage.open_streams("globex"), 0u);
  EXPECT_EQ(usage.open_streams("never-seen"), 0u);
}

TEST(TenantUsage, ZeroMeansNoLimit) {
  TenantUsage usage;
  std::vector<OpenStreamTicket> tickets;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<OpenStreamTicket> ticket = usage.AcquireOpenStream(MakePrincipal("big", 0));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    tickets.push_back(*std::move(ticket));
  }
  EXPECT_EQ(usage.open_streams("big"), 100u);
  tickets.clear();
  EXPECT_EQ(usage.open_streams("big"), 0u);
}

TEST(TenantUsage, TicketsMoveWithoutDoubleCounting) {
  TenantUsage usage;
  const Principal acme = MakePrincipal("acme", 3);
  OpenStreamTicket a = *usage.AcquireOpenStream(acme);
  OpenStreamTicket b = *usage.AcquireOpenStream(acme);
  EXPECT_EQ(usage.open_streams("acme"), 2u);

  OpenStreamTicket moved(std::move(a));
  EXPECT_FALSE(a.held());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_TRUE(moved.held());
  EXPECT_EQ(usage.open_streams("acme"), 2u);

  moved = std::move(b);  // releases moved's old slot
  EXPECT_EQ(usage.open_streams("acme"), 1u);

  OpenStreamTicket empty;
  EXPECT_FALSE(empty.held());
  empty = std::move(moved);
  EXPECT_EQ(usage.open_streams("acme"), 1u);
  empty.Release();
  EXPECT_EQ(usage.open_streams("acme"), 0u);
}

TEST(TenantUsage, ConcurrentAcquireNeverExceedsTheLimit) {
  TenantUsage usage;
  const Principal acme = MakePrincipal("acme", 3);
  std::atomic<int> holding{0};
  std::atomic<int> max_holding{0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        absl::StatusOr<OpenStreamTicket> ticket = usage.AcquireOpenStream(acme);
        if (!ticket.ok()) continue;
        ++admitted;
        const int now = ++holding;
        int seen = max_holding.load();
        while (now > seen && !max_holding.compare_exchange_weak(seen, now)) {
        }
        --holding;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_GT(admitted.load(), 0);
  EXPECT_LE(max_holding.load(), 3);
  EXPECT_EQ(usage.open_streams("acme"), 0u);
}

}  // namespace
}  // namespace gander::service
