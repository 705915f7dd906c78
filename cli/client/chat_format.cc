#include "cli/client/chat_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace gander::cli::client {

std::string FormatChatTurn(absl::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return absl::StrCat("User: ", line, "\n\nAssistant:");
}

absl::StatusOr<std::vector<std::string>> ParseStopStrings(const std::vector<std::string>& values) {
  std::vector<std::string> stops;
  for (const std::string& value : values) {
    std::string piece;
    auto finish_piece = [&]() -> absl::Status {
      if (piece.empty()) return absl::OkStatus();
      if (piece.size() > kMaxStopStringBytes) {
        return absl::InvalidArgumentError(absl::StrCat("--stop: a stop string is ", piece.size(),
                                                       " bytes long (at most ", kMaxStopStringBytes,
                                                       ")"));
      }
      stops.push_back(std::move(piece));
      piece.clear();
      if (stops.size() > kMaxStopStrings) {
        return absl::InvalidArgumentError(
            absl::StrCat("--stop: more than ", kMaxStopStrings, " stop strings"));
      }
      return absl::OkStatus();
    };
    for (size_t i = 0; i < value.size(); ++i) {
      const char c = value[i];
      if (c == ',') {
        if (absl::Status s = finish_piece(); !s.ok()) return s;
        continue;
      }
      if (c != '\\') {
        piece.push_back(c);
        continue;
      }
      if (i + 1 >= value.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--stop '", value, "': '\\' at offset ", i, " ends the value"));
      }
      const char escaped = value[++i];
      switch (escaped) {
        case 'n':
          piece.push_back('\n');
          break;
        case 't':
          piece.push_back('\t');
          break;
        case '\\':
        case ',':
          piece.push_back(escaped);
          break;
        default:
          return absl::InvalidArgumentError(absl::StrCat("--stop '", value, "': unknown escape '\\",
                                                         std::string(1, escaped), "' at offset ",
                                                         i - 1, " (use \\n \\t \\\\ \\,)"));
      }
    }
    if (absl::Status s = finish_piece(); !s.ok()) return s;
  }
  return stops;
}

}  // namespace gander::cli::client
