// TLS for Gander's gRPC servers and clients: turns the shared command-line
// flags into gRPC credentials.
//
//   server: --tls-cert=PEM --tls-key=PEM       TLS
//           ... plus --tls-client-ca=PEM       mutual TLS: every client must
//                                              present a certificate signed
//                                              by that CA
//   client: --tls-ca=PEM                       TLS, verifying the server
//           ... plus --tls-cert/--tls-key      a client certificate (mTLS)
//           ... plus --tls-server-name=NAME    check the server's certificate
//                                              for NAME instead of the host
//                                              in --server
// With none of these flags both sides use plaintext (insecure) credentials.
//
// Example:
//   ServerTlsOptions tls{flags.tls_cert, flags.tls_key, flags.tls_client_ca};
//   GANDER_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
//                           MakeServerCredentials(tls));
//   builder.AddListeningPort(listen, creds, &port);
//
//   ClientTlsOptions client{flags.tls_ca, flags.tls_cert, flags.tls_key, flags.tls_server_name};
//   GANDER_ASSIGN_OR_RETURN(auto channel_creds, MakeChannelCredentials(client));
//   auto channel = grpc::CreateCustomChannel(server, channel_creds, MakeChannelArguments(client));
//
// Files are PEM; each is read once, when the credentials are made (a later
// change on disk needs new credentials). A certificate file may hold a chain
// (leaf first). Keys must be unencrypted.
//
// Failure behaviour: INVALID_ARGUMENT for an inconsistent set of paths (a
// key without a certificate, a client CA without a server certificate, a
// client certificate without --tls-ca, ...) or a file that holds no PEM
// block of the expected kind; NOT_FOUND, naming the path, for a file that
// cannot be read. A certificate that does not match its key is only found
// by gRPC when the server starts (BuildAndStart fails) or at the handshake.
//
// Thread safety: pure functions; the credentials returned may be shared by
// any number of servers or channels.
#ifndef GANDER_SERVICE_SECURITY_TLS_H_
#define GANDER_SERVICE_SECURITY_TLS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace gander::service {

// A server's TLS files. All empty: plaintext.
struct ServerTlsOptions {
  // PEM certificate (chain) the server presents (--tls-cert).
  std::string cert_path;
  // PEM private key of that certificate (--tls-key).
  std::string key_path;
  // PEM CA certificate(s) client certificates must chain to
  // (--tls-client-ca). Set: clients must present a valid certificate.
  std::string client_ca_path;

  bool enabled() const {
    return !cert_path.empty() || !key_path.empty() || !client_ca_path.empty();
  }
};

// A client's TLS files. All empty: plaintext.
struct ClientTlsOptions {
  // PEM CA certificate(s) the server's certificate must chain to (--tls-ca).
  // Turns TLS on.
  std::string ca_path;
  // PEM client certificate (chain) for mutual TLS (--tls-cert).
  std::string cert_path;
  // PEM private key of that certificate (--tls-key).
  std::string key_path;
  // The name the server's certificate is checked against instead of the
  // host of the target address (--tls-server-name). Empty: the target's.
  std::string server_name;

  bool enabled() const {
    return !ca_path.empty() || !cert_path.empty() || !key_path.empty() || !server_name.empty();
  }
};

// Credentials for grpc::ServerBuilder::AddListeningPort: TLS (requiring and
// verifying client certificates when client_ca_path is set) or, when
// nothing is set, grpc::InsecureServerCredentials().
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options);

// Credentials for grpc::CreateCustomChannel: TLS verifying the server against
// ca_path (presenting the client certificate when cert_path/key_path are
// set) or, when nothing is set, grpc::InsecureChannelCredentials().
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsOptions& options);

// Channel arguments carrying options.server_name as the TLS target-name
// override (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG); empty arguments when
// server_name is empty. Other arguments may be added to the result.
grpc::ChannelArguments MakeChannelArguments(const ClientTlsOptions& options);

}  // namespace gander::service

#endif  // GANDER_SERVICE_SECURITY_TLS_H_
