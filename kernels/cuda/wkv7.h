// The RWKV-7 (x070) WKV recurrence on the GPU, for a batch of streams.
//
// One launch advances every segment's state over its tokens, in order: a
// segment is one stream's consecutive tokens (rows) in the batch, and its
// state lives in that stream's slot of the shared state array. Decode (every
// segment one token) and prefill (long segments) use the same call. The maths
// per head and token is kernels/cpu/wkv7.h's Wkv7Step:
//   S <- S (diag(w) - kk (kk*a)^T) + v k^T,  y = S r   (float32)
//
// Framework-free: device pointers, shapes and a stream in, a cudaError_t out.
// Argument errors are returned before any launch; otherwise the launch is
// asynchronous on `stream` and its launch error is returned (errors of the
// kernel's execution surface at the next synchronising call). Nothing here
// allocates or synchronises. Reentrant: no global state; concurrent launches
// must not share slots or outputs.
//
// Example (layer l of a batch of S segments, device arrays throughout):
//   cudaError_t err = gander::kernels::cuda::Wkv7(
//       S, d_seg_start, d_seg_len, d_seg_slot, d_slots, slot_floats,
//       l * (2 * C + H * 64 * 64) + C, H, 64, d_r, d_w, d_k, d_v, d_kk, d_a, d_y, stream);
#ifndef GANDER_KERNELS_CUDA_WKV7_H_
#define GANDER_KERNELS_CUDA_WKV7_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace gander::kernels::cuda {

// segments: number of segments S (>= 0).
// seg_start, seg_len, seg_slot [S] int32 (device): segment s owns rows
//   seg_start[s] .. seg_start[s] + seg_len[s] - 1 (seg_len <= 0: nothing is
//   read or written for it) and the state at
//   slots + seg_slot[s] * slot_stride + wkv_offset, [heads][n][n] float32
//   indexed [head][i = value][j = key], updated in place. Segments must name
//   distinct slots and disjoint rows.
// slots: the shared state array (device); slot_stride and wkv_offset are in
//   floats (>= 0). Slots not named by a segment with tokens are untouched.
// r, w, k, v, kk, a [rows, heads * n] float32 (device), head-major within a
//   row; kk already L2-normalised per head; w is the decay in (0, 1).
// y [rows, heads * n] float32 (device): written for every row of every
//   segment, untouched elsewhere. y must not overlap the inputs or the slots.
// n must be 64 (the head size of every released model).
// Returns cudaErrorInvalidValue, launching nothing, when n != 64,
// segments < 0, heads <= 0 or > 65535, slot_stride < 0, wkv_offset < 0, or a
// pointer is null while segments > 0; segments == 0 returns cudaSuccess
// without a launch.
cudaError_t Wkv7(int segments, const int* seg_start, const int* seg_len, const int* seg_slot,
                 float* slots, int64_t slot_stride, int64_t wkv_offset, int heads, int n,
                 const float* r, const float* w, const float* k, const float* v, const float* kk,
                 const float* a, float* y, cudaStream_t stream);

}  // namespace gander::kernels::cuda

#endif  // GANDER_KERNELS_CUDA_WKV7_H_
