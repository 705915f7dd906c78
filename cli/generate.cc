// gander generate: runs a prompt through a model and streams the generated
// text to stdout as it is produced (never splitting a UTF-8 character, never
// printing a stop string). A one-line summary goes to stderr.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "engine/model.h"
#include "engine/sampler/sampler.h"
#include "engine/sampler/stop_checker.h"
#include "engine/tokenizer/tokenizer.h"

namespace gander::cli {
namespace {

void Emit(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

const char* ReasonName(engine::StopReason reason) {
  switch (reason) {
    case engine::StopReason::kStopToken:
      return "stop token";
    case engine::StopReason::kStopString:
      return "stop string";
    case engine::StopReason::kMaxTokens:
      return "max tokens";
    case engine::StopReason::kNone:
      break;
  }
  return "none";
}

absl::StatusOr<engine::SamplingParams> ParseSampling(const FlagSet& flags) {
  engine::SamplingParams params;
  struct FloatFlag {
    const char* name;
    float* field;
  };
  for (const FloatFlag& f :
       {FloatFlag{"temperature", &params.temperature}, FloatFlag{"top-p", &params.top_p},
        FloatFlag{"min-p", &params.min_p}, FloatFlag{"presence-penalty", &params.presence_penalty},
        FloatFlag{"frequency-penalty", &params.frequency_penalty},
        FloatFlag{"repetition-penalty", &params.repetition_penalty},
        FloatFlag{"penalty-decay", &params.penalty_decay}}) {
    absl::StatusOr<double> value = flags.GetDouble(f.name);
    if (!value.ok()) return value.status();
    *f.field = static_cast<float>(*value);
  }
  absl::StatusOr<long long> top_k = flags.GetInt("top-k");
  if (!top_k.ok()) return top_k.status();
  params.top_k = static_cast<int>(*top_k);
  absl::StatusOr<long long> max_tokens = flags.GetInt("max-tokens");
  if (!max_tokens.ok()) return max_tokens.status();
  params.max_tokens = static_cast<int>(*max_tokens);
  absl::StatusOr<long long> seed = flags.GetInt("seed");
  if (!seed.ok()) return seed.status();
  params.seed = static_cast<uint64_t>(*seed);
  for (absl::string_view id : absl::StrSplit(flags.Get("stop-ids"), ',', absl::SkipEmpty())) {
    int token = 0;
    if (!absl::SimpleAtoi(id, &token)) {
      return absl::InvalidArgumentError(absl::StrCat("--stop-ids: '", id, "' is not a token id"));
    }
    params.stop_token_ids.push_back(token);
  }
  if (flags.Has("stop")) params.stop_strings.push_back(flags.Get("stop"));
  return params;
}

absl::Status Generate(const FlagSet& flags) {
  absl::StatusOr<engine::Tokenizer> tokenizer = engine::Tokenizer::FromFile(flags.Get("vocab"));
  if (!tokenizer.ok()) return tokenizer.status();
  absl::StatusOr<std::vector<int>> prompt = tokenizer->Encode(flags.Get("prompt"));
  if (!prompt.ok()) return prompt.status();
  if (prompt->empty()) return absl::InvalidArgumentError("--prompt is empty");

  engine::LoadOptions options;
  if (flags.Get("dtype") == "fp32") {
    options.type = engine::WeightType::kF32;
  } else if (flags.Get("dtype") != "bf16") {
    return absl::InvalidArgumentError("--dtype must be bf16 or fp32");
  }
  absl::StatusOr<std::unique_ptr<engine::Model>> model =
      engine::Model::Load(flags.Get("model"), options);
  if (!model.ok()) return model.status();

  absl::StatusOr<engine::SamplingParams> params = ParseSampling(flags);
  if (!params.ok()) return params.status();
  absl::StatusOr<engine::Sampler> sampler =
      engine::Sampler::Create(*params, (*model)->config().vocab);
  if (!sampler.ok()) return sampler.status();
  engine::StopChecker stop(*params);
  engine::StreamingDetokenizer detokenizer(&*tokenizer);

  const auto start = std::chrono::steady_clock::now();
  engine::RecurrentState state = (*model)->NewState();
  std::vector<float> logits((*model)->config().vocab);
  if (absl::Status s = (*model)->Prefill(*prompt, &state, absl::MakeSpan(logits)); !s.ok()) {
    return s;
  }
  const auto prefilled = std::chrono::steady_clock::now();

  engine::StopReason reason = engine::StopReason::kNone;
  int generated = 0;
  while (reason == engine::StopReason::kNone) {
    absl::StatusOr<int> token = sampler->Next(logits);
    if (!token.ok()) return token.status();
    ++generated;
    absl::StatusOr<std::string> piece = detokenizer.Push(*token);
    if (!piece.ok()) return piece.status();
    Emit(stop.Push(*token, *piece, &reason));
    if (reason != engine::StopReason::kNone) break;
    if (absl::Status s = (*model)->Step(*token, &state, absl::MakeSpan(logits)); !s.ok()) return s;
  }
  // Text held back as a possible stop string's start, then bytes of an
  // unfinished UTF-8 character: both are output once generation ends (unless
  // a stop string matched, whose text is never printed).
  if (reason != engine::StopReason::kStopString) {
    Emit(stop.Flush());
    Emit(detokenizer.Flush());
  }
  const auto done = std::chrono::steady_clock::now();
  const double prefill_s = std::chrono::duration<double>(prefilled - start).count();
  const double decode_s = std::chrono::duration<double>(done - prefilled).count();
  std::fprintf(stderr,
               "\n[%zu prompt tokens in %.2f s; %d generated in %.2f s (%.1f tokens/s); %s]\n",
               prompt->size(), prefill_s, generated, decode_s,
               decode_s > 0 ? generated / decode_s : 0.0, ReasonName(reason));
  return absl::OkStatus();
}

}  // namespace

int GenerateCommand(int argc, char** argv) {
  FlagSet flags("generate");
  flags.Add("model", "model file (.pth or .safetensors)", /*required=*/true);
  flags.Add("vocab", "RWKV World vocabulary file", /*required=*/true);
  flags.Add("prompt", "the prompt text", /*required=*/true);
  flags.Add("max-tokens", "stop after this many generated tokens", false, "200");
  flags.Add("temperature", "sampling temperature; 0 = greedy", false, "1.0");
  flags.Add("top-k", "keep the k most likely tokens; 0 = off", false, "0");
  flags.Add("top-p", "nucleus sampling mass; 1 = off", false, "0.3");
  flags.Add("min-p", "drop tokens below min-p x the top probability; 0 = off", false, "0");
  flags.Add("presence-penalty", "subtracted from every token seen", false, "0.5");
  flags.Add("frequency-penalty", "subtracted per (decayed) occurrence", false, "0.5");
  flags.Add("repetition-penalty", "divides positive logits of seen tokens; 1 = off", false, "1");
  flags.Add("penalty-decay", "per-token decay of occurrence counts", false, "0.996");
  flags.Add("seed", "random seed (same seed, same text)", false, "0");
  flags.Add("stop-ids", "comma-separated token ids that end generation", false, "0");
  flags.Add("stop", "a string that ends generation (not printed)");
  flags.Add("dtype", "how to hold the weights: bf16 or fp32", false, "bf16");
  return RunCommand(flags, argc, argv, Generate);
}

}  // namespace gander::cli
