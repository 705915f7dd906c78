// Internals of kernels/cpu/matmul.h: the per-instruction-set kernels and the
// entry points that let tests run a chosen instruction set. Not for use
// outside kernels/cpu/.
//
// Each kernel computes one rectangular part of the output on the calling
// thread: y[i][r] for i in [t_begin, t_end) and r in [r_begin, r_end).
// matmul.cc splits the problem into such parts across a thread pool.
#ifndef GANDER_KERNELS_CPU_MATMUL_INTERNAL_H_
#define GANDER_KERNELS_CPU_MATMUL_INTERNAL_H_

#include <cstdint>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace gander::kernels::cpu::matmul_internal {

// One matmul problem, as in matmul.h. W is float or uint16_t (bf16 bits).
template <typename W>
struct Problem {
  const W* w;      // [rows, cols]
  int rows;        // > 0
  int cols;        // > 0
  const float* x;  // [t, cols]
  int64_t t;       // > 0
  float* y;        // [t, rows]
  bool accumulate;
};

// Computes the part [t_begin, t_end) x [r_begin, r_end) of p's output.
template <typename W>
using PartFn = void (*)(const Problem<W>& p, int r_begin, int r_end, int64_t t_begin,
                        int64_t t_end);

// Portable kernels (matmul_portable.cc): plain C++, vectorised by the
// compiler for the build's baseline.
void PortablePartF32(const Problem<float>& p, int r_begin, int r_end, int64_t t_begin,
                     int64_t t_end);
void PortablePartBF16(const Problem<uint16_t>& p, int r_begin, int r_end, int64_t t_begin,
                      int64_t t_end);

// AVX2 + FMA kernels (matmul_avx2.cc). Call only where Avx2FmaSupported().
void Avx2PartF32(const Problem<float>& p, int r_begin, int r_end, int64_t t_begin, int64_t t_end);
void Avx2PartBF16(const Problem<uint16_t>& p, int r_begin, int r_end, int64_t t_begin,
                  int64_t t_end);

enum class Isa { kPortable, kAvx2Fma };

// Whether this CPU (and OS) runs AVX2 and FMA code.
bool Avx2FmaSupported();

// The best instruction set for this machine (computed once).
Isa BestIsa();

// MatMulF32 / MatMulBF16 forced onto `isa` (which must be supported: an
// unsupported one falls back to kPortable). For tests and benchmarks.
void MatMulF32WithIsa(Isa isa, const float* w, int rows, int cols, const float* x, int64_t t,
                      float* y, ThreadPool* pool, MatMulOutput output);
void MatMulBF16WithIsa(Isa isa, const uint16_t* w, int rows, int cols, const float* x, int64_t t,
                       float* y, ThreadPool* pool, MatMulOutput output);

// Rows per unit of work handed to a thread (a multiple of every kernel's
// row tile, so that splits do not create ragged tiles).
inline constexpr int kRowUnit = 24;
// Largest t served by the streaming kernels (weights read once, converted
// on the fly); larger t uses the blocked kernels.
inline constexpr int kMaxStreamingT = 4;

}  // namespace gander::kernels::cpu::matmul_internal

#endif  // GANDER_KERNELS_CPU_MATMUL_INTERNAL_H_
