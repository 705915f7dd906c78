// The text `gander chat` sends for one line the user types, and the stop
// strings it generates up to.
//
// Example:
//   FormatChatTurn("Hi")  == "User: Hi\n\nAssistant:"
//   ParseStopStrings({"\n\nUser:", "END,STOP"}) == {"\n\nUser:", "END", "STOP"}
//
// Thread safety: pure functions. Failure: INVALID_ARGUMENT naming the stop
// string at fault.
#ifndef GANDER_CLI_CLIENT_CHAT_FORMAT_H_
#define GANDER_CLI_CLIENT_CHAT_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gander::cli::client {

// The chat template's stop string: the model starting the next user turn.
// Used when `gander chat` is given no --stop and no --raw.
inline constexpr char kDefaultChatStop[] = "\n\nUser:";

// Limits of Generate.stop_strings (sessions.proto).
inline constexpr size_t kMaxStopStrings = 16;
inline constexpr size_t kMaxStopStringBytes = 256;

// One user turn in the chat template: "User: <line>\n\nAssistant:". A
// trailing "\r" (a line typed on Windows) is dropped from `line` first;
// nothing else is changed.
std::string FormatChatTurn(absl::string_view line);

// The stop strings given as repeated --stop values, each a comma-separated
// list: split at commas, in order, empty pieces dropped (so `--stop=`
// gives none). Escapes "\n", "\t", "\\" and "\," (a literal comma) are
// decoded in each piece. INVALID_ARGUMENT for more than kMaxStopStrings
// strings, one over kMaxStopStringBytes bytes, or an unknown escape.
absl::StatusOr<std::vector<std::string>> ParseStopStrings(const std::vector<std::string>& values);

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_CHAT_FORMAT_H_
