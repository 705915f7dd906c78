#include "engine/sampler/sampler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "absl/strings/match.h"
#include "engine/sampler/counter_rng.h"
#include "engine/sampler/internal/det_exp.h"
#include "gtest/gtest.h"

namespace gander::engine {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Roughly normal logits (sum of three uniforms), scaled; reproducible.
std::vector<float> RandomLogits(int vocab, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::vector<float> logits(vocab);
  for (float& l : logits) {
    const double u = (rng() / 4294967296.0) + (rng() / 4294967296.0) + (rng() / 4294967296.0);
    l = static_cast<float>(scale * (u - 1.5) * 2.0);
  }
  return logits;
}

int Argmax(const std::vector<float>& logits) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(logits.size()); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

Sampler MakeSampler(const SamplingParams& params, int vocab, SamplerState state = {}) {
  absl::StatusOr<Sampler> sampler = Sampler::Create(params, vocab, std::move(state));
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  return *std::move(sampler);
}

std::vector<int> RunSteps(Sampler& sampler, int steps, const std::vector<float>& logits) {
  std::vector<int> tokens;
  for (int i = 0; i < steps; ++i) {
    absl::StatusOr<int> token = sampler.Next(logits);
    EXPECT_TRUE(token.ok()) << token.status();
    tokens.push_back(token.ok() ? *token : -1);
  }
  return tokens;
}

// ---------------------------------------------------------------------------
// A slow, obviously-correct reference for one draw (no penalties), written
// straight from the definitions in sampler.h and internal/weights.h: dense
// arrays, a full sort, one loop per rule. Sampler must agree with it bit for
// bit, whichever internal representation it picks.

float Sanitized(float l) {
  if (std::isnan(l)) return -kInf;
  if (l == kInf) return std::numeric_limits<float>::max();
  return l == 0.0f ? 0.0f : l;
}

// Blocks of 64 ids, 4 lanes by id % 4, lanes summed in id order.
double BlockSum(const std::vector<double>& w, size_t block) {
  double lanes[4] = {0, 0, 0, 0};
  for (size_t t = block * 64; t < std::min(w.size(), block * 64 + 64); ++t) lanes[t % 4] += w[t];
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

double CanonicalTotal(const std::vector<double>& w) {
  double total = 0;
  for (size_t block = 0; block * 64 < w.size(); ++block) total += BlockSum(w, block);
  return total;
}

int CanonicalWalk(const std::vector<double>& w, double threshold) {
  double running = 0;
  for (size_t block = 0; block * 64 < w.size(); ++block) {
    const double after = running + BlockSum(w, block);
    if (threshold < after) {
      double cumulative = running;
      int last = -1;
      for (size_t t = block * 64; t < std::min(w.size(), block * 64 + 64); ++t) {
        if (w[t] <= 0) continue;
        cumulative += w[t];
        last = static_cast<int>(t);
        if (threshold < cumulative) return last;
      }
      return last;
    }
    running = after;
  }
  int last = -1;
  for (size_t t = 0; t < w.size(); ++t) {
    if (w[t] > 0) last = static_cast<int>(t);
  }
  return last;
}

int ReferenceDraw(const SamplingParams& p, const std::vector<float>& raw, uint64_t position) {
  std::vector<float> logits(raw.size());
  std::transform(raw.begin(), raw.end(), logits.begin(), Sanitized);
  std::vector<int> order;
  for (int i = 0; i < static_cast<int>(logits.size()); ++i) {
    if (logits[i] > -kInf) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  if (p.temperature == 0.0f || p.top_k == 1) return order[0];
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < order.size()) order.resize(p.top_k);
  const double max = logits[order[0]];
  auto weight = [&](int id) {
    return sampler_internal::DeterministicExp((static_cast<double>(logits[id]) - max) /
                                              static_cast<double>(p.temperature));
  };
  auto dense = [&](const std::vector<int>& ids) {
    std::vector<double> w(logits.size(), 0.0);
    for (int id : ids) w[id] = weight(id);
    return w;
  };
  const double total = CanonicalTotal(dense(order));
  size_t top_p_len = order.size();
  if (p.top_p < 1.0f) {
    double cumulative = 0;
    for (size_t j = 0; j < order.size(); ++j) {
      cumulative += weight(order[j]);
      if (cumulative >= static_cast<double>(p.top_p) * total) {
        top_p_len = j + 1;
        break;
      }
    }
  }
  size_t min_p_len = 0;
  while (min_p_len < order.size() && weight(order[min_p_len]) >= p.min_p) ++min_p_len;
  order.resize(std::min(top_p_len, min_p_len));
  const std::vector<double> kept = dense(order);
  return CanonicalWalk(kept, CounterUniform(p.seed, position) * CanonicalTotal(kept));
}

TEST(SamplerTest, MatchesSlowReferenceExactly) {
  int configs = 0;
  for (int vocab : {7, 301, 5000}) {
    for (float scale : {0.05f, 1.0f, 6.0f}) {
      for (float temperature : {0.3f, 1.0f, 2.5f}) {
        for (int top_k : {0, 2, 100, vocab}) {
          for (float top_p : {1.0f, 0.97f, 0.5f, 0.001f}) {
            for (float min_p : {0.0f, 0.02f, 0.6f}) {
              SamplingParams params;
              params.temperature = temperature;
              params.top_k = top_k;
              params.top_p = top_p;
              params.min_p = min_p;
              params.seed = ++configs;
              std::vector<float> logits = RandomLogits(vocab, configs, scale);
              // Exact ties and unsamplable tokens.
              for (int i = 0; i < vocab; i += 5) logits[i] = std::round(logits[i]);
              logits[vocab / 2] = -kInf;
              logits[vocab / 3 + 1] = kNaN;
              Sampler sampler = MakeSampler(params, vocab);
              for (uint64_t step = 0; step < 4; ++step) {
                const int expected = ReferenceDraw(params, logits, step);
                absl::StatusOr<int> got = sampler.Next(logits);
                ASSERT_TRUE(got.ok()) << got.status();
                ASSERT_EQ(*got, expected)
                    << "vocab " << vocab << " scale " << scale << " T " << temperature << " top_k "
                    << top_k << " top_p " << top_p << " min_p " << min_p << " step " << step;
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------

TEST(SamplerTest, GreedyIsArgmaxWithTiesToLowestId) {
  SamplingParams params;
  params.temperature = 0.0f;
  Sampler sampler = MakeSampler(params, 6);
  EXPECT_EQ(RunSteps(sampler, 3, {1.0f, 3.0f, -2.0f, 3.0f, 2.9f, 3.0f}),
            (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(sampler.state().position, 3u);
  EXPECT_EQ(RunSteps(sampler, 1, {-5.0f, -5.0f, -5.0f, -5.0f, -5.0f, -5.0f}),
            (std::vector<int>{0}));
}

TEST(SamplerTest, TopKOneIsGreedyAtAnyTemperature) {
  for (float temperature : {0.01f, 0.7f, 1.0f, 5.0f, 1000.0f}) {
    SamplingParams params;
    params.temperature = temperature;
    params.top_k = 1;
    params.seed = 17;
    Sampler sampler = MakeSampler(params, 1000);
    for (uint32_t step = 0; step < 30; ++step) {
      std::vector<float> logits = RandomLogits(1000, step, 2.0f);
      logits[999] = logits[Argmax(logits)];  // a tie: the lower id must win
      EXPECT_EQ(*sampler.Next(logits), Argmax(logits)) << "T " << temperature;
    }
  }
}

TEST(SamplerTest, TinyTopPIsGreedy) {
  SamplingParams params;
  params.temperature = 1.5f;
  params.top_p = 1e-6f;
  Sampler sampler = MakeSampler(params, 500);
  for (uint32_t step = 0; step < 30; ++step) {
    const std::vector<float> logits = RandomLogits(500, 100 + step, 0.01f);  // nearly flat
    EXPECT_EQ(*sampler.Next(logits), Argmax(logits));
  }
}

TEST(SamplerTest, FiltersThatKeepEverythingAreNoOps) {
  const std::vector<float> logits = RandomLogits(2000, 5, 1.0f);
  SamplingParams base;
  base.seed = 77;
  Sampler plain = MakeSampler(base, 2000);
  const std::vector<int> expected = RunSteps(plain, 40, logits);
  for (int top_k : {2000, 5000}) {
    SamplingParams params = base;
    params.top_k = top_k;
    Sampler sampler = MakeSampler(params, 2000);
    EXPECT_EQ(RunSteps(sampler, 40, logits), expected) << "top_k " << top_k;
  }
  SamplingParams params = base;
  params.min_p = 1e-30f;
  Sampler sampler = MakeSampler(params, 2000);
  EXPECT_EQ(RunSteps(sampler, 40, logits), expected) << "tiny min_p";
}

std::vector<double> Frequencies(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::vector<double> freq(logits.size());
  for (int i = 0; i < draws; ++i) {
    absl::StatusOr<int> token = sampler.Next(logits);
    EXPECT_TRUE(token.ok()) << token.status();
    if (token.ok()) freq[*token] += 1.0 / draws;
  }
  return freq;
}

// |observed - p| within 5 binomial standard deviations (plus a hair).
void ExpectFrequencies(const std::vector<double>& observed, const std::vector<double>& expected,
                       int draws) {
  ASSERT_EQ(observed.size(), expected.size());
  for (size_t t = 0; t < expected.size(); ++t) {
    const double sigma = std::sqrt(expected[t] * (1 - expected[t]) / draws);
    EXPECT_NEAR(observed[t], expected[t], 5 * sigma + 1e-4) << "token " << t;
  }
}

TEST(SamplerTest, FrequenciesMatchSoftmaxOverTemperature) {
  const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -3.0f, 1.5f, 0.2f};
  for (float temperature : {0.5f, 1.0f, 1.7f}) {
    SCOPED_TRACE(temperature);
    std::vector<double> p(logits.size());
    double z = 0;
    for (size_t t = 0; t < logits.size(); ++t) z += p[t] = std::exp(logits[t] / temperature);
    for (double& v : p) v /= z;
    SamplingParams params;
    params.temperature = temperature;
    params.seed = 2024;
    Sampler sampler = MakeSampler(params, logits.size());
    constexpr int kDraws = 20000;
    ExpectFrequencies(Frequencies(sampler, logits, kDraws), p, kDraws);
  }
}

TEST(SamplerTest, FrequenciesUnderTopKAndTopP) {
  // probabilities 0.4, 0.3, 0.2, 0.1 (logits are their logs, T = 1)
  const std::vector<float> logits = {std::log(0.1f), std::log(0.4f), std::log(0.2f),
                                     std::log(0.3f)};
  constexpr int kDraws = 20000;
  SamplingParams params;
  params.top_k = 2;  // keeps 0.4 and 0.3
  Sampler top_k = MakeSampler(params, 4);
  ExpectFrequencies(Frequencies(top_k, logits, kDraws), {0, 4.0 / 7, 0, 3.0 / 7}, kDraws);

  params = SamplingParams();
  params.top_p = 0.8f;  // 0.4 + 0.3 = 0.7 < 0.8, + 0.2 = 0.9: keeps three
  Sampler top_p = MakeSampler(params, 4);
  ExpectFrequencies(Frequencies(top_p, logits, kDraws), {0, 4.0 / 9, 2.0 / 9, 3.0 / 9}, kDraws);

  params.top_k = 2;  // top_p is taken after top_k: 4/7 < 0.8, both stay
  Sampler both = MakeSampler(params, 4);
  ExpectFrequencies(Frequencies(both, logits, kDraws), {0, 4.0 / 7, 0, 3.0 / 7}, kDraws);
}

TEST(SamplerTest, MinPFiltersRelativeToTheMostLikelyToken) {
  // probabilities 0.5, 0.25, 0.15, 0.1
  const std::vector<float> logits = {std::log(0.5f), std::log(0.25f), std::log(0.15f),
                                     std::log(0.1f)};
  constexpr int kDraws = 20000;
  SamplingParams params;
  params.min_p = 0.35f;  // threshold 0.175: keeps 0.5 and 0.25
  Sampler strict = MakeSampler(params, 4);
  ExpectFrequencies(Frequencies(strict, logits, kDraws), {2.0 / 3, 1.0 / 3, 0, 0}, kDraws);

  params.min_p = 0.25f;  // threshold 0.125: keeps 0.5, 0.25, 0.15
  Sampler loose = MakeSampler(params, 4);
  ExpectFrequencies(Frequencies(loose, logits, kDraws), {0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9, 0},
                    kDraws);

  // min_p applies to the tempered distribution: at T = 0.5 the weights
  // relative to the top are squared, 1 : 0.25 : 0.09 : 0.04, and 0.2 keeps two.
  params.min_p = 0.2f;
  params.temperature = 0.5f;
  Sampler tempered = MakeSampler(params, 4);
  ExpectFrequencies(Frequencies(tempered, logits, kDraws), {0.8, 0.2, 0, 0}, kDraws);
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferent) {
  const std::vector<float> logits = RandomLogits(300, 9, 0.5f);
  SamplingParams params;
  params.seed = 1;
  Sampler a = MakeSampler(params, 300);
  Sampler b = MakeSampler(params, 300);
  const std::vector<int> run_a = RunSteps(a, 100, logits);
  EXPECT_EQ(RunSteps(b, 100, logits), run_a);
  params.seed = 2;
  Sampler c = MakeSampler(params, 300);
  const std::vector<int> run_c = RunSteps(c, 100, logits);
  EXPECT_NE(run_c, run_a);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += run_a[i] == run_c[i];
  EXPECT_LT(same, 20);  // nearly flat over 300 tokens: chance agreement is rare
}

// The logits of step `step` of a pretend stream.
std::vector<float> StepLogits(int step) { return RandomLogits(1000, 5000 + step, 3.0f); }

SamplingParams EverythingOn() {
  SamplingParams params;
  params.temperature = 0.9f;
  params.top_k = 200;
  params.top_p = 0.95f;
  params.min_p = 0.01f;
  params.presence_penalty = 0.4f;
  params.frequency_penalty = 0.3f;
  params.repetition_penalty = 1.2f;
  params.penalty_decay = 0.99f;
  params.seed = 0xC0FFEE;
  return params;
}

TEST(SamplerTest, ResumeFromSerializedStateContinuesIdentically) {
  const SamplingParams params = EverythingOn();
  Sampler original = MakeSampler(params, 1000);
  std::vector<int> tokens;
  std::string checkpoint;
  for (int step = 0; step < 50; ++step) {
    if (step == 20) checkpoint = original.state().Serialize();
    tokens.push_back(*original.Next(StepLogits(step)));
  }
  absl::StatusOr<SamplerState> restored = SamplerState::Deserialize(checkpoint);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->position, 20u);
  EXPECT_FALSE(restored->counts.empty());
  Sampler resumed = MakeSampler(params, 1000, *restored);
  for (int step = 20; step < 50; ++step) {
    EXPECT_EQ(*resumed.Next(StepLogits(step)), tokens[step]) << "step " << step;
  }
  EXPECT_EQ(resumed.state(), original.state());
  EXPECT_EQ(resumed.state().Serialize(), original.state().Serialize());

  // Penalties really shaped this run: without them the tokens differ.
  SamplingParams unpenalized = params;
  unpenalized.presence_penalty = unpenalized.frequency_penalty = 0.0f;
  unpenalized.repetition_penalty = 1.0f;
  Sampler plain = MakeSampler(unpenalized, 1000);
  std::vector<int> plain_tokens;
  plain_tokens.reserve(50);
  for (int step = 0; step < 50; ++step) plain_tokens.push_back(*plain.Next(StepLogits(step)));
  EXPECT_NE(plain_tokens, tokens);
}

TEST(SamplerTest, ForksReproduce) {
  const SamplingParams params = EverythingOn();
  Sampler parent = MakeSampler(params, 1000);
  for (int step = 0; step < 20; ++step) ASSERT_TRUE(parent.Next(StepLogits(step)).ok());
  Sampler copy = parent;                                           // copy of the whole sampler
  Sampler from_state = MakeSampler(params, 1000, parent.state());  // copy of its state
  for (int step = 20; step < 50; ++step) {
    const int expected = *parent.Next(StepLogits(step));
    EXPECT_EQ(*copy.Next(StepLogits(step)), expected);
    EXPECT_EQ(*from_state.Next(StepLogits(step)), expected);
  }
}

// Pins the tokens for fixed inputs: with the same float logits and seed, the
// same tokens must come out on every platform and after every change to this
// code (resumed streams depend on it). The logits come from integer
// arithmetic, so they are the same everywhere.
TEST(SamplerTest, PinnedTokens) {
  constexpr int kVocab = 4096;
  std::vector<float> logits(kVocab);
  SamplingParams params = EverythingOn();
  params.top_k = 0;
  params.min_p = 0.0f;
  Sampler sampler = MakeSampler(params, kVocab);
  std::vector<int> tokens;
  for (int step = 0; step < 12; ++step) {
    for (int i = 0; i < kVocab; ++i) {
      const uint32_t h = (static_cast<uint32_t>(i) * 2654435761u) ^ (step * 40503u);
      logits[i] = static_cast<float>(h % 1000) / 250.0f;  // [0, 4) in steps of 1/250
    }
    tokens.push_back(*sampler.Next(logits));
  }
  EXPECT_EQ(tokens, (std::vector<int>{1980, 1856, 2441, 3753, 573, 1312, 2122, 2809, 3322, 246, 882,
                                      3734}));
}

TEST(SamplerTest, NanAndInfinityAreHandled) {
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  Sampler g = MakeSampler(greedy, 5);
  // NaN is -inf; +inf beats everything, first +inf wins.
  EXPECT_EQ(*g.Next({kNaN, 1.0f, kInf, kNaN, kInf}), 2);

  SamplingParams params;
  params.seed = 3;
  Sampler s = MakeSampler(params, 5);
  // +inf tokens share the mass; NaN and -inf tokens are never drawn.
  std::vector<double> freq = Frequencies(s, {kNaN, 1e30f, kInf, -kInf, kInf}, 4000);
  EXPECT_EQ(freq[0] + freq[1] + freq[3], 0.0);
  EXPECT_NEAR(freq[2], 0.5, 0.05);
  EXPECT_NEAR(freq[4], 0.5, 0.05);

  // Only one finite token: always drawn.
  Sampler one = MakeSampler(params, 5);
  EXPECT_EQ(RunSteps(one, 10, {kNaN, -kInf, -7.0f, kNaN, -kInf}), std::vector<int>(10, 2));
}

TEST(SamplerTest, NothingSamplableIsFailedPreconditionAndChangesNothing) {
  SamplingParams params;
  params.presence_penalty = 1.0f;
  Sampler sampler = MakeSampler(params, 3);
  ASSERT_EQ(*sampler.Next({0.0f, 5.0f, 0.0f}), 1);
  const SamplerState before = sampler.state();
  for (const std::vector<float>& bad :
       {std::vector<float>{kNaN, kNaN, kNaN}, std::vector<float>{-kInf, kNaN, -kInf}}) {
    absl::StatusOr<int> token = sampler.Next(bad);
    EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(sampler.state(), before);
  }
}

TEST(SamplerTest, WrongLogitsSizeIsInvalidArgumentAndChangesNothing) {
  Sampler sampler = MakeSampler(SamplingParams(), 4);
  for (size_t size : {0, 3, 5}) {
    std::vector<float> logits(size, 1.0f);
    absl::StatusOr<int> token = sampler.Next(logits);
    EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(token.status().message(), "vocab_size 4"));
  }
  EXPECT_EQ(sampler.state(), SamplerState());
}

TEST(SamplerTest, CreateValidatesParams) {
  SamplingParams params;
  params.top_p = 0.0f;
  absl::Status status = Sampler::Create(params, 10).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "top_p")) << status.message();
  EXPECT_EQ(Sampler::Create(SamplingParams(), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The production shape: V = 65536, everything on, a few hundred steps (also
// prints the time per step, for information only).
TEST(SamplerTest, FullVocabulary) {
  constexpr int kVocab = 65536;
  std::vector<std::vector<float>> logits;
  logits.reserve(4);
  for (int i = 0; i < 4; ++i) logits.push_back(RandomLogits(kVocab, 900 + i, 2.5f));
  struct Case {
    const char* name;
    SamplingParams params;
  };
  SamplingParams plain;
  SamplingParams nucleus;
  nucleus.top_p = 0.9f;
  SamplingParams all = EverythingOn();
  all.top_k = 0;
  for (const Case& c : {Case{"temperature only", plain}, Case{"top_p 0.9", nucleus},
                        Case{"all filters and penalties", all}}) {
    Sampler sampler = MakeSampler(c.params, kVocab);
    constexpr int kSteps = 200;
    const auto start = std::chrono::steady_clock::now();
    for (int step = 0; step < kSteps; ++step) {
      absl::StatusOr<int> token = sampler.Next(logits[step % 4]);
      ASSERT_TRUE(token.ok()) << token.status();
      ASSERT_GE(*token, 0);
      ASSERT_LT(*token, kVocab);
    }
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        kSteps;
    std::cout << c.name << ": " << us << " us per token at V = " << kVocab << "\n";
    EXPECT_EQ(sampler.state().position, static_cast<uint64_t>(kSteps));
  }
}

}  // namespace
}  // namespace gander::engine
