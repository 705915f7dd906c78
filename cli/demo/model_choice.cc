#include "cli/demo/model_choice.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/demo/demo_support.h"
#include "cli/demo/download.h"
#include "common/status_macros.h"
#include "engine/weights/random_model.h"

namespace gander::cli::demo {
namespace {

bool IsFile(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

void Say(const std::string& line) {
  std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
}

std::string Megabytes(int64_t bytes) {
  return absl::StrFormat("%.1f MB", static_cast<double>(bytes) / 1e6);
}

absl::Status MakeDirs(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (!error) return absl::OkStatus();
  const std::string message = absl::StrCat("cannot create ", dir, ": ", error.message());
  if (error == std::errc::permission_denied) return absl::PermissionDeniedError(message);
  if (error == std::errc::no_space_on_device) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

// Downloads the official files that are not in the cache yet. True when
// both are there afterwards.
bool FetchOfficial(const std::string& cache_dir) {
  if (!CurlAvailable()) {
    Say("curl is not installed: cannot download the official model");
    return false;
  }
  for (const RemoteFile* file : {&kOfficialVocab, &kOfficialModel}) {
    const std::string path = absl::StrCat(cache_dir, "/", file->file_name);
    if (IsFile(path)) continue;
    Say(absl::StrCat("downloading ", file->file_name, " (", Megabytes(file->size), ")"));
    Say(absl::StrCat("  from ", file->url));
    const absl::Status status = DownloadVerified(*file, cache_dir);
    if (!status.ok()) {
      Say(absl::StrCat("  download failed: ", status.message()));
      return false;
    }
    Say(absl::StrCat("  verified: ", file->size, " bytes, SHA-256 ", file->sha256));
  }
  return true;
}

}  // namespace

absl::StatusOr<ModelChoice> ChooseModel(const ModelChoiceOptions& options) {
  ModelChoice choice;
  if (!options.model_path.empty()) {
    choice.model_path = options.model_path;
    Say(absl::StrCat("model: ", options.model_path, " (from --model)"));
    if (!options.vocab_path.empty()) {
      choice.server_vocab = options.vocab_path;
      choice.text_mode = TextMode::kServerText;
      Say(absl::StrCat("vocabulary: ", options.vocab_path, " (the server turns text into tokens)"));
    } else {
      Say("no --vocab: the streams use token ids");
    }
    choice.summary = absl::StrCat(options.model_path, " (--model)");
    return choice;
  }
  if (!options.vocab_path.empty()) {
    return absl::InvalidArgumentError("--vocab goes with --model");
  }

  std::string cache_dir = options.cache_dir;
  if (absl::Status made = MakeDirs(cache_dir); !made.ok()) {
    if (!options.cache_dir_fallback) return made;
    cache_dir = FallbackCacheDir(SystemEnv(), getuid());
    Say(absl::StrCat(made.message(), "; using ", cache_dir, " instead"));
    GANDER_RETURN_IF_ERROR(MakeDirs(cache_dir));
  }
  Say(absl::StrCat("cache folder: ", cache_dir));
  const std::string official_model = absl::StrCat(cache_dir, "/", kOfficialModel.file_name);
  const std::string official_vocab = absl::StrCat(cache_dir, "/", kOfficialVocab.file_name);
  bool have_official = IsFile(official_model) && IsFile(official_vocab);
  if (have_official) {
    Say("the official RWKV-7 World 0.1B model is in the cache (verified when downloaded)");
  } else if (options.offline) {
    Say("--offline: not downloading the official model");
  } else {
    have_official = FetchOfficial(cache_dir);
  }
  if (have_official) {
    choice.model_path = official_model;
    choice.server_vocab = official_vocab;
    choice.text_mode = TextMode::kServerText;
    choice.official = true;
    Say(absl::StrCat("model: ", official_model));
    Say(absl::StrCat("vocabulary: ", official_vocab));
    choice.summary = "RWKV-7 World 0.1B (official checkpoint, SHA-256 verified)";
    return choice;
  }

  // No real model: a random one, with the World vocabulary when a copy is
  // at hand.
  for (const std::string& candidate : VocabularyCandidates(SystemEnv(), cache_dir)) {
    if (!IsFile(candidate)) continue;
    absl::StatusOr<engine::Tokenizer> tokenizer = engine::Tokenizer::FromFile(candidate);
    if (!tokenizer.ok()) {
      Say(absl::StrCat("skipping the vocabulary ", candidate, ": ", tokenizer.status().message()));
      continue;
    }
    choice.tokenizer = std::make_unique<engine::Tokenizer>(*std::move(tokenizer));
    Say(absl::StrCat("vocabulary: ", candidate));
    break;
  }
  engine::RandomModelSpec spec;
  spec.layers = 4;
  spec.embd = 256;
  spec.vocab =
      choice.tokenizer ? std::max(kOfficialVocabSize, choice.tokenizer->vocab_size()) : 1024;
  spec.seed = 1;
  choice.model_path = absl::StrCat(
      cache_dir, "/", RandomModelFileName(spec.layers, spec.embd, spec.vocab, spec.seed));
  if (IsFile(choice.model_path)) {
    Say(absl::StrCat("random model (reused from the cache): ", choice.model_path));
  } else {
    GANDER_RETURN_IF_ERROR(engine::WriteRandomModel(
        spec, choice.model_path, engine::TensorFormat::kPth, engine::FileDtype::kBF16));
    Say(absl::StrCat("wrote a random model: ", choice.model_path));
  }
  Say(absl::StrFormat("(%d layers, C=%d, V=%d, official .pth layout)", spec.layers, spec.embd,
                      spec.vocab));
  std::printf(
      "\n  *** NOTE: this model is RANDOM: its text is noise. ***\n"
      "  The real model could not be fetched, so this run shows the machinery\n"
      "  (token streaming, forks, durable checkpoints, crash recovery), not a\n"
      "  language model. Run with network access, or pass --model and --vocab.\n\n");
  if (choice.tokenizer) {
    choice.text_mode = TextMode::kClientText;
    Say("the server gets token ids: the demo encodes the prompt and decodes the output");
    Say("itself (a random model emits byte sequences that are not valid UTF-8)");
  } else {
    Say("no vocabulary found (set GANDER_VOCAB): the streams use token ids");
  }
  choice.random = true;
  choice.summary = absl::StrFormat("random model, %d layers, C=%d, V=%d (its text is noise)",
                                   spec.layers, spec.embd, spec.vocab);
  return choice;
}

}  // namespace gander::cli::demo
