#include "cli/demo/download.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/demo/server_child.h"
#include "cli/demo/sha256.h"
#include "common/status_macros.h"

namespace gander::cli::demo {
namespace {

// What the curl exit codes the demo may meet mean (curl's manual, EXIT CODES).
const char* CurlExitMeaning(int code) {
  switch (code) {
    case 5:
      return "could not resolve the proxy";
    case 6:
      return "could not resolve the host";
    case 7:
      return "could not connect";
    case 22:
      return "the server answered with an HTTP error";
    case 23:
      return "could not write the file";
    case 28:
      return "timed out";
    case 35:
    case 60:
      return "TLS failure";
    case 56:
      return "the connection broke";
    default:
      return "see `man curl`, EXIT CODES";
  }
}

}  // namespace

bool CurlAvailable() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/curl");
    if (access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

absl::Status VerifyFile(const RemoteFile& file, const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  if (info.st_size != file.size) {
    return absl::DataLossError(
        absl::StrCat(path, " has ", info.st_size, " bytes, ", file.file_name, " has ", file.size));
  }
  GANDER_ASSIGN_OR_RETURN(std::string digest, Sha256FileHex(path));
  if (digest != file.sha256) {
    return absl::DataLossError(
        absl::StrCat(path, " has SHA-256 ", digest, ", ", file.file_name, " has ", file.sha256));
  }
  return absl::OkStatus();
}

absl::Status DownloadVerified(const RemoteFile& file, const std::string& dir) {
  const std::string final_path = absl::StrCat(dir, "/", file.file_name);
  const std::string part = absl::StrCat(final_path, ".part");
  std::vector<std::string> strings = {"curl",
                                      "-fL",
                                      "--connect-timeout",
                                      "5",
                                      "--retry",
                                      "0",
                                      "--speed-limit",
                                      "1024",
                                      "--speed-time",
                                      "30",
                                      "-#",
                                      "-o",
                                      part,
                                      file.url};
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(STDERR_FILENO, STDOUT_FILENO);  // curl's messages and bar, on stderr
    execvp("curl", argv.data());
    _exit(127);
  }
  if (pid < 0) return absl::InternalError(absl::StrCat("cannot fork curl: ", std::strerror(errno)));
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waiting for curl: ", std::strerror(errno)));
    }
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    std::remove(part.c_str());
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 127) {
      return absl::InternalError("cannot run curl");
    }
    const int code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
    return absl::UnavailableError(absl::StrCat("curl ", DescribeWaitStatus(wait_status), " (",
                                               code < 0 ? "interrupted" : CurlExitMeaning(code),
                                               ") fetching ", file.url));
  }
  if (absl::Status verified = VerifyFile(file, part); !verified.ok()) {
    std::remove(part.c_str());
    return verified;
  }
  if (std::rename(part.c_str(), final_path.c_str()) != 0) {
    const int error = errno;
    std::remove(part.c_str());
    return absl::InternalError(
        absl::StrCat("cannot rename ", part, " to ", final_path, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

}  // namespace gander::cli::demo
