// How a Gander client reaches a server: the common client flags (`--server`,
// `--token` or env GANDER_TOKEN, `--tls-ca`, `--tls-cert`, `--tls-key`,
// `--tls-server-name`, `--timeout`), the gRPC channel they describe, and the
// per-call metadata every call carries (`authorization: Bearer <token>`,
// `x-gander-stream-id: <id>` when the call concerns one known stream) and
// its deadline.
//
// Example:
//   FlagSet flags("streams ls");
//   AddClientFlags(flags, /*default_timeout=*/"30s");
//   ... flags.Parse(argc, argv) ...
//   GANDER_ASSIGN_OR_RETURN(ClientOptions options, ClientOptionsFromFlags(flags));
//   GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(options));
//   auto stub = gander::v1::Streams::NewStub(channel);
//   grpc::ClientContext context;
//   PrepareContext(options, /*stream_id=*/"chat-1", &context);
//   grpc::Status s = stub->GetStream(&context, request, &response);
//
// Ownership: ClientOptions is a plain value; channels are shared_ptrs owned
// by the caller. Thread safety: pure functions (ClientOptionsFromFlags reads
// the environment); a channel may be shared by many threads.
// Failure: INVALID_ARGUMENT for inconsistent or malformed flags (a client
// certificate without its key, a token with characters that cannot travel
// in gRPC metadata), NOT_FOUND for a PEM file that does not exist. Creating
// a channel never contacts the server: an unreachable server shows as
// UNAVAILABLE on the first call.
//
// The bearer token travels as plain call metadata, so it is also sent on a
// plaintext channel (for tests and loopback); use --tls-ca anywhere else.
#ifndef GANDER_CLI_CLIENT_CONNECTION_H_
#define GANDER_CLI_CLIENT_CONNECTION_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/flags.h"

namespace gander::cli::client {

// Everything needed to call a Gander server.
struct ClientOptions {
  // Target, HOST:PORT (any gRPC target string). Default "localhost:50051".
  std::string server = "localhost:50051";

  // Bearer token sent as `authorization: Bearer <token>`; empty: none.
  std::string token;

  // PEM file of the CA that signs the server's certificate. Non-empty turns
  // TLS on. Empty with TLS on (a client certificate given): the system's
  // default roots.
  std::string tls_ca;

  // PEM files of the client certificate and its private key (mutual TLS).
  // Both or neither; either turns TLS on.
  std::string tls_cert;
  std::string tls_key;

  // Name checked against the server's certificate instead of the host in
  // `server`. Empty: the host. Only with TLS.
  std::string tls_server_name;

  // Deadline of each call, measured from PrepareContext. Zero or infinite:
  // no deadline.
  absl::Duration timeout = absl::ZeroDuration();

  // True when TLS is on (a CA, or a client certificate, is given).
  bool UseTls() const { return !tls_ca.empty() || !tls_cert.empty(); }
};

// Declares the common client flags on `flags`: --server, --token, --tls-ca,
// --tls-cert, --tls-key, --tls-server-name and --timeout (whose default is
// `default_timeout`, a duration such as "30s"; "0" means none).
void AddClientFlags(FlagSet& flags, absl::string_view default_timeout);

// Reads the flags declared by AddClientFlags. The token is --token when
// given (even empty), else $GANDER_TOKEN, else none. INVALID_ARGUMENT for
// an empty --server, a malformed --timeout, --tls-cert without --tls-key
// (or the reverse), --tls-server-name without TLS, or a bad token.
absl::StatusOr<ClientOptions> ClientOptionsFromFlags(const FlagSet& flags);

// The token to use: `flag_value` when the flag was given, else
// `env_value` when set, with ASCII whitespace trimmed from both ends.
// INVALID_ARGUMENT when what remains holds a character outside printable
// ASCII (which gRPC metadata cannot carry), naming its offset.
absl::StatusOr<std::string> ResolveToken(std::optional<std::string> flag_value,
                                         std::optional<std::string> env_value);

// Parses a --timeout value: an absl duration ("30s", "1m30s", "250ms") or a
// bare number of seconds ("30", "0.5"). "0" and "inf" mean no deadline.
// INVALID_ARGUMENT for anything else or a negative duration.
absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text);

// Channel credentials for `options`: insecure without TLS, else SSL with
// the PEM files read now. NOT_FOUND for a missing file; INVALID_ARGUMENT
// for an empty one.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ClientOptions& options);

// A channel to options.server with MakeCredentials and, with TLS, the
// server-name override, plus `arguments` (for example a distinct integer
// argument per channel, so that channels do not share one connection).
// Never contacts the server.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ClientOptions& options, grpc::ChannelArguments arguments = grpc::ChannelArguments());

// Fills a fresh `context` (not yet used for a call): the bearer token when
// there is one, `x-gander-stream-id` when `stream_id` is non-empty, and a
// deadline of options.timeout from now when it is positive and finite.
// `stream_id` must be a valid stream id (ValidateStreamId) or empty.
void PrepareContext(const ClientOptions& options, absl::string_view stream_id,
                    grpc::ClientContext* context);

// Finishes a streaming call whose Read has returned false and returns its
// status (`finish` calls the call's Finish). Normally the status came with
// the end of the responses and this returns at once. But gRPC (1.51) also
// makes Read return false when a response fails to parse (for example a
// string field holding invalid UTF-8), and leaves the call open, so Finish
// would wait forever: when no status arrives within `grace`, the call is
// cancelled and the result is INTERNAL, saying a response could not be
// read. (Cancelling unconditionally is no shortcut: a cancel replaces the
// status the server sent with CANCELLED.) Blocks for at most about `grace`
// beyond the normal case; runs `finish` on a thread of its own.
absl::Status FinishAfterReads(const std::function<grpc::Status()>& finish,
                              grpc::ClientContext* context,
                              absl::Duration grace = absl::Seconds(2));

// The metadata key and value prefix PrepareContext uses.
inline constexpr char kAuthorizationKey[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";
inline constexpr char kStreamIdKey[] = "x-gander-stream-id";

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_CONNECTION_H_
