#include "kernels/cuda/rwkv7_ops.h"
#include "kernels/cuda/rwkv7_ops_math.h"

namespace gander::kernels::cuda {
namespace {

namespace m = ::gander::kernels::cuda::rwkv7_math;

constexpr int kThreads = 256;      // element-wise kernels
constexpr int kMaxBlocks = 65535;  // grid-stride loops cover the rest
constexpr int kMaxHeadWarps = 16;  // per-row kernels: at most 512 threads
constexpr unsigned kFullMask = 0xffffffffu;

int GridFor(int64_t n) {
  const int64_t wanted = (n + kThreads - 1) / kThreads;
  return static_cast<int>(wanted < kMaxBlocks ? wanted : kMaxBlocks);
}

// Threads of a LayerNorm block: about four values per thread, whole warps,
// between one warp and 512 threads.
int LayerNormThreads(int c) {
  int threads = ((c + 3) / 4 + 31) / 32 * 32;
  if (threads < 32) threads = 32;
  if (threads > 512) threads = 512;
  return threads;
}

template <typename T>
__device__ __forceinline__ T WarpSum(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    value += __shfl_xor_sync(kFullMask, value, offset);
  }
  return value;
}

// Sum over the block (blockDim.x a multiple of 32); every thread gets the
// total. `scratch` holds 32 values; the leading barrier lets one scratch
// serve consecutive calls.
template <typename T>
__device__ T BlockSum(T value, T* scratch) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  value = WarpSum(value);
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  T total = lane < warps ? scratch[lane] : T(0);
  return WarpSum(total);
}

__global__ void EmbedKernel(const void* emb, DataType type, int vocab, int c, const int* tokens,
                            int64_t total, float* x) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const int64_t r = idx / c;
    const int64_t i = idx - r * c;
    const int token = tokens[r];
    float value = 0.0f;
    if (token >= 0 && token < vocab) {
      const int64_t at = static_cast<int64_t>(token) * c + i;
      switch (type) {
        case DataType::kF32:
          value = static_cast<const float*>(emb)[at];
          break;
        case DataType::kF16:
          value = m::HalfBitsToFloat(static_cast<const uint16_t*>(emb)[at]);
          break;
        case DataType::kBF16:
          value = m::Bf16BitsToFloat(static_cast<const uint16_t*>(emb)[at]);
          break;
      }
    }
    x[idx] = value;
  }
}

// One block per output row; x and y may be the same buffer (each element is
// read and written by one thread only).
__global__ void LayerNormKernel(const float* x, const int* src_rows, int c, const float* weight,
                                const float* bias, float eps, float* y) {
  __shared__ double scratch[32];
  const int row = blockIdx.x;
  const int src = src_rows != nullptr ? src_rows[row] : row;
  const float* xr = x + static_cast<int64_t>(src) * c;
  float* yr = y + static_cast<int64_t>(row) * c;
  double sum = 0;
  for (int i = threadIdx.x; i < c; i += blockDim.x) sum += xr[i];
  const double mean = m::RowMean(BlockSum(sum, scratch), c);
  double sq = 0;
  for (int i = threadIdx.x; i < c; i += blockDim.x) sq += m::CenteredSquare(xr[i], mean);
  const float inv = m::InvStd(BlockSum(sq, scratch), c, eps);
  const float mean_f = static_cast<float>(mean);
  for (int i = threadIdx.x; i < c; i += blockDim.x) {
    yr[i] = m::NormValue(xr[i], mean_f, inv, weight[i], bias[i]);
  }
}

__global__ void TokenShiftMixKernel(const float* __restrict__ xa, const int* prev_row,
                                    const int* row_slot, const float* slots, int64_t slot_stride,
                                    int64_t shift_offset, int c, int64_t total, MixArgs mixes) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const int64_t r = idx / c;
    const int64_t i = idx - r * c;
    const int p = prev_row[r];
    const float prev = p >= 0 ? xa[static_cast<int64_t>(p) * c + i]
                              : slots[row_slot[r] * slot_stride + shift_offset + i];
    const float x = xa[idx];
    // Unrolled with constant indices so the pointer arrays stay in the
    // parameter space instead of a local copy.
#pragma unroll
    for (int k = 0; k < 6; ++k) {
      if (k < mixes.count) mixes.out[k][idx] = m::ShiftMix(x, prev, mixes.mix[k][i]);
    }
  }
}

__global__ void StoreShiftKernel(const float* xa, const int* seg_last_row, const int* seg_slot,
                                 int c, int64_t total, float* slots, int64_t slot_stride,
                                 int64_t shift_offset) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const int64_t s = idx / c;
    const int64_t i = idx - s * c;
    slots[seg_slot[s] * slot_stride + shift_offset + i] =
        xa[static_cast<int64_t>(seg_last_row[s]) * c + i];
  }
}

__global__ void ActivateKernel(Activation act, float* x, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const float v = x[i];
    switch (act) {
      case Activation::kTanh:
        x[i] = m::Tanh(v);
        break;
      case Activation::kSigmoid:
        x[i] = m::Sigmoid(v);
        break;
      case Activation::kSquaredRelu:
        x[i] = m::SquaredRelu(v);
        break;
    }
  }
}

// One block per row, one warp per head (warps loop over the heads), each
// lane a strided subset of the head's n values. Every element is read and
// written by the same thread, so the only communication is the warp sum of
// kk's squares.
__global__ void TimeMixPrepKernel(TimeMixPrepArgs p) {
  const int64_t width = static_cast<int64_t>(p.heads) * p.n;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * width;
  const int lane = threadIdx.x & 31;
  const int warps = blockDim.x >> 5;
  for (int h = threadIdx.x >> 5; h < p.heads; h += warps) {
    const int64_t head = static_cast<int64_t>(h) * p.n;
    float sq = 0.0f;
    for (int j = lane; j < p.n; j += 32) {
      const int64_t c = head + j;
      const int64_t idx = base + c;
      const float k = p.k[idx];
      const float a = m::Sigmoid(p.a0[c] + p.a[idx]);
      p.w[idx] = m::Decay(p.w0[c] + p.w[idx]);
      p.a[idx] = a;
      const float kk = k * p.k_k[c];
      p.kk[idx] = kk;
      sq += kk * kk;
      p.k[idx] = m::KeyAdjust(k, a, p.k_a[c]);
      const float v = p.v[idx];
      if (p.first_layer) {
        p.v_first[idx] = v;
      } else {
        p.v[idx] = m::ValueResidual(v, p.v_first[idx], p.v0[c] + p.v_residual[idx]);
      }
    }
    const float inv = m::L2InverseNorm(WarpSum(sq));
    for (int j = lane; j < p.n; j += 32) p.kk[base + head + j] *= inv;
  }
}

// One block per row, one warp per head, as TimeMixPrepKernel.
__global__ void GroupNormBonusGateKernel(float* y, const float* __restrict__ r,
                                         const float* __restrict__ k, const float* __restrict__ v,
                                         const float* __restrict__ g, const float* __restrict__ r_k,
                                         const float* __restrict__ ln_weight,
                                         const float* __restrict__ ln_bias, float eps, int heads,
                                         int n) {
  const int64_t width = static_cast<int64_t>(heads) * n;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * width;
  const int lane = threadIdx.x & 31;
  const int warps = blockDim.x >> 5;
  for (int h = threadIdx.x >> 5; h < heads; h += warps) {
    const int64_t head = static_cast<int64_t>(h) * n;
    double sum = 0;
    float bonus = 0.0f;
    for (int j = lane; j < n; j += 32) {
      const int64_t c = head + j;
      const int64_t idx = base + c;
      sum += y[idx];
      bonus += r[idx] * k[idx] * r_k[c];
    }
    const double mean = m::RowMean(WarpSum(sum), n);
    bonus = WarpSum(bonus);
    double sq = 0;
    for (int j = lane; j < n; j += 32) sq += m::CenteredSquare(y[base + head + j], mean);
    const float inv = m::InvStd(WarpSum(sq), n, eps);
    const float mean_f = static_cast<float>(mean);
    for (int j = lane; j < n; j += 32) {
      const int64_t c = head + j;
      const int64_t idx = base + c;
      const float normed = m::NormValue(y[idx], mean_f, inv, ln_weight[c], ln_bias[c]);
      y[idx] = m::BonusGate(normed, bonus, v[idx], g[idx]);
    }
  }
}

__global__ void ConvertFloatsKernel(const float* __restrict__ x, bool to_bf16,
                                    uint16_t* __restrict__ y, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    y[i] = to_bf16 ? m::FloatToBf16Bits(x[i]) : m::FloatToHalfBits(x[i]);
  }
}

bool ValidDataType(DataType type) {
  return type == DataType::kF32 || type == DataType::kF16 || type == DataType::kBF16;
}

// Threads of a per-row, warp-per-head block.
int HeadThreads(int heads) { return 32 * (heads < kMaxHeadWarps ? heads : kMaxHeadWarps); }

}  // namespace

cudaError_t Embed(const void* emb, DataType type, int vocab, int c, const int* tokens, int rows,
                  float* x, cudaStream_t stream) {
  if (vocab < 0 || c < 0 || rows < 0 || !ValidDataType(type)) return cudaErrorInvalidValue;
  if (rows == 0 || c == 0) return cudaSuccess;
  if (vocab == 0 || emb == nullptr || tokens == nullptr || x == nullptr) {
    return cudaErrorInvalidValue;
  }
  const int64_t total = static_cast<int64_t>(rows) * c;
  EmbedKernel<<<GridFor(total), kThreads, 0, stream>>>(emb, type, vocab, c, tokens, total, x);
  return cudaGetLastError();
}

cudaError_t LayerNorm(const float* x, const int* src_rows, int rows, int c, const float* weight,
                      const float* bias, float eps, float* y, cudaStream_t stream) {
  if (rows < 0 || c < 0) return cudaErrorInvalidValue;
  if (rows == 0 || c == 0) return cudaSuccess;
  if (x == nullptr || weight == nullptr || bias == nullptr || y == nullptr) {
    return cudaErrorInvalidValue;
  }
  if (src_rows != nullptr && x == y) return cudaErrorInvalidValue;
  LayerNormKernel<<<rows, LayerNormThreads(c), 0, stream>>>(x, src_rows, c, weight, bias, eps, y);
  return cudaGetLastError();
}

cudaError_t TokenShiftMix(const float* xa, const int* prev_row, const int* row_slot,
                          const float* slots, int64_t slot_stride, int64_t shift_offset, int rows,
                          int c, MixArgs mixes, cudaStream_t stream) {
  if (rows < 0 || c < 0 || slot_stride < 0 || shift_offset < 0 || mixes.count < 1 ||
      mixes.count > 6) {
    return cudaErrorInvalidValue;
  }
  if (rows == 0 || c == 0) return cudaSuccess;
  if (xa == nullptr || prev_row == nullptr || row_slot == nullptr || slots == nullptr) {
    return cudaErrorInvalidValue;
  }
  for (int k = 0; k < mixes.count; ++k) {
    if (mixes.mix[k] == nullptr || mixes.out[k] == nullptr) return cudaErrorInvalidValue;
  }
  const int64_t total = static_cast<int64_t>(rows) * c;
  TokenShiftMixKernel<<<GridFor(total), kThreads, 0, stream>>>(
      xa, prev_row, row_slot, slots, slot_stride, shift_offset, c, total, mixes);
  return cudaGetLastError();
}

cudaError_t StoreShift(const float* xa, const int* seg_last_row, const int* seg_slot, int segments,
                       int c, float* slots, int64_t slot_stride, int64_t shift_offset,
                       cudaStream_t stream) {
  if (segments < 0 || c < 0 || slot_stride < 0 || shift_offset < 0) return cudaErrorInvalidValue;
  if (segments == 0 || c == 0) return cudaSuccess;
  if (xa == nullptr || seg_last_row == nullptr || seg_slot == nullptr || slots == nullptr) {
    return cudaErrorInvalidValue;
  }
  const int64_t total = static_cast<int64_t>(segments) * c;
  StoreShiftKernel<<<GridFor(total), kThreads, 0, stream>>>(xa, seg_last_row, seg_slot, c, total,
                                                            slots, slot_stride, shift_offset);
  return cudaGetLastError();
}

cudaError_t Activate(Activation act, float* x, int64_t n, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (act != Activation::kTanh && act != Activation::kSigmoid && act != Activation::kSquaredRelu) {
    return cudaErrorInvalidValue;
  }
  if (n == 0) return cudaSuccess;
  if (x == nullptr) return cudaErrorInvalidValue;
  ActivateKernel<<<GridFor(n), kThreads, 0, stream>>>(act, x, n);
  return cudaGetLastError();
}

cudaError_t TimeMixPrep(const TimeMixPrepArgs& args, cudaStream_t stream) {
  if (args.rows < 0 || args.heads < 0 || args.n < 0) return cudaErrorInvalidValue;
  if (args.rows == 0 || args.heads == 0 || args.n == 0) return cudaSuccess;
  if (args.w == nullptr || args.a == nullptr || args.k == nullptr || args.kk == nullptr ||
      args.v == nullptr || args.v_first == nullptr || args.w0 == nullptr || args.a0 == nullptr ||
      args.k_k == nullptr || args.k_a == nullptr) {
    return cudaErrorInvalidValue;
  }
  if (!args.first_layer && (args.v_residual == nullptr || args.v0 == nullptr)) {
    return cudaErrorInvalidValue;
  }
  TimeMixPrepKernel<<<args.rows, HeadThreads(args.heads), 0, stream>>>(args);
  return cudaGetLastError();
}

cudaError_t GroupNormBonusGate(float* y, const float* r, const float* k, const float* v,
                               const float* g, const float* r_k, const float* ln_weight,
                               const float* ln_bias, float eps, int rows, int heads, int n,
                               cudaStream_t stream) {
  if (rows < 0 || heads < 0 || n < 0) return cudaErrorInvalidValue;
  if (rows == 0 || heads == 0 || n == 0) return cudaSuccess;
  if (y == nullptr || r == nullptr || k == nullptr || v == nullptr || g == nullptr ||
      r_k == nullptr || ln_weight == nullptr || ln_bias == nullptr) {
    return cudaErrorInvalidValue;
  }
  GroupNormBonusGateKernel<<<rows, HeadThreads(heads), 0, stream>>>(y, r, k, v, g, r_k, ln_weight,
                                                                    ln_bias, eps, heads, n);
  return cudaGetLastError();
}

cudaError_t ConvertFloats(const float* x, DataType type, uint16_t* y, int64_t n,
                          cudaStream_t stream) {
  if (n < 0 || (type != DataType::kF16 && type != DataType::kBF16)) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;
  if (x == nullptr || y == nullptr) return cudaErrorInvalidValue;
  ConvertFloatsKernel<<<GridFor(n), kThreads, 0, stream>>>(x, type == DataType::kBF16, y, n);
  return cudaGetLastError();
}

}  // namespace gander::kernels::cuda
