#include "storage/store_test_util.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "storage/store_internal.h"

namespace gander::storage {

std::string NewTestDir(absl::string_view name) {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, "-", counter.fetch_add(1));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string RandomBytes(Rng& rng, size_t size) {
  std::string bytes(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const uint64_t v = rng();
    for (int b = 0; b < 8; ++b) bytes[i + b] = static_cast<char>(v >> (8 * b));
  }
  for (; i < size; ++i) bytes[i] = static_cast<char>(rng());
  return bytes;
}

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int parsed = 0;
  if (value == nullptr || !absl::SimpleAtoi(value, &parsed) || parsed <= 0) return fallback;
  return parsed;
}

namespace {
std::string T(absl::Time t) { return absl::StrCat(absl::ToUnixMicros(t)); }
}  // namespace

std::string ToString(const StreamInfo& i) {
  return absl::StrCat("{id=", i.id, " tenant=", i.tenant, " fp=", i.model_fingerprint,
                      " v=", i.version, " tokens=", i.token_count, " parent=", i.parent_id, "@",
                      i.parent_version, " created=", T(i.created), " updated=", T(i.updated), "}");
}

std::string ToString(const VersionInfo& i) {
  return absl::StrCat("{v=", i.version, " ckpt=", i.checkpoint_id, " tokens=", i.token_count,
                      " size=", i.size_bytes, " created=", T(i.created), "}");
}

std::string ToString(const std::vector<VersionInfo>& versions) {
  std::vector<std::string> parts;
  parts.reserve(versions.size());
  for (const VersionInfo& v : versions) parts.push_back(ToString(v));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

std::string ToString(const Checkpoint& c) {
  return absl::StrCat(ToString(c.info), " bytes=", c.bytes.size(), "/",
                      absl::Hex(internal::Checksum64(c.bytes)));
}

std::string ToString(const Lease& l) {
  return absl::StrCat("{stream=", l.stream_id, " owner=", l.owner, " epoch=", l.epoch,
                      " expires=", T(l.expires), "}");
}

std::string ToString(const ListStreamsResult& r) {
  std::vector<std::string> parts;
  for (const StreamInfo& s : r.streams) parts.push_back(ToString(s));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "] next=", r.next_page_token);
}

}  // namespace gander::storage
