#include "cli/demo/demo_support.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gander::cli::demo {
namespace {

// Length of the valid UTF-8 character at the start of `bytes` (1 to 4), or
// 0 when it does not start with one (overlong forms, surrogates and code
// points above U+10FFFF are invalid).
int ValidCharLength(absl::string_view bytes) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  int length;
  uint8_t low = 0x80, high = 0xBF;  // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (bytes.size() < static_cast<size_t>(length)) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (int i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

EnvLookup SystemEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<std::string> DefaultCacheDir(const EnvLookup& env) {
  const std::optional<std::string> xdg = env("XDG_CACHE_HOME");
  if (xdg.has_value() && !xdg->empty() && (*xdg)[0] == '/') {
    return absl::StrCat(absl::StripSuffix(*xdg, "/"), "/gander");
  }
  const std::optional<std::string> home = env("HOME");
  if (home.has_value() && !home->empty()) {
    return absl::StrCat(absl::StripSuffix(*home, "/"), "/.cache/gander");
  }
  return absl::FailedPreconditionError(
      "no cache folder: neither XDG_CACHE_HOME (absolute) nor HOME is set; pass --cache-dir");
}

std::string FallbackCacheDir(const EnvLookup& env, unsigned uid) {
  std::optional<std::string> tmp = env("TMPDIR");
  if (!tmp.has_value() || tmp->empty()) tmp = "/tmp";
  return absl::StrCat(absl::StripSuffix(*tmp, "/"), "/gander-cache-", uid);
}

std::vector<std::string> VocabularyCandidates(const EnvLookup& env, const std::string& cache_dir) {
  std::vector<std::string> candidates;
  const std::optional<std::string> explicit_path = env("GANDER_VOCAB");
  if (explicit_path.has_value() && !explicit_path->empty()) candidates.push_back(*explicit_path);
  if (!cache_dir.empty()) {
    candidates.push_back(absl::StrCat(cache_dir, "/", kOfficialVocab.file_name));
  }
  candidates.push_back(absl::StrCat("../shared/data/", kOfficialVocab.file_name));
  return candidates;
}

std::string RandomModelFileName(int layers, int embd, int vocab, uint64_t seed) {
  return absl::StrCat("random-L", layers, "-C", embd, "-V", vocab, "-seed", seed, ".pth");
}

absl::StatusOr<int> ParseReadyFile(absl::string_view contents) {
  std::optional<int> port;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const std::vector<absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    int value = 0;
    if (kv.size() != 2 || kv[0].empty() || !absl::SimpleAtoi(kv[1], &value) || value < 1 ||
        value > 65535) {
      return absl::DataLossError(
          absl::StrCat("ready file line ", line_number, ": expected KEY=PORT, got '", line, "'"));
    }
    if (kv[0] == "grpc_port") port = value;
  }
  if (!port.has_value()) return absl::NotFoundError("ready file has no grpc_port line");
  return *port;
}

std::string EscapeForDisplay(absl::string_view bytes) {
  std::string out;
  size_t i = 0;
  while (i < bytes.size()) {
    const char c = bytes[i];
    const auto u = static_cast<uint8_t>(c);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      const int length = ValidCharLength(bytes.substr(i));
      if (length == 0) {
        absl::StrAppendFormat(&out, "\\x%02x", u);
      } else {
        out.append(bytes.data() + i, length);
        i += length;
        continue;
      }
    }
    ++i;
  }
  return out;
}

std::string FormatTokenIds(const std::vector<int>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, " "), "]");
}

std::optional<size_t> FirstDifference(const std::vector<int>& expected,
                                      const std::vector<int>& actual) {
  const size_t common = std::min(expected.size(), actual.size());
  for (size_t i = 0; i < common; ++i) {
    if (expected[i] != actual[i]) return i;
  }
  if (expected.size() != actual.size()) return common;
  return std::nullopt;
}

}  // namespace gander::cli::demo
