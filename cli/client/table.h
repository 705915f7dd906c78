// Plain-text tables for the client commands' output: left-aligned columns
// separated by two spaces, a header row first, no trailing spaces.
//
// Example:
//   FormatTable({"ID", "VERSION"}, {{"chat-1", "3"}, {"b", "12"}}) ==
//       "ID      VERSION\n"
//       "chat-1  3\n"
//       "b       12\n"
//
// Thread safety: pure functions. A row shorter than the header is padded
// with empty cells; cells beyond the header's width are kept (their column
// sized by the rows that have them).
#ifndef GANDER_CLI_CLIENT_TABLE_H_
#define GANDER_CLI_CLIENT_TABLE_H_

#include <string>
#include <vector>

#include "google/protobuf/timestamp.pb.h"

namespace gander::cli::client {

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// A timestamp as "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds); "-" when it
// is unset (the epoch).
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_TABLE_H_
