// Structured logs: one JSON object per line, for machines first (log
// collectors on Kubernetes read stderr) and readable by people.
//
//   {"ts":"2026-03-01T12:00:00.123456Z","level":"info","event":"stream_opened","stream":"s1","tenant":"acme","tokens":12}
//
// Every line has "ts" (UTC, RFC 3339, microseconds), "level" (debug, info,
// warning, error) and "event" (a fixed snake_case name saying what happened),
// then the caller's fields in the order given. Values are JSON strings,
// integers, numbers or booleans. Strings are escaped so that any bytes give
// valid JSON: '"' and '\' are backslash-escaped, control characters
// (0x00-0x1F, 0x7F) are written \u00XX, valid UTF-8 passes through, and each
// byte that is not part of valid UTF-8 is written \u00XX (its value as a code
// point, so 0xFF reads as U+00FF). Non-finite doubles are written as the
// strings "NaN", "Infinity" and "-Infinity".
//
// Example:
//   Log(LogLevel::kInfo, "stream_opened", {{"stream", id}, {"tenant", tenant}, {"tokens", 12}});
//   SetMinLogLevel(LogLevel::kWarning);  // drop debug and info from now on
//
// Keys "ts", "level" and "event" are the line's own; callers must not use
// them as field keys (they would appear twice).
//
// Ownership: LogValue and LogField only view their strings; build them in
// the call's argument list (as above), never store them.
//
// Thread safety: every function may be called from any thread. A line is
// formatted first and then written with one fwrite and a flush under a
// mutex, so lines from different threads never interleave.
//
// Failure behaviour: logging never fails the caller; a write error is
// ignored (there is nowhere left to report it).
#ifndef GANDER_SERVICE_LOGGING_LOG_H_
#define GANDER_SERVICE_LOGGING_LOG_H_

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gander::service {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning" or "error".
absl::string_view LogLevelName(LogLevel level);

// Parses a level name as LogLevelName writes it (case-insensitive; "warn" is
// accepted too). INVALID_ARGUMENT naming the accepted names otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);

// One field value: a string, a signed or unsigned integer, a double or a
// bool. Implicitly constructible from each, so that `{"tokens", 12}` works.
class LogValue {
 public:
  enum class Kind { kString, kInt, kUint, kDouble, kBool };

  LogValue(absl::string_view value) : kind_(Kind::kString), string_(value) {}   // NOLINT
  LogValue(const std::string& value) : kind_(Kind::kString), string_(value) {}  // NOLINT
#ifndef ABSL_USES_STD_STRING_VIEW
  LogValue(std::string_view value)  // NOLINT
      : kind_(Kind::kString), string_(value.data(), value.size()) {}
#endif
  LogValue(const char* value)  // NOLINT
      : kind_(Kind::kString), string_(value == nullptr ? "" : value) {}
  LogValue(bool value) : kind_(Kind::kBool), bool_(value) {}        // NOLINT
  LogValue(double value) : kind_(Kind::kDouble), double_(value) {}  // NOLINT
  LogValue(float value) : LogValue(static_cast<double>(value)) {}   // NOLINT
  template <typename T,
            std::enable_if_t<
                std::is_integral_v<T> && !std::is_same_v<T, bool> && std::is_signed_v<T>, int> = 0>
  LogValue(T value) : kind_(Kind::kInt), int_(value) {}  // NOLINT
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             std::is_unsigned_v<T>,
                                         int> = 0>
  LogValue(T value) : kind_(Kind::kUint), uint_(value) {}  // NOLINT

  Kind kind() const { return kind_; }
  absl::string_view string_value() const { return string_; }
  int64_t int_value() const { return int_; }
  uint64_t uint_value() const { return uint_; }
  double double_value() const { return double_; }
  bool bool_value() const { return bool_; }

 private:
  Kind kind_;
  absl::string_view string_;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  double double_ = 0;
  bool bool_ = false;
};

// One "key": value pair of a line.
struct LogField {
  absl::string_view key;
  LogValue value;
};

using LogFields = std::initializer_list<LogField>;

// Writes one line at `level` to the current output, unless `level` is below
// the minimum level.
void Log(LogLevel level, absl::string_view event, LogFields fields = {});

// Writes one line to `out` (not owned; must stay open during the call;
// nullptr writes nothing), whatever the minimum level. Serialized with Log's
// writes.
void LogTo(std::FILE* out, LogLevel level, absl::string_view event, LogFields fields = {});

// Lines below `level` are dropped by Log. Default: LogLevel::kInfo.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
// Whether Log(level, ...) writes; lets a caller skip building costly fields.
bool LogEnabled(LogLevel level);

// Where Log writes; nullptr restores the default, stderr. `out` is not owned
// and must stay open until another SetLogOutput call has returned (after
// that, no write goes to it).
void SetLogOutput(std::FILE* out);

// The line Log would write at time `ts`, ending in '\n'. For tests and for
// callers that send lines elsewhere.
std::string FormatLogLine(absl::Time ts, LogLevel level, absl::string_view event, LogFields fields);

// Appends `bytes` to *out as a JSON string literal (with the quotes),
// escaped as described above.
void AppendJsonString(absl::string_view bytes, std::string* out);

}  // namespace gander::service

#endif  // GANDER_SERVICE_LOGGING_LOG_H_
