// Fetches a published file into the demo's cache with the `curl` command
// (its own progress bar on stderr), then checks its size and SHA-256 before
// it gets its final name, so the cache only ever holds verified files.
//
// Example:
//   if (CurlAvailable()) {
//     absl::Status s = DownloadVerified(kOfficialVocab, cache_dir);
//   }
//
// Runs `curl -fL --connect-timeout 5 --retry 0 -# -o DIR/NAME.part URL`
// (plus a guard that aborts a transfer stalled for 30 s): with no network it
// fails within a few seconds at most. Thread-compatible (one download at a
// time per file). Failure: UNAVAILABLE when curl fails (naming its exit
// code and what it means), DATA_LOSS when the size or digest is wrong (the
// partial file is removed in both cases), INTERNAL when curl cannot be run
// or the final rename fails.
#ifndef GANDER_CLI_DEMO_DOWNLOAD_H_
#define GANDER_CLI_DEMO_DOWNLOAD_H_

#include <string>

#include "absl/status/status.h"
#include "cli/demo/demo_support.h"

namespace gander::cli::demo {

// Whether a `curl` executable is on PATH.
bool CurlAvailable();

// Downloads `file` to `dir`/file.file_name (dir must exist).
absl::Status DownloadVerified(const RemoteFile& file, const std::string& dir);

// Checks the size and SHA-256 of the file at `path` against `file`.
// DATA_LOSS naming both values when they differ; NOT_FOUND for a missing
// file.
absl::Status VerifyFile(const RemoteFile& file, const std::string& path);

}  // namespace gander::cli::demo

#endif  // GANDER_CLI_DEMO_DOWNLOAD_H_
