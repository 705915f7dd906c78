// The RWKV-7 element-wise CUDA kernels against plain CPU loops on random
// data, at 1, 3 and 130 rows (130 rows with C = 4 heads of 64 plus a
// LayerNorm width that is not a multiple of the block exercise partial
// blocks and the grid-stride loops). The argument checks run without a
// device.
#include "kernels/cuda/rwkv7_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/weights/bf16.h"
#include "gtest/gtest.h"
#include "kernels/cpu/norm.h"

namespace gander::kernels::cuda {
namespace {

constexpr int kRowCounts[] = {1, 3, 130};
constexpr float kRelTol = 1e-5f;

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

std::vector<float> Random(std::mt19937* rng, size_t n, float lo = -2.0f, float hi = 2.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(n);
  for (float& v : out) v = dist(*rng);
  return out;
}

// A device copy of a host vector, freed at scope exit.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<T>& host) : size_(host.size()) {
    ok_ = cudaMalloc(&data_, std::max<size_t>(size_, 1) * sizeof(T)) == cudaSuccess &&
          cudaMemcpy(data_, host.data(), size_ * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess;
  }
  explicit DeviceBuffer(size_t size) : DeviceBuffer(std::vector<T>(size)) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  T* get() const { return data_; }
  bool ok() const { return ok_; }
  std::vector<T> ToHost() const {
    std::vector<T> host(size_);
    if (cudaMemcpy(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost) != cudaSuccess) {
      ADD_FAILURE() << "cudaMemcpy to host failed";
    }
    return host;
  }

 private:
  T* data_ = nullptr;
  size_t size_;
  bool ok_ = false;
};

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], kRelTol * std::max(1.0f, std::fabs(want[i])))
        << what << " at " << i;
  }
}

class Rwkv7OpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
      GTEST_SKIP() << "skipped: no CUDA device (" << cudaGetErrorName(err) << ")";
    }
  }

  // Waits for the kernels and checks that they ran without error.
  static void Sync() { ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess); }

  std::mt19937 rng_{42};
};

TEST_F(Rwkv7OpsTest, EmbedAllTypes) {
  const int vocab = 50, c = 100;
  const std::vector<float> emb = Random(&rng_, vocab * c);
  std::vector<uint16_t> emb_f16(emb.size()), emb_bf16(emb.size());
  for (size_t i = 0; i < emb.size(); ++i) {
    emb_f16[i] = engine::FloatToHalf(emb[i]);
    emb_bf16[i] = engine::FloatToBf16(emb[i]);
  }
  DeviceBuffer<float> d_f32(emb);
  DeviceBuffer<uint16_t> d_f16(emb_f16), d_bf16(emb_bf16);
  ASSERT_TRUE(d_f32.ok() && d_f16.ok() && d_bf16.ok());
  for (int rows : kRowCounts) {
    std::vector<int> tokens(rows);
    std::uniform_int_distribution<int> pick(0, vocab - 1);
    for (int& t : tokens) t = pick(rng_);
    if (rows > 1) tokens[1] = vocab;  // out of range: a row of zeros
    if (rows > 2) tokens[2] = -1;
    DeviceBuffer<int> d_tokens(tokens);
    for (DataType type : {DataType::kF32, DataType::kF16, DataType::kBF16}) {
      DeviceBuffer<float> d_x(std::vector<float>(rows * c, 7.0f));
      ASSERT_TRUE(d_tokens.ok() && d_x.ok());
      const void* src = type == DataType::kF32   ? static_cast<const void*>(d_f32.get())
                        : type == DataType::kF16 ? static_cast<const void*>(d_f16.get())
                                                 : static_cast<const void*>(d_bf16.get());
      ASSERT_EQ(Embed(src, type, vocab, c, d_tokens.get(), rows, d_x.get(), nullptr), cudaSuccess);
      Sync();
      const std::vector<float> got = d_x.ToHost();
      for (int r = 0; r < rows; ++r) {
        const int t = tokens[r];
        for (int i = 0; i < c; ++i) {
          float want = 0.0f;
          if (t >= 0 && t < vocab) {
            const size_t at = static_cast<size_t>(t) * c + i;
            want = type == DataType::kF32   ? emb[at]
                   : type == DataType::kF16 ? engine::HalfToFloat(emb_f16[at])
                                            : engine::Bf16ToFloat(emb_bf16[at]);
          }
          ASSERT_EQ(got[r * c + i], want) << "rows=" << rows << " r=" << r << " i=" << i;
        }
      }
    }
  }
}

TEST_F(Rwkv7OpsTest, LayerNormMatchesCpu) {
  for (int c : {100, 768, 4096}) {
    const std::vector<float> w = Random(&rng_, c, 0.5f, 1.5f), b = Random(&rng_, c);
    DeviceBuffer<float> d_w(w), d_b(b);
    for (int rows : kRowCounts) {
      std::vector<float> x = Random(&rng_, static_cast<size_t>(rows) * c);
      for (size_t i = 0; i < x.size(); ++i) x[i] += (i / c) % 2 == 0 ? 20.0f : 0.0f;
      std::vector<float> want(x.size());
      for (int r = 0; r < rows; ++r) {
        cpu::LayerNorm(x.data() + r * c, c, w.data(), b.data(), 1e-5f, want.data() + r * c);
      }
      // Out of place, then in place.
      DeviceBuffer<float> d_x(x), d_y(x.size());
      ASSERT_TRUE(d_x.ok() && d_y.ok() && d_w.ok() && d_b.ok());
      ASSERT_EQ(
          LayerNorm(d_x.get(), nullptr, rows, c, d_w.get(), d_b.get(), 1e-5f, d_y.get(), nullptr),
          cudaSuccess);
      ASSERT_EQ(
          LayerNorm(d_x.get(), nullptr, rows, c, d_w.get(), d_b.get(), 1e-5f, d_x.get(), nullptr),
          cudaSuccess);
      Sync();
      ExpectClose(d_y.ToHost(), want, "layer norm c=" + std::to_string(c));
      ExpectClose(d_x.ToHost(), want, "in-place layer norm c=" + std::to_string(c));

      // Selected rows, in reverse order.
      DeviceBuffer<float> d_src(x);
      std::vector<int> src_rows(rows);
      for (int i = 0; i < rows; ++i) src_rows[i] = rows - 1 - i;
      DeviceBuffer<int> d_rows(src_rows);
      DeviceBuffer<float> d_sel(x.size());
      ASSERT_TRUE(d_src.ok() && d_rows.ok() && d_sel.ok());
      ASSERT_EQ(LayerNorm(d_src.get(), d_rows.get(), rows, c, d_w.get(), d_b.get(), 1e-5f,
                          d_sel.get(), nullptr),
                cudaSuccess);
      Sync();
      std::vector<float> want_sel(x.size());
      for (int i = 0; i < rows; ++i) {
        std::copy(want.begin() + src_rows[i] * c, want.begin() + (src_rows[i] + 1) * c,
                  want_sel.begin() + i * c);
      }
      ExpectClose(d_sel.ToHost(), want_sel, "selected rows c=" + std::to_string(c));
    }
  }
}

TEST_F(Rwkv7OpsTest, TokenShiftMixAndStoreShift) {
  const int c = 300, num_slots = 4;
  const int64_t slot_stride = 1000, shift_offset = 350;
  for (int rows : kRowCounts) {
    for (int count : {1, 6}) {
      const std::vector<float> xa = Random(&rng_, static_cast<size_t>(rows) * c);
      std::vector<float> slots = Random(&rng_, static_cast<size_t>(num_slots) * slot_stride);
      // Segments of at most 50 rows, each on its own slot, in reverse slot
      // order so the slot index differs from the segment index.
      std::vector<int> prev_row(rows), row_slot(rows), seg_last_row, seg_slot;
      for (int r = 0; r < rows; ++r) {
        const int seg = r / 50;
        const bool first = r % 50 == 0;
        prev_row[r] = first ? -1 : r - 1;
        row_slot[r] = num_slots - 1 - seg;
        if (r == rows - 1 || (r + 1) % 50 == 0) {
          seg_last_row.push_back(r);
          seg_slot.push_back(num_slots - 1 - seg);
        }
      }
      std::vector<std::vector<float>> mix(count);
      for (auto& m : mix) m = Random(&rng_, c, 0.0f, 1.0f);

      DeviceBuffer<float> d_xa(xa), d_slots(slots);
      DeviceBuffer<int> d_prev(prev_row), d_row_slot(row_slot), d_last(seg_last_row),
          d_seg_slot(seg_slot);
      std::vector<std::unique_ptr<DeviceBuffer<float>>> d_mix, d_out;
      MixArgs args;
      args.count = count;
      for (int m = 0; m < count; ++m) {
        d_mix.push_back(std::make_unique<DeviceBuffer<float>>(mix[m]));
        d_out.push_back(std::make_unique<DeviceBuffer<float>>(static_cast<size_t>(rows) * c));
        ASSERT_TRUE(d_mix.back()->ok() && d_out.back()->ok());
        args.mix[m] = d_mix[m]->get();
        args.out[m] = d_out[m]->get();
      }
      ASSERT_TRUE(d_xa.ok() && d_slots.ok() && d_prev.ok() && d_row_slot.ok() && d_last.ok() &&
                  d_seg_slot.ok());
      ASSERT_EQ(TokenShiftMix(d_xa.get(), d_prev.get(), d_row_slot.get(), d_slots.get(),
                              slot_stride, shift_offset, rows, c, args, nullptr),
                cudaSuccess);
      const int segments = static_cast<int>(seg_last_row.size());
      ASSERT_EQ(StoreShift(d_xa.get(), d_last.get(), d_seg_slot.get(), segments, c, d_slots.get(),
                           slot_stride, shift_offset, nullptr),
                cudaSuccess);
      Sync();

      for (int m = 0; m < count; ++m) {
        std::vector<float> want(static_cast<size_t>(rows) * c);
        for (int r = 0; r < rows; ++r) {
          const float* prev = prev_row[r] >= 0
                                  ? xa.data() + static_cast<size_t>(prev_row[r]) * c
                                  : slots.data() + row_slot[r] * slot_stride + shift_offset;
          for (int i = 0; i < c; ++i) {
            const float x = xa[r * c + i];
            const float d = prev[i] - x;
            want[r * c + i] = x + d * mix[m][i];
          }
        }
        ExpectClose(d_out[m]->ToHost(), want, "mix " + std::to_string(m));
      }
      std::vector<float> want_slots = slots;
      for (int s = 0; s < segments; ++s) {
        std::copy(xa.begin() + seg_last_row[s] * c, xa.begin() + (seg_last_row[s] + 1) * c,
                  want_slots.begin() + seg_slot[s] * slot_stride + shift_offset);
      }
      EXPECT_EQ(d_slots.ToHost(), want_slots) << "rows=" << rows;
    }
  }
}

TEST_F(Rwkv7OpsTest, ActivateMatchesCpu) {
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{130}, int64_t{1} << 20}) {
    const std::vector<float> x = Random(&rng_, n, -6.0f, 6.0f);
    for (Activation act : {Activation::kTanh, Activation::kSigmoid, Activation::kSquaredRelu}) {
      DeviceBuffer<float> d_x(x);
      ASSERT_TRUE(d_x.ok());
      ASSERT_EQ(Activate(act, d_x.get(), n, nullptr), cudaSuccess);
      Sync();
      std::vector<float> want(n);
      for (int64_t i = 0; i < n; ++i) {
        const float h = std::max(x[i], 0.0f);
        want[i] = act == Activation::kTanh      ? std::tanh(x[i])
                  : act == Activation::kSigmoid ? Sigmoid(x[i])
                                                : h * h;
      }
      ExpectClose(d_x.ToHost(), want, "activation " + std::to_string(static_cast<int>(act)));
    }
  }
}

TEST_F(Rwkv7OpsTest, TimeMixPrepMatchesEngineLoop) {
  constexpr float kDecayScale = 0.6065306597126334f;
  for (int heads : {4, 20}) {  // 20 heads: warps loop over more heads than they have
    const int n = 64, C = heads * n;
    const std::vector<float> w0 = Random(&rng_, C), a0 = Random(&rng_, C),
                             k_k = Random(&rng_, C, 0.0f, 1.0f), k_a = Random(&rng_, C, 0.0f, 1.0f),
                             v0 = Random(&rng_, C);
    DeviceBuffer<float> d_w0(w0), d_a0(a0), d_k_k(k_k), d_k_a(k_a), d_v0(v0);
    for (int rows : kRowCounts) {
      for (bool first_layer : {true, false}) {
        const size_t total = static_cast<size_t>(rows) * C;
        std::vector<float> w = Random(&rng_, total), a = Random(&rng_, total),
                           k = Random(&rng_, total), v = Random(&rng_, total),
                           v_first = Random(&rng_, total), vr = Random(&rng_, total);
        if (rows > 1) std::fill(k.begin() + C, k.begin() + C + n, 0.0f);  // a zero head of kk
        DeviceBuffer<float> d_w(w), d_a(a), d_k(k), d_kk(total), d_v(v), d_vf(v_first), d_vr(vr);
        ASSERT_TRUE(d_w.ok() && d_a.ok() && d_k.ok() && d_kk.ok() && d_v.ok() && d_vf.ok() &&
                    d_vr.ok() && d_w0.ok() && d_a0.ok() && d_k_k.ok() && d_k_a.ok() && d_v0.ok());
        TimeMixPrepArgs args;
        args.rows = rows;
        args.heads = heads;
        args.n = n;
        args.first_layer = first_layer;
        args.w = d_w.get();
        args.a = d_a.get();
        args.k = d_k.get();
        args.kk = d_kk.get();
        args.v = d_v.get();
        args.v_first = d_vf.get();
        args.v_residual = first_layer ? nullptr : d_vr.get();
        args.w0 = d_w0.get();
        args.a0 = d_a0.get();
        args.k_k = d_k_k.get();
        args.k_a = d_k_a.get();
        args.v0 = first_layer ? nullptr : d_v0.get();
        ASSERT_EQ(TimeMixPrep(args, nullptr), cudaSuccess);
        Sync();

        // engine/model.cc's loop.
        std::vector<float> kk(total);
        for (int r = 0; r < rows; ++r) {
          float *wr = &w[r * C], *ar = &a[r * C], *kr = &k[r * C], *kkr = &kk[r * C];
          float *vrow = &v[r * C], *vf = &v_first[r * C];
          for (int i = 0; i < C; ++i) {
            wr[i] = std::exp(-kDecayScale * Sigmoid(w0[i] + wr[i]));
            ar[i] = Sigmoid(a0[i] + ar[i]);
            kkr[i] = kr[i] * k_k[i];
          }
          for (int h = 0; h < heads; ++h) {
            float sq = 0;
            for (int j = 0; j < n; ++j) sq += kkr[h * n + j] * kkr[h * n + j];
            const float inv = 1.0f / std::max(std::sqrt(sq), 1e-12f);
            for (int j = 0; j < n; ++j) kkr[h * n + j] *= inv;
          }
          for (int i = 0; i < C; ++i) kr[i] = kr[i] * (1.0f + (ar[i] - 1.0f) * k_a[i]);
          if (first_layer) {
            std::copy(vrow, vrow + C, vf);
          } else {
            for (int i = 0; i < C; ++i) {
              vrow[i] = vrow[i] + (vf[i] - vrow[i]) * Sigmoid(v0[i] + vr[r * C + i]);
            }
          }
        }
        const std::string what = "heads=" + std::to_string(heads) +
                                 " rows=" + std::to_string(rows) +
                                 (first_layer ? " first " : " later ");
        ExpectClose(d_w.ToHost(), w, what + "w");
        ExpectClose(d_a.ToHost(), a, what + "a");
        ExpectClose(d_k.ToHost(), k, what + "k");
        ExpectClose(d_kk.ToHost(), kk, what + "kk");
        ExpectClose(d_v.ToHost(), v, what + "v");
        ExpectClose(d_vf.ToHost(), v_first, what + "v_first");
      }
    }
  }
}

TEST_F(Rwkv7OpsTest, GroupNormBonusGateMatchesEngineLoop) {
  constexpr float kEps = 64e-5f;
  for (int heads : {4, 20}) {
    const int n = 64, C = heads * n;
    const std::vector<float> r_k = Random(&rng_, C), lw = Random(&rng_, C, 0.5f, 1.5f),
                             lb = Random(&rng_, C);
    DeviceBuffer<float> d_rk(r_k), d_lw(lw), d_lb(lb);
    for (int rows : kRowCounts) {
      const size_t total = static_cast<size_t>(rows) * C;
      std::vector<float> y = Random(&rng_, total), r = Random(&rng_, total),
                         k = Random(&rng_, total), v = Random(&rng_, total),
                         g = Random(&rng_, total);
      DeviceBuffer<float> d_y(y), d_r(r), d_k(k), d_v(v), d_g(g);
      ASSERT_TRUE(d_y.ok() && d_r.ok() && d_k.ok() && d_v.ok() && d_g.ok() && d_rk.ok() &&
                  d_lw.ok() && d_lb.ok());
      ASSERT_EQ(
          GroupNormBonusGate(d_y.get(), d_r.get(), d_k.get(), d_v.get(), d_g.get(), d_rk.get(),
                             d_lw.get(), d_lb.get(), kEps, rows, heads, n, nullptr),
          cudaSuccess);
      Sync();
      for (int row = 0; row < rows; ++row) {
        float* yr = &y[row * C];
        cpu::GroupNorm(yr, heads, n, lw.data(), lb.data(), kEps, yr);
        for (int h = 0; h < heads; ++h) {
          float bonus = 0;
          for (int j = 0; j < n; ++j) {
            const size_t at = static_cast<size_t>(row) * C + h * n + j;
            bonus += r[at] * k[at] * r_k[h * n + j];
          }
          for (int i = 0; i < n; ++i) yr[h * n + i] += bonus * v[row * C + h * n + i];
        }
        for (int i = 0; i < C; ++i) yr[i] *= g[row * C + i];
      }
      ExpectClose(d_y.ToHost(), y,
                  "heads=" + std::to_string(heads) + " rows=" + std::to_string(rows));
    }
  }
}

TEST_F(Rwkv7OpsTest, ConvertFloatsMatchesCpu) {
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{130}, int64_t{1} << 20}) {
    std::vector<float> x = Random(&rng_, n, -70000.0f, 70000.0f);
    // Small magnitudes (subnormal halves) and special values too.
    for (int64_t i = 0; i < n; i += 3) x[i] *= 1e-9f;
    if (n > 4) {
      x[1] = std::nanf("");
      x[2] = -INFINITY;
      x[4] = 65520.0f;
    }
    DeviceBuffer<float> d_x(x);
    for (DataType type : {DataType::kF16, DataType::kBF16}) {
      DeviceBuffer<uint16_t> d_y(static_cast<size_t>(n));
      ASSERT_TRUE(d_x.ok() && d_y.ok());
      ASSERT_EQ(ConvertFloats(d_x.get(), type, d_y.get(), n, nullptr), cudaSuccess);
      Sync();
      const std::vector<uint16_t> got = d_y.ToHost();
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t want =
            type == DataType::kF16 ? engine::FloatToHalf(x[i]) : engine::FloatToBf16(x[i]);
        ASSERT_EQ(got[i], want) << "n=" << n << " i=" << i << " x=" << x[i];
      }
    }
  }
}

// Argument checks happen before any launch, so they need no device.
TEST(Rwkv7OpsArgs, RejectsBadArgumentsWithoutLaunching) {
  float f = 0;
  float* p = &f;  // never dereferenced: every call below fails its checks
  int i = 0;
  uint16_t h = 0;
  // Negative sizes.
  EXPECT_EQ(Embed(p, DataType::kF32, 10, -1, &i, 1, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(Embed(p, DataType::kF32, 10, 4, &i, -1, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(Embed(p, DataType::kF32, -1, 4, &i, 1, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(LayerNorm(p, nullptr, -1, 4, p, p, 1e-5f, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(LayerNorm(p, nullptr, 1, -4, p, p, 1e-5f, p, nullptr), cudaErrorInvalidValue);
  MixArgs mix;
  mix.count = 1;
  mix.mix[0] = p;
  mix.out[0] = p;
  EXPECT_EQ(TokenShiftMix(p, &i, &i, p, 10, 0, -1, 4, mix, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(TokenShiftMix(p, &i, &i, p, -10, 0, 1, 4, mix, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(TokenShiftMix(p, &i, &i, p, 10, -1, 1, 4, mix, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(StoreShift(p, &i, &i, -1, 4, p, 10, 0, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(StoreShift(p, &i, &i, 1, 4, p, -10, 0, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(Activate(Activation::kTanh, p, -1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(ConvertFloats(p, DataType::kF16, &h, -1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(GroupNormBonusGate(p, p, p, p, p, p, p, p, 1e-5f, 1, -1, 64, nullptr),
            cudaErrorInvalidValue);
  TimeMixPrepArgs prep;
  prep.rows = 1;
  prep.heads = 1;
  prep.n = -64;
  EXPECT_EQ(TimeMixPrep(prep, nullptr), cudaErrorInvalidValue);

  // Unknown enum values and unsupported types or counts.
  EXPECT_EQ(Embed(p, static_cast<DataType>(7), 10, 4, &i, 1, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(Activate(static_cast<Activation>(9), p, 1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(ConvertFloats(p, DataType::kF32, &h, 1, nullptr), cudaErrorInvalidValue);
  mix.count = 0;
  EXPECT_EQ(TokenShiftMix(p, &i, &i, p, 10, 0, 1, 4, mix, nullptr), cudaErrorInvalidValue);
  mix.count = 7;
  EXPECT_EQ(TokenShiftMix(p, &i, &i, p, 10, 0, 1, 4, mix, nullptr), cudaErrorInvalidValue);
  mix.count = 2;  // mix[1] and out[1] are null
  EXPECT_EQ(TokenShiftMix(p, &i, &i, p, 10, 0, 1, 4, mix, nullptr), cudaErrorInvalidValue);

  // Null pointers where data is needed.
  EXPECT_EQ(Embed(nullptr, DataType::kF32, 10, 4, &i, 1, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(Embed(p, DataType::kF32, 10, 4, nullptr, 1, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(Embed(p, DataType::kF32, 0, 4, &i, 1, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(LayerNorm(p, nullptr, 1, 4, nullptr, p, 1e-5f, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(LayerNorm(p, nullptr, 1, 4, p, p, 1e-5f, nullptr, nullptr), cudaErrorInvalidValue);
  // In place with selected rows would race.
  EXPECT_EQ(LayerNorm(p, &i, 1, 4, p, p, 1e-5f, p, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(StoreShift(p, &i, &i, 1, 4, nullptr, 10, 0, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(Activate(Activation::kSigmoid, nullptr, 1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(ConvertFloats(p, DataType::kBF16, nullptr, 1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(GroupNormBonusGate(p, p, nullptr, p, p, p, p, p, 1e-5f, 1, 1, 64, nullptr),
            cudaErrorInvalidValue);
  prep.n = 64;
  EXPECT_EQ(TimeMixPrep(prep, nullptr), cudaErrorInvalidValue);  // all buffers null
  prep.w = prep.a = prep.k = prep.kk = prep.v = prep.v_first = p;
  prep.w0 = prep.a0 = prep.k_k = prep.k_a = p;
  prep.first_layer = false;  // later layers need v_residual and v0
  EXPECT_EQ(TimeMixPrep(prep, nullptr), cudaErrorInvalidValue);
}

TEST(Rwkv7OpsArgs, EmptyWorkSucceedsWithoutLaunching) {
  MixArgs mix;
  mix.count = 1;
  EXPECT_EQ(Embed(nullptr, DataType::kBF16, 10, 4, nullptr, 0, nullptr, nullptr), cudaSuccess);
  EXPECT_EQ(LayerNorm(nullptr, nullptr, 0, 4, nullptr, nullptr, 1e-5f, nullptr, nullptr),
            cudaSuccess);
  EXPECT_EQ(TokenShiftMix(nullptr, nullptr, nullptr, nullptr, 10, 0, 0, 4, mix, nullptr),
            cudaSuccess);
  EXPECT_EQ(StoreShift(nullptr, nullptr, nullptr, 0, 4, nullptr, 10, 0, nullptr), cudaSuccess);
  EXPECT_EQ(Activate(Activation::kSquaredRelu, nullptr, 0, nullptr), cudaSuccess);
  EXPECT_EQ(ConvertFloats(nullptr, DataType::kF16, nullptr, 0, nullptr), cudaSuccess);
  EXPECT_EQ(GroupNormBonusGate(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                               nullptr, 1e-5f, 0, 4, 64, nullptr),
            cudaSuccess);
  TimeMixPrepArgs prep;  // rows = 0
  EXPECT_EQ(TimeMixPrep(prep, nullptr), cudaSuccess);
}

}  // namespace
}  // namespace gander::kernels::cuda
