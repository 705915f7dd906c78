#include "service/logging/log.h"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace gander::service {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
ABSL_CONST_INIT absl::Mutex write_mu(absl::kConstInit);
// Where Log writes; nullptr = stderr.
std::FILE* output ABSL_GUARDED_BY(write_mu) = nullptr;

constexpr char kHexDigits[] = "0123456789abcdef";

void AppendUnicodeEscape(unsigned char byte, std::string* out) {
  const char escape[6] = {'\\', 'u', '0', '0', kHexDigits[byte >> 4], kHexDigits[byte & 0xF]};
  out->append(escape, sizeof(escape));
}

bool IsContinuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence that starts at bytes[i] (a lead
// byte >= 0x80), or 0 if there is none: rejects stray continuation bytes,
// overlong forms, surrogates (U+D800..U+DFFF), code points above U+10FFFF
// and truncated sequences.
size_t Utf8SequenceLength(absl::string_view bytes, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char lead = at(i);
  size_t length;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > bytes.size()) return 0;
  if (at(i + 1) < second_min || at(i + 1) > second_max) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (!IsContinuation(at(i + k))) return 0;
  }
  return length;
}

void AppendDouble(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buffer[64];
  // Shortest text that reads back as the same double; JSON accepts its
  // forms ("0.1", "3", "1e+20", "-2.5e-07").
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out->append(buffer, result.ptr);
}

void AppendValue(const LogValue& value, std::string* out) {
  switch (value.kind()) {
    case LogValue::Kind::kString:
      AppendJsonString(value.string_value(), out);
      return;
    case LogValue::Kind::kInt:
      absl::StrAppend(out, value.int_value());
      return;
    case LogValue::Kind::kUint:
      absl::StrAppend(out, value.uint_value());
      return;
    case LogValue::Kind::kDouble:
      AppendDouble(value.double_value(), out);
      return;
    case LogValue::Kind::kBool:
      out->append(value.bool_value() ? "true" : "false");
      return;
  }
}

// Writes `line` to `out`, or to the current output when `out` is nullptr.
void WriteLine(std::FILE* out, const std::string& line) {
  absl::MutexLock lock(&write_mu);
  if (out == nullptr) out = output != nullptr ? output : stderr;
  // Errors are ignored: a failing log has nowhere to report to.
  (void)std::fwrite(line.data(), 1, line.size(), out);
  (void)std::fflush(out);
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (lower == LogLevelName(level)) return level;
  }
  if (lower == "warn") return LogLevel::kWarning;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level '", name, "' (expected debug, info, warning or error)"));
}

void AppendJsonString(absl::string_view bytes, std::string* out) {
  out->reserve(out->size() + bytes.size() + 2);
  out->push_back('"');
  size_t i = 0;
  while (i < bytes.size()) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      AppendUnicodeEscape(c, out);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (const size_t length = Utf8SequenceLength(bytes, i); length > 0) {
      out->append(bytes.data() + i, length);
      i += length;
    } else {
      AppendUnicodeEscape(c, out);  // not valid UTF-8: one byte at a time
      ++i;
    }
  }
  out->push_back('"');
}

std::string FormatLogLine(absl::Time ts, LogLevel level, absl::string_view event,
                          LogFields fields) {
  std::string line = "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", ts, absl::UTCTimeZone());
  line += "\",\"level\":\"";
  absl::StrAppend(&line, LogLevelName(level));
  line += "\",\"event\":";
  AppendJsonString(event, &line);
  for (const LogField& field : fields) {
    line.push_back(',');
    AppendJsonString(field.key, &line);
    line.push_back(':');
    AppendValue(field.value, &line);
  }
  line += "}\n";
  return line;
}

void Log(LogLevel level, absl::string_view event, LogFields fields) {
  if (!LogEnabled(level)) return;
  WriteLine(/*out=*/nullptr, FormatLogLine(absl::Now(), level, event, fields));
}

void LogTo(std::FILE* out, LogLevel level, absl::string_view event, LogFields fields) {
  if (out == nullptr) return;
  WriteLine(out, FormatLogLine(absl::Now(), level, event, fields));
}

void SetMinLogLevel(LogLevel level) {
  min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel MinLogLevel() { return static_cast<LogLevel>(min_level.load(std::memory_order_relaxed)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

void SetLogOutput(std::FILE* out) {
  absl::MutexLock lock(&write_mu);
  output = out;
}

}  // namespace gander::service
