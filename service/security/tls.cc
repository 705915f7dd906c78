#include "service/security/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace gander::service {
namespace {

enum class PemKind { kCertificate, kPrivateKey };

// Reads a whole file. NOT_FOUND naming `path` (and `what` it is for) if it
// cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", what, " '", path, "': ", std::strerror(errno)));
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
        absl::StrCat("cannot read ", what, " '", path, "': ", std::strerror(error)));
  }
  return contents;
}

// Reads a PEM file and checks that it holds a block of `kind`.
// INVALID_ARGUMENT otherwise (the file's contents are never quoted: it may
// be a key).
absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what, PemKind kind) {
  GANDER_ASSIGN_OR_RETURN(std::string pem, ReadFile(path, what));
  if (kind == PemKind::kCertificate) {
    if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", path, "' holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
    }
    return pem;
  }
  if (absl::StrContains(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
      absl::StrContains(pem, "Proc-Type: 4,ENCRYPTED")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", path, "' is encrypted; give an unencrypted PEM private key"));
  }
  // "-----BEGIN PRIVATE KEY-----" (PKCS#8), "-----BEGIN RSA PRIVATE KEY-----",
  // "-----BEGIN EC PRIVATE KEY-----".
  const size_t begin = pem.find("-----BEGIN ");
  const size_t label_end =
      begin == std::string::npos ? std::string::npos : pem.find("-----", begin + 11);
  if (label_end == std::string::npos ||
      !absl::EndsWith(absl::string_view(pem).substr(begin + 11, label_end - begin - 11),
                      "PRIVATE KEY")) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " '", path, "' holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)"));
  }
  return pem;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options) {
  if (!options.enabled()) return grpc::InsecureServerCredentials();
  if (options.cert_path.empty() || options.key_path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("server TLS needs both --tls-cert and --tls-key; got ",
                     options.cert_path.empty() ? "no certificate" : "a certificate", " and ",
                     options.key_path.empty() ? "no key" : "a key",
                     options.client_ca_path.empty() ? "" : " (with --tls-client-ca)"));
  }
  GANDER_ASSIGN_OR_RETURN(std::string cert,
                          ReadPem(options.cert_path, "server certificate", PemKind::kCertificate));
  GANDER_ASSIGN_OR_RETURN(std::string key,
                          ReadPem(options.key_path, "server private key", PemKind::kPrivateKey));

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!options.client_ca_path.empty()) {
    GANDER_ASSIGN_OR_RETURN(
        ssl.pem_root_certs,
        ReadPem(options.client_ca_path, "client CA certificate", PemKind::kCertificate));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(ssl);
  if (credentials == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("gRPC rejected the server TLS files '",
                                                   options.cert_path, "' and '", options.key_path,
                                                   "'"));
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsOptions& options) {
  if (!options.enabled()) return grpc::InsecureChannelCredentials();
  if (options.ca_path.empty()) {
    return absl::InvalidArgumentError(
        "client TLS options (--tls-cert, --tls-key, --tls-server-name) need --tls-ca, the CA "
        "that signed the server's certificate");
  }
  if (options.cert_path.empty() != options.key_path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a client certificate needs both --tls-cert and --tls-key; got only ",
                     options.cert_path.empty() ? "--tls-key" : "--tls-cert"));
  }
  grpc::SslCredentialsOptions ssl;
  GANDER_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                          ReadPem(options.ca_path, "server CA certificate", PemKind::kCertificate));
  if (!options.cert_path.empty()) {
    GANDER_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem(options.cert_path, "client certificate",
                                                        PemKind::kCertificate));
    GANDER_ASSIGN_OR_RETURN(ssl.pem_private_key,
                            ReadPem(options.key_path, "client private key", PemKind::kPrivateKey));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(ssl);
  if (credentials == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("gRPC rejected the client TLS files (CA '", options.ca_path, "')"));
  }
  return credentials;
}

grpc::ChannelArguments MakeChannelArguments(const ClientTlsOptions& options) {
  grpc::ChannelArguments arguments;
  if (!options.server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.server_name);
  }
  return arguments;
}

}  // namespace gander::service
