// gander_loadgen: drives a Gander worker with N concurrent streams and
// reports throughput, time to first token, inter-token latency and errors
// by gRPC status code (see load_run.h). Exit code 0 when the run took
// place (failed calls are part of the report), 1 when it could not start,
// 2 for a usage error.
//
//   gander_loadgen --server=127.0.0.1:50051 --streams=16 --prompt-tokens=128
//                  --gen-tokens=128 --rounds=4 --json-out=result.json
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/loadgen/load_run.h"
#include "cli/client/connection.h"
#include "cli/client/session_flags.h"
#include "cli/client/stream_ref.h"
#include "cli/flags.h"
#include "common/status_macros.h"

namespace gander::bench {
namespace {

using cli::FlagSet;

absl::StatusOr<int> IntFlag(const FlagSet& flags, const std::string& name, int min) {
  GANDER_ASSIGN_OR_RETURN(uint64_t value, cli::client::GetUnsignedFlag(flags, name, min, 1 << 20));
  return static_cast<int>(value);
}

absl::StatusOr<LoadConfig> ConfigFromFlags(const FlagSet& flags) {
  LoadConfig config;
  GANDER_ASSIGN_OR_RETURN(config.client, cli::client::ClientOptionsFromFlags(flags));
  config.tenant = flags.Get("tenant");
  config.model = flags.Get("model");
  GANDER_ASSIGN_OR_RETURN(config.streams, IntFlag(flags, "streams", 1));
  GANDER_ASSIGN_OR_RETURN(config.channels, IntFlag(flags, "channels", 1));
  GANDER_ASSIGN_OR_RETURN(config.prompt_tokens, IntFlag(flags, "prompt-tokens", 1));
  GANDER_ASSIGN_OR_RETURN(config.gen_tokens, IntFlag(flags, "gen-tokens", 1));
  GANDER_ASSIGN_OR_RETURN(config.rounds, IntFlag(flags, "rounds", 1));
  if (flags.Has("duration")) {
    GANDER_ASSIGN_OR_RETURN(config.duration, cli::client::ParseTimeout(flags.Get("duration")));
    if (config.duration == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError("--duration must be finite");
    }
  }
  if (flags.Has("hold")) {
    GANDER_ASSIGN_OR_RETURN(config.hold, cli::client::ParseTimeout(flags.Get("hold")));
    if (config.hold == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError("--hold must be finite");
    }
  }
  GANDER_ASSIGN_OR_RETURN(double temperature, flags.GetDouble("temperature"));
  config.temperature = static_cast<float>(temperature);
  v1::Open open;
  GANDER_RETURN_IF_ERROR(cli::client::SetOpenOptionsFromFlags(flags, &open));
  config.seed = open.seed();
  config.checkpoint_policy = open.checkpoint_policy();
  config.every_n_tokens = open.every_n_tokens();
  config.codec = open.codec();
  config.keep_streams = flags.Get("keep-streams") == "true";
  config.id_prefix = flags.Get("id-prefix");
  if (!config.id_prefix.empty()) {
    // The ids are "<prefix>-<thread>-<n>": the prefix must be an id with
    // room left for the suffix.
    GANDER_RETURN_IF_ERROR(cli::client::ValidateStreamId(config.id_prefix));
    if (config.id_prefix.size() > 100) {
      return absl::InvalidArgumentError("--id-prefix is longer than 100 characters");
    }
  }
  return config;
}

// Writes `text` to `path` via path.tmp and a rename.
absl::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot create '", tmp, "': ", std::strerror(errno)));
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot write '", path, "': ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  FlagSet flags("gander_loadgen");
  cli::client::AddClientFlags(flags, /*default_timeout=*/"0");
  flags.Add("tenant", "tenant of the created streams (default: the token's)");
  flags.Add("model", "model name (default: the server's only model)");
  flags.Add("streams", "concurrent streams (one thread each)", false, "1");
  flags.Add("channels", "gRPC connections the streams are spread over", false, "1");
  flags.Add("prompt-tokens", "random token ids appended per round", false, "128");
  flags.Add("gen-tokens", "tokens generated per round (Generate.max_tokens)", false, "128");
  flags.Add("rounds", "rounds (append + generate) per stream", false, "1");
  flags.Add("hold", "keep each stream's call open this long after its last round (e.g. 5s)");
  flags.Add("duration",
            "keep opening new streams until this much time has passed (30s, 2m); default: "
            "one stream per thread");
  flags.Add("temperature", "sampling temperature (0 = greedy)", false, "0");
  cli::client::AddSessionFlags(flags);
  flags.Add("keep-streams", "keep the created streams (default: delete each after its call)", false,
            "", /*boolean=*/true);
  flags.Add("id-prefix", "prefix of created stream ids (default: loadgen-<random hex>)");
  flags.Add("json-out", "also write the report as JSON to this file");
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: gander_loadgen [flags]\n%s", flags.Usage().c_str());
      return 0;
    }
  }
  if (absl::Status s = flags.Parse(argc, argv); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  absl::StatusOr<LoadConfig> config = ConfigFromFlags(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "gander_loadgen: %s\n", config.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<LoadReport> report = RunLoad(*config);
  if (!report.ok()) {
    std::fprintf(stderr, "gander_loadgen: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::fputs(FormatReportTable(*config, *report).c_str(), stdout);
  if (flags.Has("json-out")) {
    if (absl::Status s =
            WriteFileAtomically(flags.Get("json-out"), FormatReportJson(*config, *report));
        !s.ok()) {
      std::fprintf(stderr, "gander_loadgen: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace gander::bench

int main(int argc, char** argv) { return gander::bench::Main(argc, argv); }
