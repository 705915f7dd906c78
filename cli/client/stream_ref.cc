#include "cli/client/stream_ref.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace gander::cli::client {
namespace {

constexpr size_t kMaxIdLength = 128;

bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
         c == '-';
}

}  // namespace

absl::Status ValidateStreamId(absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("stream id is empty");
  if (id.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream id is ", id.size(), " characters long (at most ", kMaxIdLength, ")"));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (!IsIdChar(id[i])) {
      const unsigned char c = static_cast<unsigned char>(id[i]);
      const std::string shown = absl::ascii_isprint(c)
                                    ? absl::StrCat("'", std::string(1, id[i]), "'")
                                    : absl::StrCat("byte ", static_cast<int>(c));
      return absl::InvalidArgumentError(absl::StrCat("stream id '", absl::CHexEscape(id),
                                                     "': ", shown, " at offset ", i,
                                                     " is not one of [A-Za-z0-9._:-]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StreamRef> ParseStreamRef(absl::string_view text) {
  StreamRef ref;
  const size_t at = text.find('@');
  ref.id = std::string(text.substr(0, at));
  GANDER_RETURN_IF_ERROR(ValidateStreamId(ref.id));
  if (at == absl::string_view::npos) return ref;
  const absl::string_view version = text.substr(at + 1);
  if (version.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': no version after '@' (omit @VERSION for the head)"));
  }
  for (char c : version) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "': version '", version, "' is not a decimal integer"));
    }
  }
  if (!absl::SimpleAtoi(version, &ref.version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': version '", version, "' is out of range"));
  }
  if (ref.version == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': versions count from 1 (omit @VERSION for the head)"));
  }
  return ref;
}

std::string FormatStreamRef(const StreamRef& ref) {
  if (ref.version == 0) return ref.id;
  return absl::StrCat(ref.id, "@", ref.version);
}

}  // namespace gander::cli::client
