// Crash test of the RocksDB state store (issue 4, acceptance 2).
//
// Each cycle starts crash_writer (crash_writer.cc) on one store directory,
// lets it work for a random moment and kills it with SIGKILL, then reopens
// the store here and checks it:
//   - it opens with no repair (OpenRocksDbStateStore returns OK);
//   - CheckConsistency() passes: every record decodes and passes its
//     checksum, reference counts equal a recount, no orphan or missing
//     checkpoint blob, no dangling version, index entry or lease;
//   - it holds exactly what the writer's report says it must: this test
//     keeps a shadow of the store, applies every acknowledged change ("ok"
//     line) to it, and looks in the store for the one change that may have
//     been cut short (the last "begin" without its "ok"), which then either
//     landed whole or not at all. So every acknowledged commit, fork and
//     import is present unless an acknowledged delete or retention (the
//     shadow applies kRetainedVersions) removed it, every acknowledged
//     delete stays deleted, and nothing else is there: same streams, heads,
//     token counts, parents and retained versions;
//   - every retained checkpoint reads back OK (a DATA_LOSS fails the test:
//     a torn value) and bit-exact: its bytes hash (XXH3-128, computed here)
//     to what the writer reported, have the reported size, and are an
//     intact snapshot whose header carries the reported token count;
//   - the store's counts (GetStats) match the shadow's;
//   - every acknowledged lease that has not expired still holds (another
//     owner is refused), and epochs acknowledged later are always greater.
// The next writer continues on the same store (re-acquiring its leases).
//
// Kill moments: the first cycle and a fifth of the others kill within
// 1-40 ms of the start (during exec, recovery or the very first open, which
// creates the store); most others 5-60 ms after the writer reports it is
// ready; one in twenty lets it run 60-250 ms (completing flushes and
// compactions, and interrupting longer ones).
//
// Knobs (environment, e.g. --test_env): GANDER_CRASH_CYCLES (default 200;
// a long run: GANDER_CRASH_CYCLES=2000 with --test_timeout=3600),
// GANDER_CRASH_SEED (default 1) for the kill moments and the writers' mixes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_state_store.h"
#include "storage/state_codec.h"
#include "storage/store_test_util.h"
#include "tests/crash/crash_protocol.h"

namespace gander::crash {
namespace {

using storage::RocksDbStateStore;

// ---------------------------------------------------------------------------
// The writer process.

std::string WriterPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return "tests/crash/crash_writer";
  return absl::StrCat(srcdir, "/", workspace, "/tests/crash/crash_writer");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One running writer: its pid and the read end of its report pipe.
class WriterProcess {
 public:
  // Starts the writer (fork + exec) with its report on fd 3 and its stderr
  // in `stderr_path`.
  static absl::StatusOr<std::unique_ptr<WriterProcess>> Start(const std::string& store,
                                                              const std::string& stderr_path,
                                                              uint64_t seed, int incarnation) {
    const std::string path = WriterPath();
    std::vector<std::string> args = {path, absl::StrCat("--store=", store), "--report_fd=3",
                                     absl::StrCat("--seed=", seed),
                                     absl::StrCat("--incarnation=", incarnation)};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (err < 0) {
      const absl::Status status = Errno(absl::StrCat("opening ", stderr_path));
      close(fds[0]);
      close(fds[1]);
      return status;
    }
    const pid_t pid = fork();
    if (pid < 0) {
      const absl::Status status = Errno("fork");
      for (int fd : {fds[0], fds[1], err}) close(fd);
      return status;
    }
    if (pid == 0) {
      // The child: only async-signal-safe calls until exec.
      if (dup2(err, 2) < 0) _exit(127);
      if (fds[1] == 3) {
        if (fcntl(3, F_SETFD, 0) != 0) _exit(127);
      } else if (dup2(fds[1], 3) < 0) {
        _exit(127);
      }
      execv(path.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    close(err);
    auto process = std::unique_ptr<WriterProcess>(new WriterProcess(pid, fds[0]));
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) return Errno("fcntl");
    return process;
  }

  ~WriterProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  // Reads the report until `deadline`, or until a "ready" line has arrived
  // when `until_ready`. Returns whether the writer is ready.
  bool ReadUntil(absl::Time deadline, bool until_ready) {
    while (!(until_ready && ready_)) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      pollfd p = {fd_, POLLIN, 0};
      const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
      if (poll(&p, 1, timeout_ms) <= 0) continue;
      if (!Drain()) {  // EOF: the writer has exited on its own
        return ready_;
      }
    }
    return ready_;
  }

  // Kills the writer with SIGKILL, reaps it and reads the rest of its
  // report. FAILED_PRECONDITION when it had already exited by itself.
  absl::Status Kill(const std::string& stderr_path) {
    kill(pid_, SIGKILL);
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return Errno("waitpid");
    pid_ = -1;
    while (true) {
      pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, 10000) <= 0) return absl::InternalError("the report pipe never closed");
      if (!Drain()) break;
    }
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      return absl::FailedPreconditionError(
          absl::StrCat("the writer exited by itself (wait status ", status,
                       ") before it was killed; its stderr:\n", ReadFile(stderr_path)));
    }
    return absl::OkStatus();
  }

  // The complete lines read so far.
  const std::vector<std::string>& lines() const { return lines_; }
  // Bytes after the last newline (must be none: each line is one write).
  const std::string& partial() const { return partial_; }

 private:
  WriterProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}

  static absl::Status Errno(absl::string_view what) {
    return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
  }

  // Reads what is available; false at end of file.
  bool Drain() {
    char buffer[65536];
    while (true) {
      const ssize_t got = read(fd_, buffer, sizeof(buffer));
      if (got == 0) return false;
      if (got < 0) return errno == EAGAIN || errno == EINTR;
      partial_.append(buffer, got);
      size_t start = 0;
      for (size_t nl = partial_.find('\n'); nl != std::string::npos;
           nl = partial_.find('\n', start)) {
        lines_.push_back(partial_.substr(start, nl - start));
        if (lines_.back().rfind("ready ", 0) == 0) ready_ = true;
        start = nl + 1;
      }
      partial_.erase(0, start);
    }
  }

  pid_t pid_;
  int fd_;
  bool ready_ = false;
  std::vector<std::string> lines_;
  std::string partial_;
};

// ---------------------------------------------------------------------------
// The shadow: what the store must hold.

struct ShadowVersion {
  std::string hash;
  uint64_t token_count = 0;
  uint64_t size = 0;
};

struct ShadowStream {
  std::string parent_id;
  uint64_t parent_version = 0;
  uint64_t head = 0;
  std::map<uint64_t, ShadowVersion> versions;  // retained
  int64_t lease_expires_micros = 0;            // latest acknowledged; 0: none
};

struct Counts {
  int cycles = 0;
  int early_kills = 0;  // killed without waiting for "ready"
  int long_runs = 0;
  int never_ready = 0;  // killed before it reported ready
  std::map<std::string, int> acked;
  // Operations cut short by the kill, by op: [landed, not landed] (for
  // acquire, renew and compact the test does not tell: all in [1]).
  std::map<std::string, std::array<int, 2>> in_doubt;
  int64_t acked_commits_verified = 0;  // commits, forks, imports checked after the next kill
  int64_t checkpoints_verified = 0;    // GetCheckpoint reads checked bit-exact
  int leases_verified = 0;
};

absl::StatusOr<uint64_t> ParseU64(const std::string& text) {
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a number"));
  }
  return value;
}

absl::Status Mismatch(absl::string_view what) { return absl::InternalError(what); }

class Shadow {
 public:
  explicit Shadow(Counts* counts) : counts_(counts) {}

  // Applies one report line of the writer. INTERNAL when the report
  // contradicts the shadow (for example a commit of a version that does not
  // follow the head the shadow holds).
  absl::Status Apply(const std::string& text) {
    GANDER_ASSIGN_OR_RETURN(Line line, ParseLine(text));
    if (line.kind == "ready") {
      if (line.args.size() != 1 || line.args[0] != absl::StrCat(streams_.size())) {
        return Mismatch(absl::StrCat("the writer found ", absl::StrJoin(line.args, " "),
                                     " streams at its start; the shadow holds ", streams_.size()));
      }
      return absl::OkStatus();
    }
    if (line.kind == "begin") {
      if (in_doubt_.has_value()) {
        return Mismatch(absl::StrCat("'", text, "' follows an operation without its ok"));
      }
      in_doubt_ = line;
      return absl::OkStatus();
    }
    if (line.kind != "ok") return Mismatch(absl::StrCat("unknown report line '", text, "'"));
    if (!in_doubt_.has_value() || in_doubt_->op != line.op ||
        line.args.size() < in_doubt_->args.size() ||
        !std::equal(in_doubt_->args.begin(), in_doubt_->args.end(), line.args.begin())) {
      return Mismatch(absl::StrCat("'", text, "' does not acknowledge the last begin"));
    }
    in_doubt_.reset();
    ++counts_->acked[line.op];
    return ApplyAcknowledged(line);
  }

  // After the writer's death, with the store reopened: decides whether the
  // operation in doubt landed, by looking, and applies it if it did.
  absl::Status ResolveInDoubt(RocksDbStateStore& store) {
    if (!in_doubt_.has_value()) return absl::OkStatus();
    const Line line = *std::move(in_doubt_);
    in_doubt_.reset();
    std::array<int, 2>& tally = counts_->in_doubt[line.op];
    const std::string what =
        absl::StrCat("the operation in doubt (", line.op, " ", absl::StrJoin(line.args, " "), ")");
    bool landed = false;
    if (line.op == "create" || line.op == "fork" || line.op == "import" || line.op == "delete") {
      absl::StatusOr<storage::StreamInfo> info = store.GetStream(line.args.at(0));
      if (!info.ok() && info.status().code() != absl::StatusCode::kNotFound) {
        return Mismatch(absl::StrCat(what, ": GetStream: ", info.status().ToString()));
      }
      landed = (line.op == "delete") != info.ok();
    } else if (line.op == "commit") {
      GANDER_ASSIGN_OR_RETURN(const uint64_t version, ParseU64(line.args.at(1)));
      absl::StatusOr<storage::StreamInfo> info = store.GetStream(line.args.at(0));
      if (!info.ok())
        return Mismatch(absl::StrCat(what, ": GetStream: ", info.status().ToString()));
      if (info->version != version && info->version != version - 1) {
        return Mismatch(absl::StrCat(what, ": the head is version ", info->version));
      }
      landed = info->version == version;
    } else {
      // acquire, renew: the shadow keeps the last acknowledged expiry, which
      // a landed acquire or renewal by the same owner only extends.
      // compact: changes no content.
      ++tally[1];
      return absl::OkStatus();
    }
    ++tally[landed ? 0 : 1];
    if (!landed) return absl::OkStatus();
    return ApplyAcknowledged(line);
  }

  // Compares the whole store with the shadow (see the file comment).
  absl::Status Verify(RocksDbStateStore& store) {
    GANDER_RETURN_IF_ERROR(store.CheckConsistency());

    std::map<std::string, storage::StreamInfo> listed;
    std::string token;
    do {
      GANDER_ASSIGN_OR_RETURN(storage::ListStreamsResult page,
                              store.ListStreams(kTenant, 1000, token));
      for (storage::StreamInfo& info : page.streams) listed[info.id] = std::move(info);
      token = page.next_page_token;
    } while (!token.empty());
    for (const auto& [id, shadow] : streams_) {
      if (listed.count(id) == 0) return Mismatch(absl::StrCat("stream ", id, " is missing"));
    }
    std::set<std::string> hashes;
    uint64_t versions = 0;
    for (const auto& [id, info] : listed) {
      auto it = streams_.find(id);
      if (it == streams_.end()) return Mismatch(absl::StrCat("stream ", id, " should not exist"));
      GANDER_RETURN_IF_ERROR(VerifyStream(store, info, it->second));
      for (const auto& [v, version] : it->second.versions) hashes.insert(version.hash);
      versions += it->second.versions.size();
    }

    GANDER_ASSIGN_OR_RETURN(const storage::RocksDbStoreStats stats, store.GetStats());
    if (stats.streams != streams_.size() || stats.versions != versions ||
        stats.references != versions || stats.checkpoints != hashes.size()) {
      return Mismatch(absl::StrCat("store counts: ", stats.streams, " streams, ", stats.versions,
                                   " versions, ", stats.references, " references, ",
                                   stats.checkpoints, " checkpoints; the shadow: ", streams_.size(),
                                   ", ", versions, ", ", versions, ", ", hashes.size()));
    }

    for (const auto& [stream, version] : fresh_) {
      auto it = streams_.find(stream);
      if (it != streams_.end() && it->second.versions.count(version) > 0) {
        ++counts_->acked_commits_verified;
      }
    }
    fresh_.clear();
    return absl::OkStatus();
  }

  // Every acknowledged lease with more than a second left must still keep
  // another owner out.
  absl::Status VerifyLeases(RocksDbStateStore& store) {
    const int64_t now = absl::ToUnixMicros(absl::Now());
    for (const auto& [id, stream] : streams_) {
      if (stream.lease_expires_micros < now + 1000000) continue;
      absl::StatusOr<storage::Lease> taken =
          store.AcquireLease(id, "crash-checker", absl::Milliseconds(1));
      if (taken.status().code() != absl::StatusCode::kAborted) {
        return Mismatch(absl::StrCat("the acknowledged lease of ", id, " (expiring at ",
                                     stream.lease_expires_micros,
                                     " us) no longer holds: another owner's acquire gave ",
                                     taken.ok() ? "OK" : taken.status().ToString()));
      }
      ++counts_->leases_verified;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status ApplyAcknowledged(const Line& line) {
    const std::vector<std::string>& a = line.args;
    const std::string what = absl::StrCat(line.op, " ", absl::StrJoin(a, " "));
    auto need = [&](size_t n) -> absl::Status {
      if (a.size() < n) return Mismatch(absl::StrCat("'", what, "': too few arguments"));
      return absl::OkStatus();
    };
    auto exists = [&](const std::string& id, bool want) -> absl::Status {
      if ((streams_.count(id) > 0) != want) {
        return Mismatch(absl::StrCat("'", what, "': stream ", id,
                                     want ? " is not in the shadow" : " is already in the shadow"));
      }
      return absl::OkStatus();
    };
    if (line.op == "create") {
      GANDER_RETURN_IF_ERROR(need(1));
      GANDER_RETURN_IF_ERROR(exists(a[0], false));
      streams_[a[0]] = ShadowStream();
    } else if (line.op == "commit") {
      GANDER_RETURN_IF_ERROR(need(5));
      GANDER_RETURN_IF_ERROR(exists(a[0], true));
      ShadowStream& stream = streams_[a[0]];
      GANDER_ASSIGN_OR_RETURN(const uint64_t version, ParseU64(a[1]));
      if (version != stream.head + 1) {
        return Mismatch(absl::StrCat("'", what, "': the shadow's head is ", stream.head));
      }
      GANDER_ASSIGN_OR_RETURN(const uint64_t tokens, ParseU64(a[3]));
      GANDER_ASSIGN_OR_RETURN(const uint64_t size, ParseU64(a[4]));
      stream.head = version;
      stream.versions[version] = {a[2], tokens, size};
      if (version > kRetainedVersions) {
        stream.versions.erase(stream.versions.begin(),
                              stream.versions.upper_bound(version - kRetainedVersions));
      }
      fresh_.emplace_back(a[0], version);
    } else if (line.op == "fork" || line.op == "import") {
      const bool fork = line.op == "fork";
      GANDER_RETURN_IF_ERROR(need(fork ? 6 : 4));
      GANDER_RETURN_IF_ERROR(exists(a[0], false));
      const size_t at = fork ? 3 : 1;  // hash, tokens, size
      ShadowStream stream;
      GANDER_ASSIGN_OR_RETURN(const uint64_t tokens, ParseU64(a[at + 1]));
      GANDER_ASSIGN_OR_RETURN(const uint64_t size, ParseU64(a[at + 2]));
      const ShadowVersion version{a[at], tokens, size};
      if (fork) {
        GANDER_RETURN_IF_ERROR(exists(a[1], true));
        GANDER_ASSIGN_OR_RETURN(stream.parent_version, ParseU64(a[2]));
        stream.parent_id = a[1];
        const ShadowStream& source = streams_[a[1]];
        auto it = source.versions.find(stream.parent_version);
        if (it == source.versions.end() || it->second.hash != version.hash ||
            it->second.token_count != tokens || it->second.size != size) {
          return Mismatch(absl::StrCat("'", what, "': the shadow's source version differs"));
        }
      }
      stream.head = 1;
      stream.versions[1] = version;
      streams_[a[0]] = std::move(stream);
      fresh_.emplace_back(a[0], 1);
    } else if (line.op == "delete") {
      GANDER_RETURN_IF_ERROR(need(1));
      GANDER_RETURN_IF_ERROR(exists(a[0], true));
      streams_.erase(a[0]);
    } else if (line.op == "acquire" || line.op == "renew") {
      GANDER_RETURN_IF_ERROR(need(3));
      GANDER_RETURN_IF_ERROR(exists(a[0], true));
      GANDER_ASSIGN_OR_RETURN(const uint64_t epoch, ParseU64(a[1]));
      GANDER_ASSIGN_OR_RETURN(const uint64_t expires, ParseU64(a[2]));
      if (line.op == "acquire") {
        if (epoch <= max_epoch_) {
          return Mismatch(absl::StrCat("'", what, "': epoch ", epoch,
                                       " is not above the acknowledged epoch ", max_epoch_));
        }
        max_epoch_ = epoch;
      } else if (epoch > max_epoch_) {
        return Mismatch(absl::StrCat("'", what, "': renews an epoch never acknowledged"));
      }
      streams_[a[0]].lease_expires_micros = static_cast<int64_t>(expires);
    } else if (line.op != "compact") {
      return Mismatch(absl::StrCat("unknown operation '", line.op, "'"));
    }
    return absl::OkStatus();
  }

  absl::Status VerifyStream(RocksDbStateStore& store, const storage::StreamInfo& info,
                            const ShadowStream& shadow) {
    const std::string& id = info.id;
    const uint64_t tokens =
        shadow.versions.empty() ? 0 : shadow.versions.rbegin()->second.token_count;
    if (info.tenant != kTenant || info.model_fingerprint != kModel || info.version != shadow.head ||
        info.token_count != tokens || info.parent_id != shadow.parent_id ||
        info.parent_version != shadow.parent_version) {
      return Mismatch(absl::StrCat("stream ", id, ": head v", info.version, " (", info.token_count,
                                   " tokens), parent ", info.parent_id, "@", info.parent_version,
                                   "; the shadow: v", shadow.head, " (", tokens, " tokens), ",
                                   shadow.parent_id, "@", shadow.parent_version));
    }
    GANDER_ASSIGN_OR_RETURN(const std::vector<storage::VersionInfo> versions,
                            store.ListVersions(id));
    std::vector<uint64_t> listed, expected;
    for (const storage::VersionInfo& v : versions) listed.push_back(v.version);
    for (const auto& [v, version] : shadow.versions) expected.push_back(v);
    if (listed != expected) {
      return Mismatch(absl::StrCat("stream ", id, ": retained versions [",
                                   absl::StrJoin(listed, ","), "], the shadow's [",
                                   absl::StrJoin(expected, ","), "]"));
    }
    for (const storage::VersionInfo& v : versions) {
      const ShadowVersion& want = shadow.versions.at(v.version);
      const std::string where = absl::StrCat("stream ", id, " v", v.version);
      absl::StatusOr<storage::Checkpoint> checkpoint = store.GetCheckpoint(id, v.version);
      if (!checkpoint.ok()) {
        return Mismatch(absl::StrCat(where, ": ", checkpoint.status().ToString()));
      }
      const std::string hash = ContentHash(checkpoint->bytes);
      if (hash != want.hash || checkpoint->bytes.size() != want.size ||
          v.checkpoint_id != want.hash || v.token_count != want.token_count ||
          v.size_bytes != want.size) {
        return Mismatch(absl::StrCat(where, ": bytes ", hash, " (", checkpoint->bytes.size(),
                                     " B), listed ", v.checkpoint_id, " (", v.size_bytes, " B, ",
                                     v.token_count, " tokens); acknowledged ", want.hash, " (",
                                     want.size, " B, ", want.token_count, " tokens)"));
      }
      absl::StatusOr<storage::SnapshotHeader> header =
          storage::ReadSnapshotHeader(checkpoint->bytes);
      if (!header.ok() || header->token_count != want.token_count) {
        return Mismatch(
            absl::StrCat(where, ": not the committed snapshot: ",
                         header.ok() ? "another token count" : header.status().ToString()));
      }
      ++counts_->checkpoints_verified;
    }
    return absl::OkStatus();
  }

  Counts* counts_;
  std::map<std::string, ShadowStream> streams_;
  std::optional<Line> in_doubt_;
  uint64_t max_epoch_ = 0;
  // Versions acknowledged since the last Verify.
  std::vector<std::pair<std::string, uint64_t>> fresh_;
};

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) total += entry.file_size(error);
  }
  return total;
}

TEST(CrashTest, AcknowledgedChangesSurviveKill9) {
  const int cycles = storage::EnvInt("GANDER_CRASH_CYCLES", 200);
  const uint64_t seed = static_cast<uint64_t>(storage::EnvInt("GANDER_CRASH_SEED", 1));
  const std::string dir = storage::NewTestDir("crash");
  const std::string store_path = dir + "/store";
  const std::string stderr_path = dir + "/writer.stderr";
  std::mt19937_64 rng(seed);
  Counts counts;
  Shadow shadow(&counts);
  const absl::Time start = absl::Now();
  uint64_t max_disk = 0;

  for (int cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle, " (seed ", seed, ", store ", store_path, ")"));
    auto writer = WriterProcess::Start(store_path, stderr_path, rng(), cycle);
    ASSERT_TRUE(writer.ok()) << writer.status();
    const absl::Time spawned = absl::Now();
    const int mode = static_cast<int>(rng() % 100);
    if (cycle == 0 || mode < 20) {
      ++counts.early_kills;
      (*writer)->ReadUntil(spawned + absl::Milliseconds(1 + rng() % 40), false);
    } else {
      ASSERT_TRUE((*writer)->ReadUntil(spawned + absl::Seconds(60), true))
          << "the writer never reported ready; its stderr:\n"
          << ReadFile(stderr_path);
      const bool long_run = mode >= 95;
      counts.long_runs += long_run;
      const int ms = long_run ? 60 + rng() % 191 : 5 + rng() % 56;
      (*writer)->ReadUntil(absl::Now() + absl::Milliseconds(ms), false);
    }
    const absl::Status killed = (*writer)->Kill(stderr_path);
    ASSERT_TRUE(killed.ok()) << killed;
    ASSERT_EQ((*writer)->partial(), "") << "a report line was split";
    const std::vector<std::string> report = (*writer)->lines();
    writer->reset();
    bool ready = false;
    for (const std::string& line : report) {
      const absl::Status applied = shadow.Apply(line);
      ASSERT_TRUE(applied.ok()) << applied << "\nreport:\n" << absl::StrJoin(report, "\n");
      ready = ready || line.rfind("ready ", 0) == 0;
    }
    counts.never_ready += !ready;

    absl::StatusOr<std::unique_ptr<RocksDbStateStore>> store =
        storage::OpenRocksDbStateStore(store_path, CrashStoreOptions());
    ASSERT_TRUE(store.ok()) << "the store did not reopen: " << store.status();
    absl::Status checked = shadow.ResolveInDoubt(**store);
    if (checked.ok()) checked = shadow.Verify(**store);
    if (checked.ok()) checked = shadow.VerifyLeases(**store);
    ASSERT_TRUE(checked.ok()) << checked << "\nreport:\n" << absl::StrJoin(report, "\n");
    store->reset();
    max_disk = std::max(max_disk, DirectoryBytes(store_path));
    ++counts.cycles;
  }

  std::vector<std::string> in_doubt;
  for (const auto& [op, tally] : counts.in_doubt) {
    const bool told = op != "acquire" && op != "renew" && op != "compact";
    in_doubt.push_back(absl::StrCat(op, " ", tally[0] + tally[1],
                                    told ? absl::StrCat(" (", tally[0], " landed)") : ""));
  }
  std::vector<std::string> acked;
  int64_t acked_total = 0;
  for (const auto& [op, n] : counts.acked) {
    acked.push_back(absl::StrCat(op, " ", n));
    acked_total += n;
  }
  std::printf(
      "crash test: %d cycles in %.1f s (seed %llu): %d killed within 40 ms of start (%d before "
      "ready in all), %d long runs\n"
      "  acknowledged operations: %lld (%s)\n"
      "  acknowledged commits/forks/imports verified present and bit-exact after the next kill: "
      "%lld\n"
      "  operations cut short by the kill: %s\n"
      "  checkpoint reads verified: %lld; live leases verified: %d; store size peak %.1f MB\n",
      counts.cycles, absl::ToDoubleSeconds(absl::Now() - start),
      static_cast<unsigned long long>(seed), counts.early_kills, counts.never_ready,
      counts.long_runs, static_cast<long long>(acked_total), absl::StrJoin(acked, ", ").c_str(),
      static_cast<long long>(counts.acked_commits_verified), absl::StrJoin(in_doubt, ", ").c_str(),
      static_cast<long long>(counts.checkpoints_verified), counts.leases_verified, max_disk / 1e6);
  EXPECT_EQ(counts.cycles, cycles);
  // The test must have exercised what it checks.
  EXPECT_GT(counts.acked["commit"], 0);
  EXPECT_GT(counts.acked_commits_verified, 0);
}

}  // namespace
}  // namespace gander::crash
