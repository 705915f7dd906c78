#include "engine/backend.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace gander::engine {

absl::Status CheckTokenId(const ModelConfig& config, int token) {
  if (token < 0 || token >= config.vocab) {
    return absl::InvalidArgumentError(
        absl::StrCat("token id ", token, " is outside the vocabulary [0, ", config.vocab, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckStateShape(const ModelConfig& config, const RecurrentState* state) {
  if (state == nullptr) return absl::InvalidArgumentError("state is null");
  if (state->floats().size() != config.StateFloats() ||
      state->layer_floats() != config.LayerStateFloats()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state has ", state->floats().size(), " floats; this model's state has ",
                     config.StateFloats(), " (a state of another model?)"));
  }
  return absl::OkStatus();
}

absl::Status CheckRunArguments(const ModelConfig& config,
                               absl::Span<const Backend::Segment> segments,
                               absl::Span<const float> logits) {
  if (segments.empty()) return absl::InvalidArgumentError("no segments to run");
  absl::flat_hash_set<const RecurrentState*> seen;
  for (size_t s = 0; s < segments.size(); ++s) {
    const Backend::Segment& segment = segments[s];
    if (segment.tokens.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("segment ", s, " has no tokens"));
    }
    for (int token : segment.tokens) {
      if (absl::Status status = CheckTokenId(config, token); !status.ok()) return status;
    }
    if (absl::Status status = CheckStateShape(config, segment.state); !status.ok()) {
      return status;
    }
    if (!seen.insert(segment.state).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("segment ", s, " shares its state with an earlier segment"));
    }
  }
  const size_t want = segments.size() * static_cast<size_t>(config.vocab);
  if (logits.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits has ", logits.size(), " floats; expected ", want));
  }
  return absl::OkStatus();
}

}  // namespace gander::engine
