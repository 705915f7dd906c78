// gander eval: runs tokens through a fresh state one at a time and writes the
// last position's logits as a little-endian float32 .npy of shape [V] (and,
// on request, the final state's raw bytes). Outside checks rely on this exact
// command-line form: keep it stable.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "engine/model.h"
#include "engine/npy.h"
#include "engine/tokenizer/tokenizer.h"

namespace gander::cli {
namespace {

absl::StatusOr<std::vector<int>> ParseTokens(const std::string& text) {
  std::vector<int> tokens;
  for (absl::string_view piece : absl::StrSplit(text, ',')) {
    int id = 0;
    if (!absl::SimpleAtoi(piece, &id)) {
      return absl::InvalidArgumentError(absl::StrCat("--tokens: '", piece, "' is not a token id"));
    }
    tokens.push_back(id);
  }
  return tokens;
}

absl::StatusOr<engine::WeightType> ParseDtype(const std::string& name) {
  if (name == "fp32") return engine::WeightType::kF32;
  if (name == "bf16") return engine::WeightType::kBF16;
  return absl::InvalidArgumentError(absl::StrCat("--dtype must be fp32 or bf16, got '", name, "'"));
}

absl::Status Eval(const FlagSet& flags) {
  if (flags.Has("tokens") == flags.Has("text")) {
    return absl::InvalidArgumentError("give exactly one of --tokens and --text");
  }
  std::vector<int> tokens;
  if (flags.Has("tokens")) {
    absl::StatusOr<std::vector<int>> parsed = ParseTokens(flags.Get("tokens"));
    if (!parsed.ok()) return parsed.status();
    tokens = *std::move(parsed);
  } else {
    if (!flags.Has("vocab")) return absl::InvalidArgumentError("--text needs --vocab");
    absl::StatusOr<engine::Tokenizer> tokenizer = engine::Tokenizer::FromFile(flags.Get("vocab"));
    if (!tokenizer.ok()) return tokenizer.status();
    absl::StatusOr<std::vector<int>> encoded = tokenizer->Encode(flags.Get("text"));
    if (!encoded.ok()) return encoded.status();
    tokens = *std::move(encoded);
  }
  if (tokens.empty()) return absl::InvalidArgumentError("no tokens to evaluate");

  absl::StatusOr<engine::WeightType> dtype = ParseDtype(flags.Get("dtype"));
  if (!dtype.ok()) return dtype.status();
  engine::LoadOptions options;
  options.type = *dtype;
  absl::StatusOr<std::unique_ptr<engine::Model>> model =
      engine::Model::Load(flags.Get("model"), options);
  if (!model.ok()) return model.status();

  engine::RecurrentState state = (*model)->NewState();
  std::vector<float> logits((*model)->config().vocab);
  for (size_t t = 0; t < tokens.size(); ++t) {
    absl::Status s = (*model)->Step(tokens[t], &state, absl::MakeSpan(logits));
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("token ", t, ": ", s.message()));
  }
  absl::Status s = engine::WriteNpyFloat32(flags.Get("logits-out"), logits,
                                           {static_cast<int64_t>(logits.size())});
  if (!s.ok()) return s;
  if (flags.Has("state-out")) {
    std::ofstream out(flags.Get("state-out"), std::ios::binary | std::ios::trunc);
    const auto bytes = state.bytes();
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write ", flags.Get("state-out")));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int EvalCommand(int argc, char** argv) {
  FlagSet flags("eval");
  flags.Add("model", "model file (.pth or .safetensors)", /*required=*/true);
  flags.Add("tokens", "comma-separated token ids, e.g. 1,2,3");
  flags.Add("text", "text to tokenize instead of --tokens (needs --vocab)");
  flags.Add("vocab", "RWKV World vocabulary file");
  flags.Add("logits-out", "where to write the last position's logits (.npy, float32 [V])",
            /*required=*/true);
  flags.Add("state-out", "where to write the final state's raw float32 bytes");
  flags.Add("dtype", "how to hold the weights: fp32 or bf16", false, "fp32");
  return RunCommand(flags, argc, argv, Eval);
}

}  // namespace gander::cli
