#include "cli/client/connection.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace gander::cli::client {
namespace {

// Reads a whole (small) file: a PEM certificate or key.
absl::StatusOr<std::string> ReadPemFile(const std::string& flag, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    const std::string message =
        absl::StrCat("--", flag, ": cannot open '", path, "': ", std::strerror(error));
    if (error == ENOENT) return absl::NotFoundError(message);
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::InvalidArgumentError(message);
  }
  std::string contents;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) contents.append(buffer, n);
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) {
    return absl::DataLossError(absl::StrCat("--", flag, ": error reading '", path, "'"));
  }
  if (contents.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", path, "' is empty"));
  }
  return contents;
}

}  // namespace

void AddClientFlags(FlagSet& flags, absl::string_view default_timeout) {
  flags.Add("server", "server address, HOST:PORT", false, "localhost:50051");
  flags.Add("token", "bearer token (default: $GANDER_TOKEN)");
  flags.Add("tls-ca", "PEM file of the CA that signs the server's certificate; turns TLS on");
  flags.Add("tls-cert", "PEM file of the client certificate (mutual TLS; needs --tls-key)");
  flags.Add("tls-key", "PEM file of the client certificate's private key");
  flags.Add("tls-server-name", "name to check in the server's certificate instead of the host");
  flags.Add("timeout", "deadline of each call: a duration (30s, 2m) or seconds; 0 = none", false,
            std::string(default_timeout));
}

absl::StatusOr<std::string> ResolveToken(std::optional<std::string> flag_value,
                                         std::optional<std::string> env_value) {
  std::string token;
  if (flag_value.has_value()) {
    token = *flag_value;
  } else if (env_value.has_value()) {
    token = *env_value;
  }
  absl::StripAsciiWhitespace(&token);
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(token[i]);
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("token: byte ", static_cast<int>(c), " at offset ", i,
                       " is not printable ASCII (gRPC metadata cannot carry it)"));
    }
  }
  return token;
}

absl::StatusOr<absl::Duration> ParseTimeout(absl::string_view text) {
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  absl::Duration duration;
  double seconds = 0;
  if (absl::SimpleAtod(trimmed, &seconds) && std::isfinite(seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(trimmed, &duration)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--timeout: '", text, "' is not a duration (for example 30s, 2m, 250ms) or seconds"));
  }
  if (duration < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("--timeout: '", text, "' is negative"));
  }
  return duration;
}

absl::StatusOr<ClientOptions> ClientOptionsFromFlags(const FlagSet& flags) {
  ClientOptions options;
  options.server = flags.Get("server");
  if (options.server.empty()) return absl::InvalidArgumentError("--server must not be empty");
  std::optional<std::string> flag_token;
  if (flags.Has("token")) flag_token = flags.Get("token");
  std::optional<std::string> env_token;
  if (const char* env = std::getenv("GANDER_TOKEN"); env != nullptr) env_token = env;
  GANDER_ASSIGN_OR_RETURN(options.token, ResolveToken(flag_token, env_token));
  options.tls_ca = flags.Get("tls-ca");
  options.tls_cert = flags.Get("tls-cert");
  options.tls_key = flags.Get("tls-key");
  options.tls_server_name = flags.Get("tls-server-name");
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!options.tls_server_name.empty() && !options.UseTls()) {
    return absl::InvalidArgumentError("--tls-server-name needs TLS (--tls-ca or --tls-cert)");
  }
  GANDER_ASSIGN_OR_RETURN(options.timeout, ParseTimeout(flags.Get("timeout")));
  return options;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ClientOptions& options) {
  if (!options.UseTls()) return grpc::InsecureChannelCredentials();
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca.empty()) {
    GANDER_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPemFile("tls-ca", options.tls_ca));
  }
  if (!options.tls_cert.empty()) {
    GANDER_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPemFile("tls-cert", options.tls_cert));
    GANDER_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPemFile("tls-key", options.tls_key));
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ClientOptions& options,
                                                           grpc::ChannelArguments arguments) {
  if (options.server.empty()) return absl::InvalidArgumentError("--server must not be empty");
  GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                          MakeCredentials(options));
  if (options.UseTls() && !options.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::CreateCustomChannel(options.server, credentials, arguments);
}

void PrepareContext(const ClientOptions& options, absl::string_view stream_id,
                    grpc::ClientContext* context) {
  if (!options.token.empty()) {
    context->AddMetadata(kAuthorizationKey, absl::StrCat(kBearerPrefix, options.token));
  }
  if (!stream_id.empty()) context->AddMetadata(kStreamIdKey, std::string(stream_id));
  if (options.timeout > absl::ZeroDuration() && options.timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  }
}

absl::Status FinishAfterReads(const std::function<grpc::Status()>& finish,
                              grpc::ClientContext* context, absl::Duration grace) {
  absl::Mutex mu;
  bool done = false;
  grpc::Status status;
  std::thread finisher([&] {
    grpc::Status result = finish();
    absl::MutexLock lock(&mu);
    status = std::move(result);
    done = true;
  });
  bool timed_out = false;
  {
    absl::MutexLock lock(&mu);
    timed_out = !mu.AwaitWithTimeout(absl::Condition(&done), grace);
  }
  if (timed_out) context->TryCancel();
  finisher.join();
  if (timed_out) {
    return absl::InternalError(absl::StrCat(
        "the server sent a response that could not be read (not a valid message; for example "
        "a text field with invalid UTF-8), and no status within ",
        absl::FormatDuration(grace), ": the call was cancelled"));
  }
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace gander::cli::client
