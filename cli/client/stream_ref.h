// Stream ids and `ID[@VERSION]` references as the client commands take them
// (`gander chat --fork-from=a@3`, `gander streams export a@3 --out f`).
//
// Example:
//   GANDER_ASSIGN_OR_RETURN(StreamRef ref, ParseStreamRef("chat-1@3"));
//   // ref.id == "chat-1", ref.version == 3
//   GANDER_ASSIGN_OR_RETURN(StreamRef head, ParseStreamRef("chat-1"));
//   // head.version == 0: the stream's head
//
// Thread safety: pure functions. Failure: INVALID_ARGUMENT naming what is
// wrong (the id's offending character and offset, a bad version).
#ifndef GANDER_CLI_CLIENT_STREAM_REF_H_
#define GANDER_CLI_CLIENT_STREAM_REF_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::cli::client {

// A stream, optionally at one of its versions.
struct StreamRef {
  // The stream's id, [A-Za-z0-9._:-]{1,128}.
  std::string id;
  // The version, from 1; 0 means the head (no @VERSION given).
  uint64_t version = 0;
};

// OK when `id` matches [A-Za-z0-9._:-]{1,128} (the wire contract's stream id
// syntax); INVALID_ARGUMENT otherwise, naming the first bad character and
// its offset, or the length.
absl::Status ValidateStreamId(absl::string_view id);

// Parses "ID" or "ID@VERSION" (VERSION a decimal integer >= 1). An id never
// contains '@', so the text splits at its only '@'.
absl::StatusOr<StreamRef> ParseStreamRef(absl::string_view text);

// "ID" or "ID@VERSION": the inverse of ParseStreamRef.
std::string FormatStreamRef(const StreamRef& ref);

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_STREAM_REF_H_
