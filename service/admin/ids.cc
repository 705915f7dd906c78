#include "service/admin/ids.h"

#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace gander::service {
namespace {

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

absl::Status ValidateStreamId(absl::string_view field, absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  }
  if (value.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", value.size(), " characters long; at most ", kMaxIdLength, " are allowed"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!IsIdChar(value[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " has the character '", absl::CHexEscape(value.substr(i, 1)),
                       "' at offset ", i, "; only [A-Za-z0-9._:-] are allowed"));
    }
  }
  return absl::OkStatus();
}

std::string NewStreamId() {
  absl::BitGen gen;
  const uint64_t bits = absl::Uniform<uint64_t>(gen);
  return absl::StrCat("s-", absl::Hex(bits, absl::kZeroPad16));
}

}  // namespace gander::service
