#include "tests/crash/crash_protocol.h"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/model_config.h"
#include "engine/recurrent_state.h"
#include "storage/state_codec.h"

namespace gander::crash {

storage::RocksDbStoreOptions CrashStoreOptions() {
  storage::RocksDbStoreOptions options;
  options.sync = true;
  options.base.retained_versions = kRetainedVersions;
  options.checkpoint_write_buffer_bytes = size_t{16} << 20;
  return options;
}

std::string FormatLine(absl::string_view kind, absl::string_view op,
                       const std::vector<std::string>& args) {
  std::string line = absl::StrCat(kind, " ", op);
  for (const std::string& arg : args) absl::StrAppend(&line, " ", arg);
  line.push_back('\n');
  return line;
}

absl::StatusOr<Line> ParseLine(absl::string_view text) {
  std::vector<std::string> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
  if (words.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("report line '", text, "' has no operation"));
  }
  Line line;
  line.kind = std::move(words[0]);
  line.op = std::move(words[1]);
  line.args.assign(words.begin() + 2, words.end());
  return line;
}

absl::Status WriteLine(int fd, absl::string_view line) {
  ssize_t written;
  do {
    written = write(fd, line.data(), line.size());
  } while (written < 0 && errno == EINTR);
  if (written != static_cast<ssize_t>(line.size())) {
    return absl::InternalError(absl::StrCat("writing a report line: ",
                                            written < 0 ? std::strerror(errno) : "short write"));
  }
  return absl::OkStatus();
}

std::string ContentHash(absl::string_view bytes) {
  const XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(canonical.digest), sizeof(canonical.digest)));
}

absl::StatusOr<std::string> RandomSnapshot(std::mt19937_64& rng, uint64_t token_count) {
  // Shape: a log-uniform raw size, then a head size, heads and layers that
  // come close to it.
  std::uniform_real_distribution<double> log_size(std::log(10e3), std::log(3e6));
  const double target = std::exp(log_size(rng));
  const int head_size = 16 << (rng() % 3);
  const double per_layer_head = 4.0 * (2 * head_size + head_size * head_size);
  const int units = std::max(1, static_cast<int>(std::lround(target / per_layer_head)));
  int max_heads_log2 = 0;
  while (max_heads_log2 < 4 && (2 << max_heads_log2) <= units) ++max_heads_log2;
  const int heads = 1 << (rng() % (max_heads_log2 + 1));
  const int layers = std::clamp(units / heads, 1, 12);

  storage::StreamSnapshot snapshot;
  snapshot.model_fingerprint = kModel;
  snapshot.config.layers = layers;
  snapshot.config.heads = heads;
  snapshot.config.head_size = head_size;
  snapshot.config.embd = heads * head_size;
  snapshot.token_count = token_count;
  snapshot.state = engine::RecurrentState(snapshot.config);
  // Finite values in [-4, 4), from a cheap generator seeded by `rng`.
  uint64_t x = rng() | 1;
  for (float& f : snapshot.state.floats()) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    f = static_cast<float>(static_cast<int32_t>(x >> 32)) * 0x1p-29f;
  }
  snapshot.sampler_state = absl::StrCat("sampler:", rng());
  snapshot.pending_input.resize(rng() % 4);
  for (int32_t& token : snapshot.pending_input) token = static_cast<int32_t>(rng() % 65536);

  const int pick = static_cast<int>(rng() % 10);
  const storage::StateCodec codec = pick < 5   ? storage::StateCodec::kRaw
                                    : pick < 7 ? storage::StateCodec::kLossless
                                    : pick < 9 ? storage::StateCodec::kBF16
                                               : storage::StateCodec::kInt8;
  return storage::EncodeSnapshot(snapshot, codec);
}

}  // namespace gander::crash
