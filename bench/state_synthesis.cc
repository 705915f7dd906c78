#include "bench/state_synthesis.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "engine/recurrent_state.h"

namespace gander::bench {

using engine::ModelConfig;
using engine::RecurrentState;
using storage::StreamSnapshot;

ModelConfig StateShape(int layers, int embd, int head_size) {
  ModelConfig c;
  c.layers = layers;
  c.embd = embd;
  c.head_size = head_size;
  c.heads = head_size > 0 ? embd / head_size : 0;
  return c;
}

absl::StatusOr<std::unique_ptr<engine::Model>> LoadRandomModel(const engine::RandomModelSpec& spec,
                                                               int threads) {
  const char* dir = std::getenv("TEST_TMPDIR");
  if (dir == nullptr) dir = std::getenv("TMPDIR");
  const std::string path = absl::StrCat(dir != nullptr ? dir : "/tmp", "/gander-bench-model-",
                                        getpid(), "-", spec.layers, "x", spec.embd, ".pth");
  GANDER_RETURN_IF_ERROR(
      engine::WriteRandomModel(spec, path, engine::TensorFormat::kPth, engine::FileDtype::kBF16));
  absl::StatusOr<std::unique_ptr<engine::Model>> model = engine::Model::Load(path, {}, threads);
  std::remove(path.c_str());
  return model;
}

absl::StatusOr<StreamSnapshot> GenerateSnapshot(engine::Model& model, int tokens, uint64_t seed) {
  if (tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat("tokens must be >= 1, got ", tokens));
  }
  const int vocab = model.config().vocab;
  std::vector<int> ids(tokens);
  std::mt19937 rng(seed);
  for (int& t : ids) t = static_cast<int>(rng() % vocab);
  StreamSnapshot s;
  s.model_fingerprint = model.fingerprint();
  s.config = model.config();
  s.token_count = ids.size();
  s.state = model.NewState();
  std::vector<float> logits(vocab);
  GANDER_RETURN_IF_ERROR(model.Prefill(ids, &s.state, absl::MakeSpan(logits)));
  s.sampler_state = std::string(29, 's');
  return s;
}

absl::StatusOr<StreamSnapshot> TileSnapshot(const StreamSnapshot& source,
                                            const ModelConfig& shape) {
  const ModelConfig& sc = source.config;
  const int n = sc.head_size;
  if (n < 1 || sc.layers < 1 || sc.heads < 1 || sc.embd != sc.heads * n ||
      source.state.floats().size() != sc.StateFloats()) {
    return absl::InvalidArgumentError("the source snapshot's state does not match its config");
  }
  if (shape.head_size != n || shape.layers < 1 || shape.heads < 1 ||
      shape.embd != shape.heads * n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target shape L=", shape.layers, " C=", shape.embd, " H=", shape.heads,
        " N=", shape.head_size, " is not a valid shape with the source's head size ", n));
  }
  StreamSnapshot s = source;
  s.config = shape;
  s.state = RecurrentState(shape);
  std::mt19937 rng(shape.layers * 7919 + shape.embd);
  std::vector<int> order(n);
  for (int j = 0; j < n; ++j) order[j] = j;
  // Byte 0 of a float32 (its lowest mantissa bits) is noise in a real
  // state; redrawing it keeps that and removes exact repeats of whole floats.
  auto copy_row = [&](const float* from, float* to) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int j = 0; j < n; ++j) {
      uint32_t bits;
      std::memcpy(&bits, &from[order[j]], sizeof(bits));
      bits = (bits & ~0xffu) | (rng() & 0xffu);
      std::memcpy(&to[j], &bits, sizeof(bits));
    }
  };
  const size_t head_floats = static_cast<size_t>(n) * n;
  for (int l = 0; l < shape.layers; ++l) {
    const int sl = l % sc.layers;
    for (int chunk = 0; chunk < shape.heads; ++chunk) {
      const size_t att_from = rng() % sc.heads;
      copy_row(source.state.att_shift(sl) + att_from * n, s.state.att_shift(l) + chunk * n);
      const size_t ffn_from = rng() % sc.heads;
      copy_row(source.state.ffn_shift(sl) + ffn_from * n, s.state.ffn_shift(l) + chunk * n);
      for (int i = 0; i < n; ++i) {
        const size_t head = rng() % sc.heads;
        const size_t row = rng() % n;
        copy_row(source.state.wkv(sl) + head * head_floats + row * n,
                 s.state.wkv(l) + chunk * head_floats + static_cast<size_t>(i) * n);
      }
    }
  }
  return s;
}

}  // namespace gander::bench
