#include <cstdint>

#include "kernels/cuda/wkv7.h"
#include "kernels/cuda/wkv7_math.h"

namespace gander::kernels::cuda {
namespace {

constexpr int kHeadSize = 64;
constexpr int kMaxGridY = 65535;

// One block per (segment, head), one thread per state row i. Thread i keeps
// S[i][.] in registers for the whole segment: the state is read once and
// written once, however many tokens the segment has.
//
// Per token, thread i stages element i of the head's r, w, k, kk and kk*a in
// shared memory, and every thread then reads the whole vectors from there
// (broadcast reads). The staging area is double-buffered, so one barrier per
// token suffices: buffer t & 1 is rewritten only at token t + 2, and every
// thread has passed token t + 1's barrier (so finished reading token t) before
// any thread gets there. The next token's inputs are loaded into registers
// before the current token's arithmetic, which hides their global-memory
// latency behind it.
template <int N>
__global__ void __launch_bounds__(N)
    Wkv7Kernel(const int* __restrict__ seg_start, const int* __restrict__ seg_len,
               const int* __restrict__ seg_slot, float* __restrict__ slots, int64_t slot_stride,
               int64_t wkv_offset, int heads, const float* __restrict__ r,
               const float* __restrict__ w, const float* __restrict__ k,
               const float* __restrict__ v, const float* __restrict__ kk,
               const float* __restrict__ a, float* __restrict__ y) {
  const int s = blockIdx.x;
  const int h = blockIdx.y;
  const int i = threadIdx.x;
  const int len = seg_len[s];
  if (len <= 0) return;  // uniform over the block: no barrier is skipped by part of it

  float* state_row = slots + static_cast<int64_t>(seg_slot[s]) * slot_stride + wkv_offset +
                     (static_cast<int64_t>(h) * N + i) * N;
  float row[N];
  // Rows are N floats apart, so a 16-byte aligned state keeps every row
  // aligned; the branch is uniform over the block.
  const bool vec4 = (reinterpret_cast<uintptr_t>(state_row) & 15) == 0;
  if (vec4) {
#pragma unroll
    for (int j = 0; j < N; j += 4) {
      const float4 q = reinterpret_cast<const float4*>(state_row)[j / 4];
      row[j] = q.x, row[j + 1] = q.y, row[j + 2] = q.z, row[j + 3] = q.w;
    }
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j) row[j] = state_row[j];
  }

  __shared__ float stage[2][5][N];  // [buffer][r, w, k, kk, kk*a][j]
  const int64_t width = static_cast<int64_t>(heads) * N;
  int64_t o = static_cast<int64_t>(seg_start[s]) * width + static_cast<int64_t>(h) * N + i;
  float nr = r[o], nw = w[o], nk = k[o], nkk = kk[o], na = a[o], nv = v[o];
  for (int t = 0; t < len; ++t) {
    float(&buf)[5][N] = stage[t & 1];
    buf[0][i] = nr;
    buf[1][i] = nw;
    buf[2][i] = nk;
    buf[3][i] = nkk;
    buf[4][i] = Wkv7Kka(nkk, na);
    const float v_i = nv;
    const int64_t out = o;
    if (t + 1 < len) {
      o += width;
      nr = r[o], nw = w[o], nk = k[o], nkk = kk[o], na = a[o], nv = v[o];
    }
    __syncthreads();
    y[out] = Wkv7UpdateRow<N>(row, v_i, buf[0], buf[1], buf[2], buf[3], buf[4]);
  }

  if (vec4) {
#pragma unroll
    for (int j = 0; j < N; j += 4) {
      reinterpret_cast<float4*>(state_row)[j / 4] =
          make_float4(row[j], row[j + 1], row[j + 2], row[j + 3]);
    }
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j) state_row[j] = row[j];
  }
}

}  // namespace

cudaError_t Wkv7(int segments, const int* seg_start, const int* seg_len, const int* seg_slot,
                 float* slots, int64_t slot_stride, int64_t wkv_offset, int heads, int n,
                 const float* r, const float* w, const float* k, const float* v, const float* kk,
                 const float* a, float* y, cudaStream_t stream) {
  if (n != kHeadSize) return cudaErrorInvalidValue;
  if (segments < 0 || heads <= 0 || heads > kMaxGridY) return cudaErrorInvalidValue;
  if (slot_stride < 0 || wkv_offset < 0) return cudaErrorInvalidValue;
  if (segments == 0) return cudaSuccess;
  if (seg_start == nullptr || seg_len == nullptr || seg_slot == nullptr || slots == nullptr ||
      r == nullptr || w == nullptr || k == nullptr || v == nullptr || kk == nullptr ||
      a == nullptr || y == nullptr) {
    return cudaErrorInvalidValue;
  }
  const dim3 grid(static_cast<unsigned>(segments), static_cast<unsigned>(heads));
  Wkv7Kernel<kHeadSize><<<grid, kHeadSize, 0, stream>>>(
      seg_start, seg_len, seg_slot, slots, slot_stride, wkv_offset, heads, r, w, k, v, kk, a, y);
  return cudaGetLastError();
}

}  // namespace gander::kernels::cuda
