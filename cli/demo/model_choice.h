// Step 1 of `gander demo`: which model (and vocabulary) the demo serves.
//
//   1. --model PATH (and --vocab PATH) when given;
//   2. else the official RWKV-7 World 0.1B checkpoint and the World
//      vocabulary, from the cache folder or, unless offline, downloaded
//      there with curl and verified (size and SHA-256);
//   3. else a random model written into the cache folder (4 layers, C=256,
//      V=65536 when a copy of the World vocabulary is found, see
//      VocabularyCandidates; else V=1024 and token ids only).
//
// It narrates each decision on stdout.
//
// Example:
//   ModelChoiceOptions options{.cache_dir = "/home/me/.cache/gander"};
//   GANDER_ASSIGN_OR_RETURN(ModelChoice choice, ChooseModel(options));
//   // serve choice.model_path, with --vocab choice.server_vocab if set
//
// Thread-compatible. Failure: INVALID_ARGUMENT for --vocab without --model;
// the file system's errors creating the cache folder (PERMISSION_DENIED,
// RESOURCE_EXHAUSTED, INTERNAL) or writing the random model (NOT_FOUND,
// PERMISSION_DENIED, RESOURCE_EXHAUSTED). A failed
// download is not an error: the demo falls through to a random model.
#ifndef GANDER_CLI_DEMO_MODEL_CHOICE_H_
#define GANDER_CLI_DEMO_MODEL_CHOICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"

namespace gander::cli::demo {

// How the demo sends and shows text.
enum class TextMode {
  // No vocabulary: token ids in, token ids out.
  kTokenIds,
  // The server has the vocabulary: text input, `text` pieces in token events.
  kServerText,
  // The demo has the vocabulary and the server does not: the demo encodes
  // the prompt and decodes the generated ids itself. Used for random models,
  // whose output is any byte sequence, including bytes that are not UTF-8 (a
  // protobuf `string` field cannot carry those).
  kClientText,
};

struct ModelChoiceOptions {
  std::string model_path;  // --model; empty: choose one
  std::string vocab_path;  // --vocab; only with --model
  std::string cache_dir;   // downloads and random models go here
  // When cache_dir cannot be created, use FallbackCacheDir instead (for the
  // default cache folder; an explicit --cache-dir must work).
  bool cache_dir_fallback = false;
  bool offline = false;  // never try a download
};

struct ModelChoice {
  std::string model_path;
  std::string server_vocab;  // --vocab for the server (kServerText); else empty
  TextMode text_mode = TextMode::kTokenIds;
  std::unique_ptr<engine::Tokenizer> tokenizer;  // set for kClientText
  bool random = false;                           // a random model the demo wrote: its text is noise
  bool official = false;                         // the official 0.1B checkpoint: check its shape
  std::string summary;                           // one line for the final summary
};

absl::StatusOr<ModelChoice> ChooseModel(const ModelChoiceOptions& options);

}  // namespace gander::cli::demo

#endif  // GANDER_CLI_DEMO_MODEL_CHOICE_H_
