#include "service/process/process.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"

namespace gander::service {

absl::Status ErrnoStatus(const std::string& what, const std::string& path, int error) {
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  FILE* file = std::fopen(tmp.c_str(), "w");
  if (file == nullptr) return ErrnoStatus("cannot create", tmp, errno);
  const bool written = std::fwrite(contents.data(), 1, contents.size(), file) == contents.size();
  const int write_error = errno;
  if (std::fclose(file) != 0 || !written) {
    return ErrnoStatus("cannot write", tmp, written ? errno : write_error);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("cannot rename ", tmp, " to"), path, errno);
  }
  return absl::OkStatus();
}

absl::Status WriteReadyFile(const std::string& path,
                            const std::vector<std::pair<std::string, int>>& ports) {
  if (path.empty()) return absl::OkStatus();
  std::string contents;
  for (const auto& [key, port] : ports) absl::StrAppend(&contents, key, "=", port, "\n");
  return WriteFileAtomically(path, contents);
}

std::string BoundAddress(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  return absl::StrCat(colon == std::string::npos ? listen : listen.substr(0, colon), ":", port);
}

absl::StatusOr<absl::Duration> ParseDurationFlag(const std::string& flag,
                                                 const std::string& value) {
  absl::Duration duration;
  if (!absl::ParseDuration(value, &duration) || duration < absl::ZeroDuration() ||
      duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " '", value, "' is not a finite duration >= 0 (e.g. 30s)"));
  }
  return duration;
}

void RegisterHealthSchemaForReflection() {
  // Touching the generated descriptor links health.pb.cc in and adds its
  // file to the generated pool, which reflection serves from.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
}

absl::StatusOr<TerminationSignals> TerminationSignals::Block() {
  TerminationSignals signals;
  sigemptyset(&signals.set_);
  sigaddset(&signals.set_, SIGTERM);
  sigaddset(&signals.set_, SIGINT);
  if (int error = pthread_sigmask(SIG_BLOCK, &signals.set_, nullptr); error != 0) {
    return absl::InternalError(absl::StrCat("pthread_sigmask: ", std::strerror(error)));
  }
  return signals;
}

int TerminationSignals::Wait() {
  int signal_number = 0;
  while (sigwait(&set_, &signal_number) != 0) {
  }
  return signal_number;
}

}  // namespace gander::service
