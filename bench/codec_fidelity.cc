// Fidelity of the state codecs (storage/state_codec.h): how much a state
// restored through each codec changes what the model does next.
//
// On a random model shaped like the released RWKV-7 0.1B (L=12, C=768,
// V=65536, written at start-up with WriteRandomModel), a prompt of --prompt
// random tokens is prefilled; the state is snapshotted and restored through
// every codec; then the exact state and every restored one are continued for
// --continue tokens, all fed the SAME tokens: the exact run's greedy
// (argmax) choices. Per codec it reports, over those positions:
//   - mean and max KL(exact || restored) of the next-token distributions,
//     and the largest difference of any logit;
//   - top-1 agreement: how often both pick the same argmax;
//   - where greedy decoding diverges: a greedy run from the restored state
//     feeds its own argmax; up to its first disagreement it has fed exactly
//     the exact run's tokens, so it diverges at the first position where the
//     forced run's argmax differs (one forced run answers both questions).
// It also prints the size of the snapshot per codec and of alternative
// encodings (zstd levels, zstd without the byte shuffle, zstd after bf16 or
// int8), for the state after the prompt and the state at the end.
//
// All streams advance together through Model::DecodeBatch, one row each.
//
// Flags: --layers=12 --embd=768 --vocab=65536 --prompt=64 --continue=256
//        --seed=7 --threads=0 (all cores)
//        --dump_state=PATH: write the state after the prompt there, float32
//                 little-endian [L * (2C + H*N*N)], for offline analysis
//        --check: exit 1 unless raw and lossless are exact (identical
//                 logits, no divergence) and every KL is finite (used by
//                 the smoke test)
// Run: bazel run -c opt //bench:codec_fidelity
//      bazel run -c opt //bench:codec_fidelity -- --layers=2 --embd=128 --vocab=1024
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "engine/model.h"
#include "engine/weights/random_model.h"
#include "storage/state_codec.h"

namespace {

using gander::engine::Model;
using gander::engine::RecurrentState;
using gander::storage::StateCodec;
using gander::storage::StateCodecName;
using gander::storage::StreamSnapshot;

struct Flags {
  int layers = 12;
  int embd = 768;
  int vocab = 65536;
  int prompt = 64;
  int continue_tokens = 256;
  uint64_t seed = 7;
  int threads = 0;
  bool check = false;
  std::string dump_state;  // where to write the state after the prompt
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    bool ok = true;
    if (name == "--layers") {
      ok = absl::SimpleAtoi(value, &flags->layers);
    } else if (name == "--embd") {
      ok = absl::SimpleAtoi(value, &flags->embd);
    } else if (name == "--vocab") {
      ok = absl::SimpleAtoi(value, &flags->vocab);
    } else if (name == "--prompt") {
      ok = absl::SimpleAtoi(value, &flags->prompt);
    } else if (name == "--continue") {
      ok = absl::SimpleAtoi(value, &flags->continue_tokens);
    } else if (name == "--seed") {
      ok = absl::SimpleAtoi(value, &flags->seed);
    } else if (name == "--threads") {
      ok = absl::SimpleAtoi(value, &flags->threads);
    } else if (name == "--dump_state") {
      flags->dump_state = value;
    } else if (arg == "--check") {
      flags->check = true;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "bad flag %s\n", arg.c_str());
      return false;
    }
  }
  if (flags->prompt < 1 || flags->continue_tokens < 1) {
    std::fprintf(stderr, "--prompt and --continue must be >= 1\n");
    return false;
  }
  return true;
}

// log-softmax of logits [V], in double.
void LogSoftmax(absl::Span<const float> logits, std::vector<double>* out) {
  out->resize(logits.size());
  double max = -INFINITY;
  for (float x : logits) max = std::max(max, static_cast<double>(x));
  double sum = 0;
  for (float x : logits) sum += std::exp(x - max);
  const double lse = max + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) (*out)[i] = logits[i] - lse;
}

// KL(p || q) from log-probabilities.
double Kl(const std::vector<double>& log_p, const std::vector<double>& log_q) {
  double kl = 0;
  for (size_t i = 0; i < log_p.size(); ++i) {
    kl += std::exp(log_p[i]) * (log_p[i] - log_q[i]);
  }
  return std::max(kl, 0.0);  // rounding can make an exact 0 slightly negative
}

int Argmax(absl::Span<const float> logits) {
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

size_t ZstdSize(const void* data, size_t size, int level) {
  std::vector<char> out(ZSTD_compressBound(size));
  const size_t rc = ZSTD_compress(out.data(), out.size(), data, size, level);
  return ZSTD_isError(rc) ? 0 : rc;
}

// Planes of `width`-byte elements: byte k of every element, for k = 0.. .
std::string Shuffle(absl::string_view bytes, size_t width) {
  const size_t n = bytes.size() / width;
  std::string out(n * width, '\0');
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < width; ++k) out[k * n + i] = bytes[i * width + k];
  }
  return out;
}

std::string MustEncode(const StreamSnapshot& snapshot, StateCodec codec,
                       const gander::storage::EncodeOptions& options = {}) {
  auto bytes = gander::storage::EncodeSnapshot(snapshot, codec, options);
  if (!bytes.ok()) {
    std::fprintf(stderr, "encode %s: %s\n", std::string(StateCodecName(codec)).c_str(),
                 bytes.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(bytes);
}

// Sizes of the state in every encoding considered, as a markdown table.
void PrintSizes(const char* title, const StreamSnapshot& snapshot) {
  const absl::Span<const float> floats = snapshot.state.floats();
  const size_t raw = floats.size() * sizeof(float);
  // Payload bytes of a snapshot = its size minus the envelope (same for all).
  const size_t envelope = MustEncode(snapshot, StateCodec::kRaw).size() - raw;
  std::printf("\n#### Encoded size, %s (%.2f MB of float32)\n\n", title, raw / 1e6);
  std::printf("| encoding | bytes | ratio (raw / encoded) |\n| --- | ---: | ---: |\n");
  auto row = [&](const std::string& name, size_t bytes) {
    std::printf("| %s | %zu | %.3f |\n", name.c_str(), bytes, static_cast<double>(raw) / bytes);
  };
  row("raw", raw + envelope);
  for (int level : {1, 3, 9, 19}) {
    gander::storage::EncodeOptions options;
    options.zstd_level = level;
    row(absl::StrCat("lossless (shuffle + zstd ", level, ")"),
        MustEncode(snapshot, StateCodec::kLossless, options).size());
  }
  for (int level : {1, 3, 19}) {
    row(absl::StrCat("zstd ", level, " without shuffle (not a codec)"),
        ZstdSize(floats.data(), raw, level) + envelope);
  }
  // Where the lossless gain comes from: each byte plane of the float32s
  // compressed alone (plane 3 holds the sign and 7 exponent bits).
  const std::string planes =
      Shuffle(absl::string_view(reinterpret_cast<const char*>(floats.data()), raw), sizeof(float));
  for (int k = 0; k < 4; ++k) {
    const size_t plane = raw / 4;
    const size_t z = ZstdSize(planes.data() + k * plane, plane, 1);
    std::printf("| float32 byte plane %d alone, zstd 1 (not a codec) | %zu of %zu | %.3f |\n", k, z,
                plane, static_cast<double>(plane) / z);
  }
  gander::storage::EncodeOptions compress;
  compress.compress_lossy = true;
  row("bf16", MustEncode(snapshot, StateCodec::kBF16).size());
  row("bf16 + zstd 1 (compress_lossy)", MustEncode(snapshot, StateCodec::kBF16, compress).size());
  row("int8", MustEncode(snapshot, StateCodec::kInt8).size());
  row("int8 + zstd 1 (compress_lossy)", MustEncode(snapshot, StateCodec::kInt8, compress).size());
}

struct CodecStats {
  StateCodec codec;
  size_t bytes = 0;
  double kl_sum = 0;
  double kl_max = 0;
  double max_logit_diff = 0;  // largest |restored - exact| logit
  int top1_agree = 0;
  int first_divergence = -1;  // position, or -1 for none
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  const auto start = std::chrono::steady_clock::now();

  gander::engine::RandomModelSpec spec;
  spec.layers = flags.layers;
  spec.embd = flags.embd;
  spec.vocab = flags.vocab;
  spec.seed = flags.seed;
  const char* tmp = std::getenv("TEST_TMPDIR");
  if (tmp == nullptr) tmp = std::getenv("TMPDIR");
  const std::string path =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/gander-fidelity-", flags.layers, "-",
                   flags.embd, "-", flags.vocab, "-", flags.seed, ".pth");
  absl::Status written = gander::engine::WriteRandomModel(
      spec, path, gander::engine::TensorFormat::kPth, gander::engine::FileDtype::kBF16);
  if (!written.ok()) {
    std::fprintf(stderr, "cannot write %s: %s\n", path.c_str(), written.ToString().c_str());
    return 1;
  }
  auto loaded = Model::Load(path, {}, flags.threads);
  std::remove(path.c_str());
  if (!loaded.ok()) {
    std::fprintf(stderr, "cannot load %s: %s\n", path.c_str(), loaded.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Model> model = *std::move(loaded);
  const auto& config = model->config();
  const int vocab = config.vocab;

  // The prompt: deterministic random tokens.
  std::mt19937_64 rng(flags.seed);
  std::vector<int> prompt(flags.prompt);
  for (int& t : prompt) t = static_cast<int>(rng() % vocab);
  RecurrentState exact = model->NewState();
  std::vector<float> prefill_logits(vocab);
  absl::Status status = model->Prefill(prompt, &exact, absl::MakeSpan(prefill_logits));
  if (!status.ok()) {
    std::fprintf(stderr, "prefill: %s\n", status.ToString().c_str());
    return 1;
  }

  if (!flags.dump_state.empty()) {
    std::FILE* f = std::fopen(flags.dump_state.c_str(), "wb");
    const size_t n = exact.floats().size();
    if (f == nullptr || std::fwrite(exact.floats().data(), sizeof(float), n, f) != n ||
        std::fclose(f) != 0) {
      std::fprintf(stderr, "cannot write %s\n", flags.dump_state.c_str());
      return 1;
    }
  }

  StreamSnapshot snapshot;
  snapshot.model_fingerprint = model->fingerprint();
  snapshot.config = config;
  snapshot.token_count = prompt.size();
  snapshot.state = exact;

  // Restore through every codec. Row 0 is the exact state.
  const StateCodec codecs[] = {StateCodec::kRaw, StateCodec::kLossless, StateCodec::kBF16,
                               StateCodec::kInt8};
  std::vector<CodecStats> stats;
  std::vector<RecurrentState> states = {exact};
  for (StateCodec codec : codecs) {
    const std::string bytes = MustEncode(snapshot, codec);
    auto restored = gander::storage::DecodeSnapshot(bytes, model->fingerprint(), config);
    if (!restored.ok()) {
      std::fprintf(stderr, "decode %s: %s\n", std::string(StateCodecName(codec)).c_str(),
                   restored.status().ToString().c_str());
      return 1;
    }
    stats.push_back({codec, bytes.size()});
    states.push_back(std::move(restored->state));
  }
  std::vector<RecurrentState*> ptrs;
  for (auto& s : states) ptrs.push_back(&s);
  const int rows = static_cast<int>(states.size());

  // Continue all rows on the exact run's greedy tokens.
  std::vector<int> tokens(rows, Argmax(prefill_logits));
  std::vector<float> logits(static_cast<size_t>(rows) * vocab);
  std::vector<double> log_p, log_q;
  double entropy_sum = 0, top1_probability_sum = 0;  // of the exact run
  const auto decode_start = std::chrono::steady_clock::now();
  for (int pos = 0; pos < flags.continue_tokens; ++pos) {
    status = model->DecodeBatch(tokens, ptrs, absl::MakeSpan(logits));
    if (!status.ok()) {
      std::fprintf(stderr, "decode: %s\n", status.ToString().c_str());
      return 1;
    }
    const absl::Span<const float> exact_logits(logits.data(), vocab);
    LogSoftmax(exact_logits, &log_p);
    const int exact_top = Argmax(exact_logits);
    for (double lp : log_p) entropy_sum -= std::exp(lp) * lp;
    top1_probability_sum += std::exp(log_p[exact_top]);
    for (int r = 1; r < rows; ++r) {
      const absl::Span<const float> row_logits(logits.data() + static_cast<size_t>(r) * vocab,
                                               vocab);
      LogSoftmax(row_logits, &log_q);
      CodecStats& s = stats[r - 1];
      const double kl = Kl(log_p, log_q);
      s.kl_sum += kl;
      s.kl_max = std::max(s.kl_max, kl);
      for (int v = 0; v < vocab; ++v) {
        s.max_logit_diff = std::max(
            s.max_logit_diff, static_cast<double>(std::fabs(row_logits[v] - exact_logits[v])));
      }
      if (Argmax(row_logits) == exact_top) {
        ++s.top1_agree;
      } else if (s.first_divergence < 0) {
        s.first_divergence = pos;
      }
    }
    std::fill(tokens.begin(), tokens.end(), exact_top);
  }
  const double decode_seconds = Seconds(decode_start);

  std::printf(
      "### State codec fidelity: random model L=%d C=%d H=%d N=%d V=%d (seed %llu), "
      "prompt %d tokens, continued %d tokens on the exact run's greedy tokens\n\n",
      config.layers, config.embd, config.heads, config.head_size, vocab,
      static_cast<unsigned long long>(flags.seed), flags.prompt, flags.continue_tokens);
  std::printf(
      "| codec | snapshot bytes | ratio | mean KL (exact \\|\\| restored) | max KL | "
      "max \\|logit diff\\| | top-1 agreement | greedy diverges at |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  bool ok = true;
  const double raw_bytes = static_cast<double>(exact.floats().size()) * 4;
  for (const CodecStats& s : stats) {
    const double mean = s.kl_sum / flags.continue_tokens;
    const std::string divergence =
        s.first_divergence < 0
            ? absl::StrCat("never (", flags.continue_tokens, "/", flags.continue_tokens, " agree)")
            : absl::StrCat("token ", s.first_divergence);
    std::printf("| %s | %zu | %.3f | %.3e | %.3e | %.3e | %d/%d | %s |\n",
                std::string(StateCodecName(s.codec)).c_str(), s.bytes, raw_bytes / s.bytes, mean,
                s.kl_max, s.max_logit_diff, s.top1_agree, flags.continue_tokens,
                divergence.c_str());
    const bool exact_codec = s.codec == StateCodec::kRaw || s.codec == StateCodec::kLossless;
    if (!std::isfinite(mean) || !std::isfinite(s.kl_max)) ok = false;
    if (exact_codec && (s.kl_max != 0 || s.max_logit_diff != 0 || s.first_divergence >= 0)) {
      ok = false;
    }
  }

  std::printf(
      "\nExact run: mean next-token entropy %.3f nats (uniform: %.3f), mean top-1 probability "
      "%.3f.\n",
      entropy_sum / flags.continue_tokens, std::log(static_cast<double>(vocab)),
      top1_probability_sum / flags.continue_tokens);

  PrintSizes(absl::StrCat("state after the ", flags.prompt, "-token prompt").c_str(), snapshot);
  snapshot.state = states[0];
  snapshot.token_count += flags.continue_tokens;
  PrintSizes(absl::StrCat("state after ", flags.prompt + flags.continue_tokens, " tokens").c_str(),
             snapshot);
  std::printf("\n%d streams x %d decode steps in %.1f s; total %.1f s\n", rows,
              flags.continue_tokens, decode_seconds, Seconds(start));

  if (flags.check && !ok) {
    std::fprintf(stderr,
                 "FAILED: an exact codec changed the continuation, or a KL is not finite\n");
    return 1;
  }
  return 0;
}
