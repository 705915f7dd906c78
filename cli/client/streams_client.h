// Client side of the Streams and Models admin services, as `gander streams`
// and `gander models` use it: list every stream (all pages), export one
// version to a file (verified, written atomically), import a file, and the
// tables the commands print.
//
// Example:
//   auto stub = v1::Streams::NewStub(channel);
//   GANDER_ASSIGN_OR_RETURN(std::vector<v1::StreamInfo> all,
//                           ListAllStreams(stub.get(), options, /*tenant=*/"", 100));
//   std::fputs(FormatStreamTable(all).c_str(), stdout);
//   GANDER_ASSIGN_OR_RETURN(v1::ExportHeader header,
//                           ExportStreamToFile(stub.get(), options, {"chat-1", 3}, "a.gst"));
//
// Ownership: stubs are borrowed for the call. Thread safety: each function
// makes its own calls; stubs may be shared. Failure: a refused call returns
// its gRPC status as an absl::Status (same code and message); what the
// client checks itself fails with DATA_LOSS (an export whose bytes do not
// add up or do not match their checkpoint id), INTERNAL (the server broke
// the protocol, named in the message), INVALID_ARGUMENT (bad local input)
// or the errno-derived code of a local file (NOT_FOUND, PERMISSION_DENIED).
#ifndef GANDER_CLI_CLIENT_STREAMS_CLIENT_H_
#define GANDER_CLI_CLIENT_STREAMS_CLIENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/client/connection.h"
#include "cli/client/stream_ref.h"
#include "gander/v1/models.grpc.pb.h"
#include "gander/v1/streams.grpc.pb.h"

namespace gander::cli::client {

// Bytes per chunk of an import (and the most an export chunk may carry).
inline constexpr size_t kTransferChunkBytes = size_t{1} << 20;
// Largest state an export or import may carry.
inline constexpr uint64_t kMaxStateBytes = uint64_t{1} << 30;

// Every stream of `tenant` (empty: the caller's), following
// next_page_token to the last page, `page_size` per call (0: the server's
// default). INTERNAL when the server repeats a page token.
absl::StatusOr<std::vector<v1::StreamInfo>> ListAllStreams(v1::Streams::StubInterface* stub,
                                                           const ClientOptions& options,
                                                           const std::string& tenant,
                                                           uint32_t page_size);

// Exports `ref` (version 0: the head) into `path`: the bytes go to
// "<path>.tmp", are checked (total == header.size_bytes, and XXH3-128 ==
// header.version.checkpoint_id when the server sends one), synced, and
// renamed over `path`. On any failure `path` is untouched and the
// temporary file removed. Returns the export's header.
absl::StatusOr<v1::ExportHeader> ExportStreamToFile(v1::Streams::StubInterface* stub,
                                                    const ClientOptions& options,
                                                    const StreamRef& ref, const std::string& path);

// What ImportStreamFromFile sends besides the bytes.
struct ImportOptions {
  // The new stream's id; empty: the server assigns one.
  std::string stream_id;
  // The owning tenant; empty: the caller's.
  std::string tenant;
  // The bytes' XXH3-128 as 32 lowercase hex digits, for the server to check;
  // empty: none.
  std::string checkpoint_id;
};

// Imports the state in `path` (1 byte to kMaxStateBytes) as a new stream:
// a header, then the file in kTransferChunkBytes chunks. Returns the new
// stream. INVALID_ARGUMENT for an empty or oversized file or a malformed
// option; ABORTED when the file changes size while it is read (the call is
// cancelled, so the server keeps nothing).
absl::StatusOr<v1::StreamInfo> ImportStreamFromFile(v1::Streams::StubInterface* stub,
                                                    const ClientOptions& options,
                                                    const std::string& path,
                                                    const ImportOptions& import);

// Lowercase hex XXH3-128 (canonical, big-endian) of `bytes`: the form of
// VersionInfo.checkpoint_id.
std::string CheckpointIdOf(absl::string_view bytes);

// OK for 32 lowercase hex digits; INVALID_ARGUMENT otherwise.
absl::Status ValidateCheckpointId(absl::string_view id);

// Table of streams: ID, VERSION, TOKENS, PARENT (ID@VERSION or "-"),
// UPDATED.
std::string FormatStreamTable(const std::vector<v1::StreamInfo>& streams);

// One stream's fields, one per line, then its versions as a table.
std::string FormatStreamDetails(const v1::GetStreamResponse& response);

// Table of models: NAME, FINGERPRINT, LAYERS, EMBD, HEAD, VOCAB, DTYPE,
// STATE_BYTES, VOCABULARY.
std::string FormatModelTable(const v1::ListModelsResponse& response);

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_STREAMS_CLIENT_H_
