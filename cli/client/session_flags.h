// Flags shared by the commands that open Sessions.Stream (`gander chat`,
// `gander_loadgen`): how the stream is checkpointed and encoded, the seed,
// and how tokens are sampled; and the names printed for wire enums.
//
// Example:
//   FlagSet flags("chat");
//   AddSessionFlags(flags);
//   AddSamplingFlags(flags);
//   ... flags.Parse(argc, argv) ...
//   gander::v1::Open open;
//   GANDER_RETURN_IF_ERROR(SetOpenOptionsFromFlags(flags, &open));
//   GANDER_ASSIGN_OR_RETURN(*generate.mutable_sampling(), SamplingFromFlags(flags));
//
// Thread safety: pure functions. Failure: INVALID_ARGUMENT naming the flag
// and its value; only flags that were given are checked and set, so a
// field the user did not give keeps the server's default.
#ifndef GANDER_CLI_CLIENT_SESSION_FLAGS_H_
#define GANDER_CLI_CLIENT_SESSION_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/flags.h"
#include "gander/v1/sessions.pb.h"

namespace gander::cli::client {

// "after-generation" | "every-n" | "on-close" | "on-request"; "" is
// CHECKPOINT_POLICY_UNSPECIFIED (after every generation).
absl::StatusOr<v1::CheckpointPolicy> ParseCheckpointPolicy(absl::string_view text);

// "raw" | "lossless" | "bf16" | "int8"; "" or "default" is
// STATE_CODEC_UNSPECIFIED (the server's default).
absl::StatusOr<v1::StateCodec> ParseCodec(absl::string_view text);

// Comma-separated token ids, each in [0, 2^32). Empty text: no ids.
absl::StatusOr<std::vector<uint32_t>> ParseTokenIds(absl::string_view text);

// The value of an integer flag in [min, max]; INVALID_ARGUMENT names the
// flag otherwise.
absl::StatusOr<uint64_t> GetUnsignedFlag(const FlagSet& flags, const std::string& name,
                                         uint64_t min, uint64_t max);

// Declares --seed, --checkpoint, --every-n-tokens and --codec.
void AddSessionFlags(FlagSet& flags);

// Sets open->seed, checkpoint_policy, every_n_tokens and codec from the
// flags of AddSessionFlags. --every-n-tokens is required (>= 1) with
// --checkpoint=every-n and refused with any other policy.
absl::Status SetOpenOptionsFromFlags(const FlagSet& flags, v1::Open* open);

// Declares --temperature, --top-k, --top-p, --min-p, --presence-penalty,
// --frequency-penalty, --repetition-penalty and --penalty-decay, none with a
// default (unset means the server's default, sessions.proto).
void AddSamplingFlags(FlagSet& flags);

// The sampling settings the given flags describe, range-checked as
// sessions.proto states (temperature finite >= 0, top_p in (0, 1], min_p in
// [0, 1), penalties finite, repetition_penalty > 0, penalty_decay in
// [0, 1]).
absl::StatusOr<v1::SamplingSettings> SamplingFromFlags(const FlagSet& flags);

// Short lowercase names for printing: "max tokens", "stop string", ...
const char* FinishReasonName(v1::FinishReason reason);
const char* CheckpointPolicyName(v1::CheckpointPolicy policy);

}  // namespace gander::cli::client

#endif  // GANDER_CLI_CLIENT_SESSION_FLAGS_H_
