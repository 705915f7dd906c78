#include "bench/cuda/random_weights.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "engine/weights/bf16.h"

namespace gander::bench {
namespace {

using engine::LayerWeights;
using engine::Matrix;
using engine::ModelConfig;
using engine::ModelWeights;
using engine::RandomModelSpec;
using engine::WeightType;

constexpr size_t kAlign = 64;
// Elements per unit of parallel work.
constexpr size_t kChunk = size_t{1} << 20;
constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

// SplitMix64's output function: a bijective, well-mixed hash of 64 bits.
inline uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Element i of the tensor with stream `seed`, uniform in [-1, 1): the i-th
// output of a SplitMix64 generator started at `seed`, so any element can be
// made on its own (no sequential state: chunks fill in any order).
inline float SignedUnit(uint64_t seed, uint64_t i) {
  const uint64_t u = Mix(seed + (i + 1) * kGamma);
  return static_cast<float>(u >> 40) * 0x1p-23f - 1.0f;  // 24 bits, exact
}

// Each tensor's stream depends on the model seed and the tensor's position
// in the fixed order below.
uint64_t TensorSeed(uint64_t model_seed, uint64_t tensor) {
  return Mix(model_seed ^ Mix(tensor * kGamma + 0x5851f42d4c957f2dull));
}

std::vector<float> UniformVector(uint64_t seed, size_t n, float lo, float hi) {
  std::vector<float> v(n);
  const float mid = 0.5f * (lo + hi), half = 0.5f * (hi - lo);
  for (size_t i = 0; i < n; ++i) v[i] = mid + half * SignedUnit(seed, i);
  return v;
}

// A matrix to fill: its place in the buffer and its distribution.
struct PlannedMatrix {
  Matrix* matrix;
  size_t offset;  // bytes from the buffer's start
  float scale;    // values are U(-scale, scale)
  uint64_t seed;
};

struct Chunk {
  size_t planned;  // index into the plan
  size_t begin, end;
};

void FillChunk(const PlannedMatrix& p, uint8_t* base, WeightType type, size_t begin, size_t end) {
  if (type == WeightType::kBF16) {
    uint16_t* out = reinterpret_cast<uint16_t*>(base + p.offset);
    for (size_t i = begin; i < end; ++i) {
      out[i] = engine::FloatToBf16(p.scale * SignedUnit(p.seed, i));
    }
  } else {
    float* out = reinterpret_cast<float*>(base + p.offset);
    for (size_t i = begin; i < end; ++i) out[i] = p.scale * SignedUnit(p.seed, i);
  }
}

std::string Fingerprint(const ModelConfig& c, WeightType type, uint64_t seed) {
  return absl::StrCat("random-L", c.layers, "-C", c.embd, "-N", c.head_size, "-F", c.ffn, "-V",
                      c.vocab, "-lora", c.lora_w, ".", c.lora_a, ".", c.lora_v, ".", c.lora_g,
                      type == WeightType::kBF16 ? "-bf16" : "-fp32", "-seed", seed);
}

}  // namespace

absl::StatusOr<ModelWeights> MakeRandomWeights(const RandomModelSpec& spec, WeightType type,
                                               int threads) {
  if (threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MakeRandomWeights: threads = ", threads, ": must be >= 0"));
  }
  GANDER_ASSIGN_OR_RETURN(const ModelConfig c, RandomModelConfig(spec));
  const size_t C = c.embd;
  const size_t element_bytes = type == WeightType::kBF16 ? 2 : 4;

  ModelWeights w;
  w.config = c;
  w.type = type;
  w.layers.resize(c.layers);

  // Tensors are numbered in this fixed order; the number picks the stream.
  uint64_t tensor = 0;
  auto vec = [&](size_t n, float lo, float hi) {
    return UniformVector(TensorSeed(spec.seed, tensor++), n, lo, hi);
  };
  std::vector<PlannedMatrix> plan;
  size_t total_bytes = 0;
  auto mat = [&](Matrix* m, int rows, int cols, float scale) {
    m->type = type;
    m->rows = rows;
    m->cols = cols;
    plan.push_back({m, total_bytes, scale, TensorSeed(spec.seed, tensor++)});
    const size_t bytes = static_cast<size_t>(rows) * cols * element_bytes;
    total_bytes += (bytes + kAlign - 1) / kAlign * kAlign;
  };
  auto fan_in = [](int cols) { return 1.0f / std::sqrt(static_cast<float>(cols)); };

  mat(&w.emb, c.vocab, c.embd, 1.0f);
  w.ln0_weight = vec(C, 0.9f, 1.1f);
  w.ln0_bias = vec(C, -0.02f, 0.02f);
  for (int l = 0; l < c.layers; ++l) {
    LayerWeights& lw = w.layers[l];
    lw.ln1_weight = vec(C, 0.9f, 1.1f);
    lw.ln1_bias = vec(C, -0.02f, 0.02f);
    lw.ln2_weight = vec(C, 0.9f, 1.1f);
    lw.ln2_bias = vec(C, -0.02f, 0.02f);
    for (std::vector<float>* mix : {&lw.x_r, &lw.x_w, &lw.x_k, &lw.x_v, &lw.x_a, &lw.x_g}) {
      *mix = vec(C, 0.4f, 0.6f);
    }
    lw.w0 = vec(C, -4.0f, 3.0f);
    lw.a0 = vec(C, -1.0f, 1.0f);
    // Layer 0's value residual is unused: absent, as the loader leaves it.
    if (l > 0) lw.v0 = vec(C, -1.0f, 1.0f);
    lw.k_k = vec(C, 0.85f, 1.0f);
    lw.k_a = vec(C, 0.9f, 1.1f);
    lw.r_k = vec(static_cast<size_t>(c.heads) * c.head_size, -0.1f, 0.1f);
    lw.ln_x_weight = vec(C, 0.9f, 1.1f);
    lw.ln_x_bias = vec(C, -0.02f, 0.02f);
    lw.ffn_x_k = vec(C, 0.4f, 0.6f);

    mat(&lw.w1, c.lora_w, c.embd, fan_in(c.embd));
    mat(&lw.w2, c.embd, c.lora_w, fan_in(c.lora_w));
    mat(&lw.a1, c.lora_a, c.embd, fan_in(c.embd));
    mat(&lw.a2, c.embd, c.lora_a, fan_in(c.lora_a));
    if (l > 0) {
      mat(&lw.v1, c.lora_v, c.embd, fan_in(c.embd));
      mat(&lw.v2, c.embd, c.lora_v, fan_in(c.lora_v));
    }
    mat(&lw.g1, c.lora_g, c.embd, fan_in(c.embd));
    mat(&lw.g2, c.embd, c.lora_g, fan_in(c.lora_g));
    for (Matrix* m : {&lw.receptance, &lw.key, &lw.value, &lw.output}) {
      mat(m, c.embd, c.embd, fan_in(c.embd));
    }
    mat(&lw.ffn_key, c.ffn, c.embd, fan_in(c.embd));
    mat(&lw.ffn_value, c.embd, c.ffn, fan_in(c.ffn));
  }
  w.ln_out_weight = vec(C, 0.9f, 1.1f);
  w.ln_out_bias = vec(C, -0.02f, 0.02f);
  mat(&w.head, c.vocab, c.embd, fan_in(c.embd));

  void* raw = ::operator new(total_bytes, std::align_val_t(kAlign), std::nothrow);
  if (raw == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("MakeRandomWeights: cannot allocate ",
                                                     total_bytes, " bytes for the matrices of ",
                                                     Fingerprint(c, type, spec.seed)));
  }
  std::shared_ptr<void> storage(raw,
                                [](void* p) { ::operator delete(p, std::align_val_t(kAlign)); });
  uint8_t* base = static_cast<uint8_t*>(raw);
  for (PlannedMatrix& p : plan) p.matrix->data = base + p.offset;

  std::vector<Chunk> chunks;
  for (size_t i = 0; i < plan.size(); ++i) {
    const size_t n = static_cast<size_t>(plan[i].matrix->rows) * plan[i].matrix->cols;
    for (size_t begin = 0; begin < n; begin += kChunk) {
      chunks.push_back({i, begin, std::min(n, begin + kChunk)});
    }
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k = next.fetch_add(1); k < chunks.size(); k = next.fetch_add(1)) {
      FillChunk(plan[chunks[k].planned], base, type, chunks[k].begin, chunks[k].end);
    }
  };
  size_t workers = threads > 0 ? static_cast<size_t>(threads)
                               : std::max<size_t>(1, std::thread::hardware_concurrency());
  workers = std::min(workers, chunks.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();  // the calling thread is worker 0
  for (std::thread& t : pool) t.join();

  w.fingerprint = Fingerprint(c, type, spec.seed);
  w.storage = std::move(storage);
  return w;
}

}  // namespace gander::bench
