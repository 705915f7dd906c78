// Dense projections on the CPU: Y = X · W^T, the y = W · x of every RWKV-7
// linear layer, for one token (T = 1, decode) or many (prefill, batched
// decode).
//
// Shapes and types:
//   w [rows, cols] row-major; each row is one output. float32, or bf16 given
//     as its raw bits (uint16_t; value = float32 with bits << 16).
//   x [t, cols] float32 row-major: t input vectors.
//   y [t, rows] float32 row-major: y[i][r] = sum_j w[r][j] * x[i][j].
//
// Example (one decode step, bf16 weights, 2 threads):
//   ThreadPool pool(2);
//   MatMulBF16(ffn_key_bits, 3072, 768, x, /*t=*/1, k, &pool);  // k = W_key · x
//   // residual += W_out · attn, the residual add folded into the matmul:
//   MatMulBF16(att_out_bits, 768, 768, attn, 1, residual, &pool, MatMulOutput::kAccumulate);
//
// Accuracy: summation order differs from a plain loop (vector lanes, then a
// short reduction tree), but every output is a float32 sum of float32
// products: |y - exact| stays within float32 rounding, about
// 1e-5 * sum_j |w_rj * x_ij| or better for cols up to several thousand. IEEE
// float32 semantics throughout (no flush-to-zero, NaN and Inf propagate).
//
// Batch invariance: on a given machine each output's bits depend only on its
// weight row, its input row and cols: not on t, on the row's position in X,
// on the other rows of X or on the thread count. A stream's results do not
// change with its batch neighbours. They may differ in the last bits between
// instruction sets (see MatMulIsaName).
//
// Instruction sets: chosen once at run time (AVX2 + FMA where the CPU has
// them, else a portable path that the compiler vectorises for the build's
// baseline); the build never assumes more than its baseline.
//
// Performance: for t <= 4 (decode, small batches) the weights are streamed
// once from memory against all t inputs, so a call costs about one read of
// w; for larger t (prefill, batched decode) tiles of w are packed to float32
// and reused across up to 128 inputs from L1, which makes the call
// compute-bound. bf16 weights halve the memory traffic at no accuracy cost
// to the float32 sums.
//
// Ownership: all pointers are borrowed for the call. y must not overlap w or
// x. Nothing is allocated on the heap (the kernels use about 60 KiB of stack
// per thread).
//
// Threads: the work is split over output rows (and over blocks of t when t
// is large) on `pool`, which may be null (run on the calling thread). The
// functions are reentrant; concurrent calls sharing one pool are serialised
// by the pool.
//
// Failure behaviour: none. rows, cols or t <= 0 are defined: nothing is
// computed; with kOverwrite and cols <= 0 (an empty sum) y is zero-filled
// (when rows and t are positive).
#ifndef GANDER_KERNELS_CPU_MATMUL_H_
#define GANDER_KERNELS_CPU_MATMUL_H_

#include <cstdint>

#include "kernels/cpu/thread_pool.h"

namespace gander::kernels::cpu {

// What a matmul does with the existing contents of y.
enum class MatMulOutput {
  kOverwrite,   // y = X · W^T
  kAccumulate,  // y += X · W^T (for example a residual add folded in)
};

// Y [t, rows] = X [t, cols] · W^T, with w [rows, cols] float32.
void MatMulF32(const float* w, int rows, int cols, const float* x, int64_t t, float* y,
               ThreadPool* pool, MatMulOutput output = MatMulOutput::kOverwrite);

// Y [t, rows] = X [t, cols] · W^T, with w [rows, cols] bf16 bits.
void MatMulBF16(const uint16_t* w, int rows, int cols, const float* x, int64_t t, float* y,
                ThreadPool* pool, MatMulOutput output = MatMulOutput::kOverwrite);

// The instruction set the functions above use on this machine: "avx2+fma"
// or "portable". For logs and benchmark labels.
const char* MatMulIsaName();

}  // namespace gander::kernels::cpu

#endif  // GANDER_KERNELS_CPU_MATMUL_H_
