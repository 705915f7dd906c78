// Wkv7 on the GPU against the CPU engine's Wkv7Step run token by token:
// mixed decode and prefill segments in scattered slots (aligned and unaligned
// state), checking y, the updated states, and that nothing else is written.
// The argument tests need no device.
#include "kernels/cuda/wkv7.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/wkv7.h"

namespace gander::kernels::cuda {
namespace {

constexpr int kN = 64;
constexpr float kSentinel = 1234.5f;

// |got - want| <= rel * max(|want|, 1).
bool Near(float got, float want, float rel) {
  return std::abs(got - want) <= rel * std::max(std::abs(want), 1.0f);
}

// Owns one device buffer; frees it on scope exit.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<T>& host) : size_(host.size()) {
    ok_ = cudaMalloc(&ptr_, std::max<size_t>(size_, 1) * sizeof(T)) == cudaSuccess &&
          cudaMemcpy(ptr_, host.data(), size_ * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess;
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  bool ok() const { return ok_; }
  T* get() const { return ptr_; }
  bool CopyTo(std::vector<T>* host) const {
    host->resize(size_);
    return cudaMemcpy(host->data(), ptr_, size_ * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess;
  }

 private:
  T* ptr_ = nullptr;
  size_t size_;
  bool ok_ = false;
};

struct Case {
  int heads;
  std::vector<int> lens;   // per segment; 0 = a segment with no tokens
  std::vector<int> slots;  // per segment, distinct
  int num_slots;
  int64_t slot_stride;  // floats
  int64_t wkv_offset;   // floats
  unsigned seed;
};

void RunCase(const Case& c) {
  const int segments = static_cast<int>(c.lens.size());
  const int width = c.heads * kN;
  const int64_t wkv_floats = static_cast<int64_t>(c.heads) * kN * kN;

  // One unowned row before every segment: y there must stay untouched.
  std::vector<int> starts(segments);
  int rows = 0;
  for (int s = 0; s < segments; ++s) {
    rows += 1;
    starts[s] = rows;
    rows += c.lens[s];
  }

  std::mt19937 rng(c.seed);
  std::uniform_real_distribution<float> u(-1, 1), decay(0.5f, 0.999f), unit(0, 1);
  const size_t act = static_cast<size_t>(rows) * width;
  std::vector<float> r(act), w(act), k(act), v(act), kk(act), a(act);
  for (size_t i = 0; i < act; ++i) {
    r[i] = u(rng), w[i] = decay(rng), k[i] = u(rng), v[i] = u(rng), kk[i] = u(rng);
    a[i] = unit(rng);
  }
  for (size_t o = 0; o < act; o += kN) {  // kk L2-normalised per head
    float sq = 0;
    for (int j = 0; j < kN; ++j) sq += kk[o + j] * kk[o + j];
    for (int j = 0; j < kN; ++j) kk[o + j] /= std::sqrt(sq);
  }

  const size_t total = static_cast<size_t>(c.num_slots * c.slot_stride + c.wkv_offset + wkv_floats);
  std::vector<float> slots(total);
  for (float& x : slots) x = u(rng);
  std::vector<float> y(act, kSentinel);

  // Expected: the CPU engine, token by token, on a copy of the slots.
  std::vector<float> want_slots = slots;
  std::vector<float> want_y = y;
  std::vector<bool> state_written(total, false), row_owned(rows, false);
  for (int s = 0; s < segments; ++s) {
    std::fill_n(row_owned.begin() + starts[s], c.lens[s], true);
    const int64_t base = c.slots[s] * c.slot_stride + c.wkv_offset;
    if (c.lens[s] > 0) std::fill_n(state_written.begin() + base, wkv_floats, true);
    for (int t = 0; t < c.lens[s]; ++t) {
      const size_t o = static_cast<size_t>(starts[s] + t) * width;
      cpu::Wkv7Step(c.heads, kN, &want_slots[base], &r[o], &w[o], &k[o], &v[o], &kk[o], &a[o],
                    &want_y[o]);
    }
  }

  DeviceBuffer<int> d_start(starts), d_len(c.lens), d_slot(c.slots);
  DeviceBuffer<float> d_slots(slots), d_r(r), d_w(w), d_k(k), d_v(v), d_kk(kk), d_a(a), d_y(y);
  for (bool ok : {d_start.ok(), d_len.ok(), d_slot.ok(), d_slots.ok(), d_r.ok(), d_w.ok(), d_k.ok(),
                  d_v.ok(), d_kk.ok(), d_a.ok(), d_y.ok()}) {
    ASSERT_TRUE(ok) << "device allocation or copy failed";
  }
  ASSERT_EQ(Wkv7(segments, d_start.get(), d_len.get(), d_slot.get(), d_slots.get(), c.slot_stride,
                 c.wkv_offset, c.heads, kN, d_r.get(), d_w.get(), d_k.get(), d_v.get(), d_kk.get(),
                 d_a.get(), d_y.get(), nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_TRUE(d_slots.CopyTo(&slots));
  ASSERT_TRUE(d_y.CopyTo(&y));

  for (size_t i = 0; i < act; ++i) {
    if (!row_owned[i / width]) {
      ASSERT_EQ(y[i], kSentinel) << "row " << i / width << " belongs to no segment";
    } else {
      ASSERT_TRUE(Near(y[i], want_y[i], 1e-4f))
          << "y row " << i / width << " col " << i % width << ": " << y[i] << " vs " << want_y[i];
    }
  }
  for (size_t i = 0; i < total; ++i) {
    if (state_written[i]) {
      ASSERT_TRUE(Near(slots[i], want_slots[i], 1e-4f))
          << "state float " << i << ": " << slots[i] << " vs " << want_slots[i];
    } else {
      ASSERT_EQ(slots[i], want_slots[i]) << "float " << i << " of no segment's state was written";
    }
  }
}

class Wkv7GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
      GTEST_SKIP() << "skipped: no CUDA device (" << cudaGetErrorName(err) << ")";
    }
  }
};

// Decode and prefill segments together; slot 4 is named by an empty segment
// and slots 1 and 6 by none, so all three must stay as they were. The state
// is 16-byte aligned (vector loads).
TEST_F(Wkv7GpuTest, MixedSegmentsAlignedState) {
  const int64_t wkv = 3 * kN * kN;
  RunCase({3, {1, 1, 0, 37, 300}, {3, 0, 4, 5, 2}, 7, wkv + 40, 128, 1});
}

// The same with a state that is not 16-byte aligned (scalar loads).
TEST_F(Wkv7GpuTest, MixedSegmentsUnalignedState) {
  const int64_t wkv = 3 * kN * kN;
  RunCase({3, {1, 1, 0, 37, 300}, {3, 0, 4, 5, 2}, 7, wkv + 37, 5, 2});
}

// A decode batch at the 0.1B shape: 40 streams, one token each, slots in
// reverse order, the state of layer 1 (offset 2C + wkv + C).
TEST_F(Wkv7GpuTest, DecodeBatch) {
  const int heads = 12, c = heads * kN;
  const int64_t wkv = static_cast<int64_t>(heads) * kN * kN;
  Case test{heads, std::vector<int>(40, 1), {}, 41, 2 * (2 * c + wkv), 2 * c + wkv + c, 3};
  for (int s = 0; s < 40; ++s) test.slots.push_back(40 - s);
  RunCase(test);
}

// Argument checks happen before any launch, so they need no device. The
// pointers are host memory that must never be dereferenced.
TEST(Wkv7Args, RejectsBadArguments) {
  std::vector<int> idx(4, 0);
  std::vector<float> buf(16, 0.0f);
  const int* i = idx.data();
  float* f = buf.data();
  auto call = [&](int segments, int heads, int n, int64_t stride, int64_t offset, const float* r) {
    return Wkv7(segments, i, i, i, f, stride, offset, heads, n, r, f, f, f, f, f, f, nullptr);
  };
  EXPECT_EQ(call(1, 12, 32, 1 << 20, 0, f), cudaErrorInvalidValue);  // n != 64
  EXPECT_EQ(call(1, 12, 128, 1 << 20, 0, f), cudaErrorInvalidValue);
  EXPECT_EQ(call(-1, 12, 64, 1 << 20, 0, f), cudaErrorInvalidValue);
  EXPECT_EQ(call(1, 0, 64, 1 << 20, 0, f), cudaErrorInvalidValue);
  EXPECT_EQ(call(1, -3, 64, 1 << 20, 0, f), cudaErrorInvalidValue);
  EXPECT_EQ(call(1, 12, 64, -1, 0, f), cudaErrorInvalidValue);
  EXPECT_EQ(call(1, 12, 64, 1 << 20, -1, f), cudaErrorInvalidValue);
  EXPECT_EQ(call(1, 12, 64, 1 << 20, 0, nullptr), cudaErrorInvalidValue);  // null r
  EXPECT_EQ(Wkv7(1, nullptr, i, i, f, 1 << 20, 0, 12, 64, f, f, f, f, f, f, f, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(Wkv7(1, i, i, i, f, 1 << 20, 0, 12, 64, f, f, f, f, f, f, nullptr, nullptr),
            cudaErrorInvalidValue);                        // null y
  EXPECT_EQ(call(0, 12, 64, 1 << 20, 0, f), cudaSuccess);  // nothing to do
  EXPECT_EQ(Wkv7(0, nullptr, nullptr, nullptr, nullptr, 0, 0, 12, 64, nullptr, nullptr, nullptr,
                 nullptr, nullptr, nullptr, nullptr, nullptr),
            cudaSuccess);
}

}  // namespace
}  // namespace gander::kernels::cuda
