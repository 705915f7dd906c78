// crash_writer: the process the crash test (crash_test.cc) kills with
// SIGKILL. It opens the RocksDB state store at --store (synced writes,
// CrashStoreOptions()), reads back the streams it finds there (left by its
// killed predecessors), reports "ready", then runs a realistic mix of
// operations until it is killed:
//   commits of real encoded snapshots, 10 KB to 3 MB (about half the
//   operations), creates, forks of retained versions, Export + Import into
//   a new stream, deletes, lease acquires (before the first commit to a
//   stream in this incarnation: the killed predecessor's lease is taken over
//   by re-acquiring with the same owner) and renewals, and rarely (0.3%) a
//   full compaction, which takes long enough that kills often cut it short.
// Every change is reported on --report_fd as crash_protocol.h describes:
// "begin" before the call, "ok" only after the store returned OK. Disk use
// stays bounded: at most --max_streams streams of kRetainedVersions
// versions each.
//
// Usage (the test does this):
//   crash_writer --store=DIR --report_fd=3 --seed=17 --incarnation=5
// Exit status: never exits normally while the test runs; 2 with the reason
// on stderr when an operation fails (every operation should succeed: this
// process is the store's only user), when the report pipe breaks, or after
// --max_seconds (a safety net should the test die first).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/portable.h"
#include "storage/rocksdb_state_store.h"
#include "storage/state_codec.h"
#include "storage/state_store.h"
#include "tests/crash/crash_protocol.h"

ABSL_FLAG(std::string, store, "", "Directory of the RocksDB state store (created if absent).");
ABSL_FLAG(int, report_fd, -1, "File descriptor to write the report lines to.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the operation mix.");
ABSL_FLAG(int, incarnation, 0, "Number of this run; makes the new stream ids unique.");
ABSL_FLAG(int, max_streams, 8, "Most streams kept at once.");
ABSL_FLAG(int, max_seconds, 300, "Exit after this long (the test kills far sooner).");

namespace gander::crash {
namespace {

using storage::RocksDbStateStore;

constexpr absl::Duration kLeaseTtl = absl::Seconds(30);

struct KnownVersion {
  std::string hash;
  uint64_t token_count = 0;
  uint64_t size = 0;
};

struct KnownStream {
  uint64_t head = 0;
  std::map<uint64_t, KnownVersion> versions;  // retained
  uint64_t lease_epoch = 0;                   // 0: none held by this incarnation
};

[[noreturn]] void Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "crash_writer: %s: %s\n", std::string(what).c_str(),
               status.ToString().c_str());
  std::fflush(stderr);
  _exit(2);
}

class Writer {
 public:
  Writer(RocksDbStateStore* store, int report_fd, uint64_t seed, int incarnation, int max_streams)
      : store_(store),
        report_fd_(report_fd),
        rng_(seed),
        incarnation_(incarnation),
        max_streams_(max_streams) {}

  // Reads back every stream of kTenant with its retained versions.
  void Recover() {
    std::string token;
    do {
      absl::StatusOr<storage::ListStreamsResult> page = store_->ListStreams(kTenant, 1000, token);
      if (!page.ok()) Fail("listing streams", page.status());
      for (const storage::StreamInfo& info : page->streams) {
        absl::StatusOr<std::vector<storage::VersionInfo>> versions = store_->ListVersions(info.id);
        if (!versions.ok()) Fail(absl::StrCat("listing versions of ", info.id), versions.status());
        KnownStream& stream = streams_[info.id];
        stream.head = info.version;
        for (const storage::VersionInfo& v : *versions) {
          stream.versions[v.version] = {v.checkpoint_id, v.token_count, v.size_bytes};
        }
      }
      token = page->next_page_token;
    } while (!token.empty());
    Report("ready", "store", {absl::StrCat(streams_.size())});
  }

  void Step() {
    const int n = static_cast<int>(streams_.size());
    const bool room = n < max_streams_;
    const int pick = static_cast<int>(rng_() % 1000);  // per mille
    if (n == 0) return Create();
    if (pick < 500) return Commit(RandomStream());
    if (pick < 580) return room ? Create() : Delete(RandomStream());
    if (pick < 660) return room ? Fork() : Delete(RandomStream());
    if (pick < 720) return room ? ExportImport() : Delete(RandomStream());
    if (pick < 800) return n > 2 ? Delete(RandomStream()) : Commit(RandomStream());
    if (pick < 997) return Renew(RandomStream());
    return Compact();
  }

 private:
  void Report(absl::string_view kind, absl::string_view op, const std::vector<std::string>& args) {
    const absl::Status written = WriteLine(report_fd_, FormatLine(kind, op, args));
    if (!written.ok()) Fail("reporting", written);
  }
  void Begin(absl::string_view op, const std::vector<std::string>& args) {
    Report("begin", op, args);
  }
  void Ok(absl::string_view op, const std::vector<std::string>& args) { Report("ok", op, args); }

  std::string NewId() { return absl::StrCat("s", incarnation_, "-", next_id_++); }

  std::string RandomStream() {
    auto it = streams_.begin();
    std::advance(it, rng_() % streams_.size());
    return it->first;
  }

  // A stream with a retained version, or "" when there is none.
  std::string RandomStreamWithVersions() {
    std::vector<std::string> candidates;
    for (const auto& [id, stream] : streams_) {
      if (!stream.versions.empty()) candidates.push_back(id);
    }
    return candidates.empty() ? "" : candidates[rng_() % candidates.size()];
  }

  uint64_t RandomRetainedVersion(const KnownStream& stream) {
    auto it = stream.versions.begin();
    std::advance(it, rng_() % stream.versions.size());
    return it->first;
  }

  void Create() {
    const std::string id = NewId();
    Begin("create", {id});
    absl::StatusOr<storage::StreamInfo> info = store_->CreateStream({id, kTenant, kModel});
    if (!info.ok()) Fail(absl::StrCat("creating ", id), info.status());
    Ok("create", {id});
    streams_[id] = KnownStream();
  }

  void Acquire(const std::string& id) {
    Begin("acquire", {id});
    absl::StatusOr<storage::Lease> lease = store_->AcquireLease(id, kOwner, kLeaseTtl);
    if (!lease.ok()) Fail(absl::StrCat("acquiring ", id), lease.status());
    Ok("acquire",
       {id, absl::StrCat(lease->epoch), absl::StrCat(absl::ToUnixMicros(lease->expires))});
    streams_[id].lease_epoch = lease->epoch;
  }

  void Commit(const std::string& id) {
    KnownStream& stream = streams_[id];
    if (stream.lease_epoch == 0) return Acquire(id);
    const uint64_t tokens =
        (stream.versions.empty() ? 0 : stream.versions.rbegin()->second.token_count) + 1 +
        rng_() % 500;
    absl::StatusOr<std::string> bytes = RandomSnapshot(rng_, tokens);
    if (!bytes.ok()) Fail("encoding a snapshot", bytes.status());
    const uint64_t version = stream.head + 1;
    const KnownVersion known{ContentHash(*bytes), tokens, bytes->size()};
    const std::vector<std::string> args = {id, absl::StrCat(version), known.hash,
                                           absl::StrCat(tokens), absl::StrCat(known.size)};
    Begin("commit", args);
    absl::StatusOr<uint64_t> committed =
        store_->Commit({id, stream.head, stream.lease_epoch, *std::move(bytes), tokens});
    if (!committed.ok()) Fail(absl::StrCat("committing ", id, " v", version), committed.status());
    if (*committed != version) {
      Fail(absl::StrCat("committing ", id),
           absl::InternalError(absl::StrCat("got version ", *committed, ", not ", version)));
    }
    Ok("commit", args);
    stream.head = version;
    stream.versions[version] = known;
    stream.versions.erase(
        stream.versions.begin(),
        stream.versions.upper_bound(version < kRetainedVersions ? 0 : version - kRetainedVersions));
  }

  void Fork() {
    const std::string source = RandomStreamWithVersions();
    if (source.empty()) return Commit(RandomStream());
    const KnownStream& from = streams_[source];
    // Version 0 (the head) now and then; the report names it resolved.
    const bool head = rng_() % 4 == 0;
    const uint64_t version = head ? from.head : RandomRetainedVersion(from);
    const KnownVersion known = from.versions.at(version);
    const std::string id = NewId();
    const std::vector<std::string> args = {id,
                                           source,
                                           absl::StrCat(version),
                                           known.hash,
                                           absl::StrCat(known.token_count),
                                           absl::StrCat(known.size)};
    Begin("fork", args);
    absl::StatusOr<storage::StreamInfo> info =
        store_->Fork(source, head ? 0 : version, {id, kTenant, ""});
    if (!info.ok()) Fail(absl::StrCat("forking ", source, " v", version), info.status());
    Ok("fork", args);
    KnownStream& stream = streams_[id];
    stream.head = 1;
    stream.versions[1] = known;
  }

  void ExportImport() {
    const std::string source = RandomStreamWithVersions();
    if (source.empty()) return Commit(RandomStream());
    const KnownStream& from = streams_[source];
    const uint64_t version = RandomRetainedVersion(from);
    const KnownVersion known = from.versions.at(version);
    absl::StatusOr<std::string> bytes = storage::ExportCheckpoint(*store_, source, version);
    if (!bytes.ok()) Fail(absl::StrCat("exporting ", source, " v", version), bytes.status());
    if (ContentHash(*bytes) != known.hash) {
      Fail(absl::StrCat("exporting ", source, " v", version),
           absl::DataLossError("the exported bytes are not the committed ones"));
    }
    const std::string id = NewId();
    const std::vector<std::string> args = {id, known.hash, absl::StrCat(known.token_count),
                                           absl::StrCat(known.size)};
    Begin("import", args);
    absl::StatusOr<storage::StreamInfo> info =
        storage::ImportCheckpoint(*store_, *bytes, {id, kTenant, kModel});
    if (!info.ok()) Fail(absl::StrCat("importing ", id), info.status());
    Ok("import", args);
    KnownStream& stream = streams_[id];
    stream.head = 1;
    stream.versions[1] = known;
  }

  void Delete(const std::string& id) {
    Begin("delete", {id});
    const absl::Status deleted = store_->DeleteStream(id);
    if (!deleted.ok()) Fail(absl::StrCat("deleting ", id), deleted);
    Ok("delete", {id});
    streams_.erase(id);
  }

  void Renew(const std::string& id) {
    KnownStream& stream = streams_[id];
    if (stream.lease_epoch == 0) return Acquire(id);
    const std::string epoch = absl::StrCat(stream.lease_epoch);
    Begin("renew", {id, epoch});
    absl::StatusOr<storage::Lease> lease = store_->RenewLease(id, stream.lease_epoch, kLeaseTtl);
    if (!lease.ok()) Fail(absl::StrCat("renewing ", id), lease.status());
    Ok("renew", {id, epoch, absl::StrCat(absl::ToUnixMicros(lease->expires))});
  }

  void Compact() {
    Begin("compact", {});
    const absl::Status compacted = store_->Compact();
    if (!compacted.ok()) Fail("compacting", compacted);
    Ok("compact", {});
  }

  RocksDbStateStore* store_;
  const int report_fd_;
  std::mt19937_64 rng_;
  const int incarnation_;
  const int max_streams_;
  int next_id_ = 0;
  std::map<std::string, KnownStream> streams_;
};

int Main() {
  const std::string path = absl::GetFlag(FLAGS_store);
  const int report_fd = absl::GetFlag(FLAGS_report_fd);
  if (path.empty() || report_fd < 0) {
    std::fprintf(stderr, "crash_writer: --store and --report_fd are required\n");
    return 2;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_max_seconds));
  const pid_t parent = getppid();

  absl::StatusOr<std::unique_ptr<RocksDbStateStore>> store =
      storage::OpenRocksDbStateStore(path, CrashStoreOptions());
  if (!store.ok()) Fail(absl::StrCat("opening ", path), store.status());
  Writer writer(store->get(), report_fd, absl::GetFlag(FLAGS_seed),
                absl::GetFlag(FLAGS_incarnation), absl::GetFlag(FLAGS_max_streams));
  writer.Recover();
  while (getppid() == parent && absl::Now() < deadline) writer.Step();
  std::fprintf(stderr, "crash_writer: the test went away or the time is up; stopping\n");
  return 2;
}

}  // namespace
}  // namespace gander::crash

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return gander::crash::Main();
}
