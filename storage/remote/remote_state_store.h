// A StateStore (storage/state_store.h) that lives in another process: the
// client of `gander store-server` (gander.store.v1.StateStore,
// proto/gander/store/v1/state_store.proto), so several workers share one
// store. Each method is one RPC with the interface's semantics; the store
// behind the server decides every result.
//
// Example:
//   RemoteStoreOptions options;
//   options.target = "gander-store-0.gander-store:50052";
//   options.connect_timeout = absl::Seconds(10);
//   absl::StatusOr<std::unique_ptr<StateStore>> store = ConnectRemoteStateStore(options);
//   if (!store.ok()) return store.status();
//   auto lease = (*store)->AcquireLease("s1", "worker-a", absl::Seconds(30));
//
// Time: leases and idle expiry run on the SERVER's clock (its store's
// Clock); the times returned (Lease::expires, StreamInfo::updated, ...) are
// the server's. A worker that compares them with its own clock must allow
// for skew; renewing well before `expires` (say at a third of the TTL) does.
//
// Transfers: checkpoints go up and down in chunks of at most 1 MiB, with
// the size and the id (lowercase hex XXH3-128) announced in a header. A
// download whose bytes do not match its header is discarded: DATA_LOSS,
// never wrong bytes.
//
// Errors: the server's codes and messages come back unchanged (the store's,
// see storage/state_store.h). Besides:
//   UNAVAILABLE        the server cannot be reached (also a server that goes
//                      away mid-call); for a write, whether it applied is
//                      unknown: a fresh read tells (see Commit's comment in
//                      the .proto)
//   DEADLINE_EXCEEDED  the call took longer than call_timeout (the same
//                      uncertainty for a write)
//   DATA_LOSS          a download does not match its header
//   INVALID_ARGUMENT   also for what cannot be sent at all, answered without
//                      a call: a string that is not UTF-8 (never a valid
//                      name), an infinite TTL, a page size below 1
//
// Ownership: the caller owns the store; it holds its own channel (closing
// the store closes it). Nothing is kept of a request after a call returns.
// Thread safety: every method is safe to call concurrently (one channel,
// calls multiplexed on it).
#ifndef GANDER_STORAGE_REMOTE_REMOTE_STATE_STORE_H_
#define GANDER_STORAGE_REMOTE_REMOTE_STATE_STORE_H_

#include <grpcpp/security/credentials.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/state_store.h"

namespace gander::storage {

struct RemoteStoreOptions {
  // The server, "host:port" (any gRPC target: "dns:///name:port" too).
  // Required.
  std::string target;

  // Channel credentials (TLS, mutual TLS). Default (nullptr): insecure, a
  // plain-text channel.
  std::shared_ptr<grpc::ChannelCredentials> credentials;

  // Deadline of every call, transfers included (a 2.4 MB checkpoint needs
  // milliseconds on a LAN). Must be positive. Default: 30 s.
  absl::Duration call_timeout = absl::Seconds(30);

  // Unset (the default): ConnectRemoteStateStore returns at once and the
  // channel connects on the first call; a call while the server is down
  // fails at once with UNAVAILABLE.
  // Set: ConnectRemoteStateStore waits up to this long for the connection
  // (UNAVAILABLE naming the target if it is not up by then), and every call
  // is sent "wait for ready": while the connection is down (a server
  // restarting) it waits for it, up to its call_timeout (DEADLINE_EXCEEDED
  // then), instead of failing at once. Must be positive.
  std::optional<absl::Duration> connect_timeout;

  // Largest message received, in bytes (chunks are at most 1 MiB). Must be
  // above 1 MiB. Default: 4 MiB.
  int max_receive_message_bytes = 4 << 20;
};

// Opens a channel to options.target. INVALID_ARGUMENT for options out of
// range (empty target, non-positive timeouts); UNAVAILABLE when a
// connect_timeout is set and the server is not reachable within it.
absl::StatusOr<std::unique_ptr<StateStore>> ConnectRemoteStateStore(
    const RemoteStoreOptions& options);

}  // namespace gander::storage

#endif  // GANDER_STORAGE_REMOTE_REMOTE_STATE_STORE_H_
