#include "cli/client/session_flags.h"

#include <cmath>
#include <functional>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace gander::cli::client {
namespace {

// A float flag's value, if given; `valid` states the range for the message.
absl::Status SetFloatFlag(const FlagSet& flags, const std::string& name, const char* range,
                          const std::function<bool(double)>& valid,
                          const std::function<void(float)>& set) {
  if (!flags.Has(name)) return absl::OkStatus();
  GANDER_ASSIGN_OR_RETURN(double value, flags.GetDouble(name));
  if (!std::isfinite(value) || !valid(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, "=", flags.Get(name), " is out of range (", range, ")"));
  }
  set(static_cast<float>(value));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::CheckpointPolicy> ParseCheckpointPolicy(absl::string_view text) {
  if (text.empty()) return v1::CHECKPOINT_POLICY_UNSPECIFIED;
  if (text == "after-generation") return v1::CHECKPOINT_POLICY_AFTER_GENERATION;
  if (text == "every-n") return v1::CHECKPOINT_POLICY_EVERY_N_TOKENS;
  if (text == "on-close") return v1::CHECKPOINT_POLICY_ON_CLOSE;
  if (text == "on-request") return v1::CHECKPOINT_POLICY_ON_REQUEST;
  return absl::InvalidArgumentError(absl::StrCat(
      "--checkpoint='", text, "': expected after-generation, every-n, on-close or on-request"));
}

absl::StatusOr<v1::StateCodec> ParseCodec(absl::string_view text) {
  if (text.empty() || text == "default") return v1::STATE_CODEC_UNSPECIFIED;
  if (text == "raw") return v1::STATE_CODEC_RAW;
  if (text == "lossless") return v1::STATE_CODEC_LOSSLESS;
  if (text == "bf16") return v1::STATE_CODEC_BF16;
  if (text == "int8") return v1::STATE_CODEC_INT8;
  return absl::InvalidArgumentError(
      absl::StrCat("--codec='", text, "': expected raw, lossless, bf16, int8 or default"));
}

absl::StatusOr<std::vector<uint32_t>> ParseTokenIds(absl::string_view text) {
  std::vector<uint32_t> ids;
  if (absl::StripAsciiWhitespace(text).empty()) return ids;
  int index = 0;
  for (absl::string_view piece : absl::StrSplit(text, ',')) {
    uint32_t id = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(piece), &id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id #", index, " '", piece, "' is not an integer in [0, 2^32)"));
    }
    ids.push_back(id);
    ++index;
  }
  return ids;
}

absl::StatusOr<uint64_t> GetUnsignedFlag(const FlagSet& flags, const std::string& name,
                                         uint64_t min, uint64_t max) {
  const std::string text(absl::StripAsciiWhitespace(flags.Get(name)));
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, "='", flags.Get(name), "' must be an integer in [", min, ", ", max, "]"));
  }
  return value;
}

void AddSessionFlags(FlagSet& flags) {
  flags.Add("seed", "seed of the stream's sampler (same seed, same continuation)", false, "0");
  flags.Add("checkpoint",
            "when the stream is checkpointed: after-generation, every-n, on-close or on-request",
            false, "after-generation");
  flags.Add("every-n-tokens", "with --checkpoint=every-n: the interval in tokens (>= 1)");
  flags.Add("codec", "checkpoint encoding: raw, lossless, bf16, int8 or default (the server's)",
            false, "default");
}

absl::Status SetOpenOptionsFromFlags(const FlagSet& flags, v1::Open* open) {
  GANDER_ASSIGN_OR_RETURN(uint64_t seed,
                          GetUnsignedFlag(flags, "seed", 0, std::numeric_limits<uint64_t>::max()));
  open->set_seed(seed);
  GANDER_ASSIGN_OR_RETURN(v1::CheckpointPolicy policy,
                          ParseCheckpointPolicy(flags.Get("checkpoint")));
  open->set_checkpoint_policy(policy);
  if (policy == v1::CHECKPOINT_POLICY_EVERY_N_TOKENS) {
    if (!flags.Has("every-n-tokens")) {
      return absl::InvalidArgumentError("--checkpoint=every-n needs --every-n-tokens=N");
    }
    GANDER_ASSIGN_OR_RETURN(
        uint64_t every_n,
        GetUnsignedFlag(flags, "every-n-tokens", 1, std::numeric_limits<uint32_t>::max()));
    open->set_every_n_tokens(static_cast<uint32_t>(every_n));
  } else if (flags.Has("every-n-tokens")) {
    return absl::InvalidArgumentError("--every-n-tokens needs --checkpoint=every-n");
  }
  GANDER_ASSIGN_OR_RETURN(v1::StateCodec codec, ParseCodec(flags.Get("codec")));
  open->set_codec(codec);
  return absl::OkStatus();
}

void AddSamplingFlags(FlagSet& flags) {
  flags.Add("temperature", "logits are divided by it; 0 = greedy (server default 1.0)");
  flags.Add("top-k", "keep the k most likely tokens; 0 = off (server default 0)");
  flags.Add("top-p", "nucleus sampling threshold in (0, 1] (server default 1.0 = off)");
  flags.Add("min-p", "keep tokens at least min-p times the top one, in [0, 1) (default 0)");
  flags.Add("presence-penalty", "subtracted from seen tokens' logits (server default 0)");
  flags.Add("frequency-penalty", "times a token's count, subtracted (server default 0)");
  flags.Add("repetition-penalty", "divides seen tokens' positive logits, > 0 (default 1.0)");
  flags.Add("penalty-decay", "penalty counts decay per token, in [0, 1] (default 0.996)");
}

absl::StatusOr<v1::SamplingSettings> SamplingFromFlags(const FlagSet& flags) {
  v1::SamplingSettings s;
  GANDER_RETURN_IF_ERROR(SetFloatFlag(
      flags, "temperature", ">= 0", [](double v) { return v >= 0; },
      [&](float v) { s.set_temperature(v); }));
  if (flags.Has("top-k")) {
    GANDER_ASSIGN_OR_RETURN(
        uint64_t top_k, GetUnsignedFlag(flags, "top-k", 0, std::numeric_limits<uint32_t>::max()));
    s.set_top_k(static_cast<uint32_t>(top_k));
  }
  GANDER_RETURN_IF_ERROR(SetFloatFlag(
      flags, "top-p", "in (0, 1]", [](double v) { return v > 0 && v <= 1; },
      [&](float v) { s.set_top_p(v); }));
  GANDER_RETURN_IF_ERROR(SetFloatFlag(
      flags, "min-p", "in [0, 1)", [](double v) { return v >= 0 && v < 1; },
      [&](float v) { s.set_min_p(v); }));
  GANDER_RETURN_IF_ERROR(SetFloatFlag(
      flags, "presence-penalty", "finite", [](double) { return true; },
      [&](float v) { s.set_presence_penalty(v); }));
  GANDER_RETURN_IF_ERROR(SetFloatFlag(
      flags, "frequency-penalty", "finite", [](double) { return true; },
      [&](float v) { s.set_frequency_penalty(v); }));
  GANDER_RETURN_IF_ERROR(SetFloatFlag(
      flags, "repetition-penalty", "> 0", [](double v) { return v > 0; },
      [&](float v) { s.set_repetition_penalty(v); }));
  GANDER_RETURN_IF_ERROR(SetFloatFlag(
      flags, "penalty-decay", "in [0, 1]", [](double v) { return v >= 0 && v <= 1; },
      [&](float v) { s.set_penalty_decay(v); }));
  return s;
}

const char* FinishReasonName(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_STOP_TOKEN:
      return "stop token";
    case v1::FINISH_REASON_STOP_STRING:
      return "stop string";
    case v1::FINISH_REASON_MAX_TOKENS:
      return "max tokens";
    case v1::FINISH_REASON_CANCELLED:
      return "cancelled";
    default:
      return "unspecified";
  }
}

const char* CheckpointPolicyName(v1::CheckpointPolicy policy) {
  switch (policy) {
    case v1::CHECKPOINT_POLICY_AFTER_GENERATION:
      return "after-generation";
    case v1::CHECKPOINT_POLICY_EVERY_N_TOKENS:
      return "every-n";
    case v1::CHECKPOINT_POLICY_ON_CLOSE:
      return "on-close";
    case v1::CHECKPOINT_POLICY_ON_REQUEST:
      return "on-request";
    default:
      return "after-generation";
  }
}

}  // namespace gander::cli::client
