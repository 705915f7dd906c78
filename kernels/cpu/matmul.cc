#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "kernels/cpu/matmul_internal.h"

namespace gander::kernels::cpu {
namespace matmul_internal {
namespace {

// Smallest amount of work worth handing to another thread, in
// multiply-adds (about 2 to 4 microseconds of one core).
constexpr int64_t kMinMacsPerChunk = int64_t{1} << 16;

// Rows of x per block when t is split across threads: large enough that
// each weight tile is reused many times, small enough to give every thread
// work when there are few rows.
constexpr int64_t kTBlock = 128;

template <typename W>
struct SplitContext {
  const Problem<W>* problem;
  PartFn<W> part;
  int64_t row_units;
  int64_t t_block;
};

template <typename W>
void Run(const Problem<W>& p, PartFn<W> part, ThreadPool* pool) {
  if (p.rows <= 0 || p.t <= 0) return;
  if (p.cols <= 0) {
    if (!p.accumulate) std::memset(p.y, 0, sizeof(float) * static_cast<size_t>(p.rows) * p.t);
    return;
  }
  if (pool == nullptr || pool->num_threads() == 1) {
    part(p, 0, p.rows, 0, p.t);
    return;
  }
  SplitContext<W> ctx;
  ctx.problem = &p;
  ctx.part = part;
  ctx.row_units = (p.rows + kRowUnit - 1) / kRowUnit;
  int64_t t_blocks = 1;
  if (p.t > kMaxStreamingT) t_blocks = (p.t + kTBlock - 1) / kTBlock;
  ctx.t_block = (p.t + t_blocks - 1) / t_blocks;
  const int64_t macs_per_unit = int64_t{kRowUnit} * p.cols * ctx.t_block;
  const int64_t min_chunk = (kMinMacsPerChunk + macs_per_unit - 1) / macs_per_unit;

  // Work item i is row unit (i % row_units) of t block (i / row_units).
  // The closure holds one pointer, so std::function stores it inline.
  const SplitContext<W>* c = &ctx;
  pool->ParallelFor(t_blocks * ctx.row_units, min_chunk, [c](int64_t begin, int64_t end) {
    const Problem<W>& q = *c->problem;
    while (begin < end) {
      const int64_t tb = begin / c->row_units;
      const int64_t u_begin = begin % c->row_units;
      const int64_t u_end = std::min(c->row_units, u_begin + (end - begin));
      const int r_begin = static_cast<int>(u_begin * kRowUnit);
      const int r_end = static_cast<int>(std::min<int64_t>(q.rows, u_end * kRowUnit));
      const int64_t t_begin = tb * c->t_block;
      const int64_t t_end = std::min(q.t, t_begin + c->t_block);
      c->part(q, r_begin, r_end, t_begin, t_end);
      begin += u_end - u_begin;
    }
  });
}

Isa DetectIsa() { return Avx2FmaSupported() ? Isa::kAvx2Fma : Isa::kPortable; }

}  // namespace

bool Avx2FmaSupported() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the AVX registers.
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

Isa BestIsa() {
  static const Isa isa = DetectIsa();
  return isa;
}

void MatMulF32WithIsa(Isa isa, const float* w, int rows, int cols, const float* x, int64_t t,
                      float* y, ThreadPool* pool, MatMulOutput output) {
  const Problem<float> p{w, rows, cols, x, t, y, output == MatMulOutput::kAccumulate};
  const bool avx2 = isa == Isa::kAvx2Fma && BestIsa() == Isa::kAvx2Fma;
  Run<float>(p, avx2 ? &Avx2PartF32 : &PortablePartF32, pool);
}

void MatMulBF16WithIsa(Isa isa, const uint16_t* w, int rows, int cols, const float* x, int64_t t,
                       float* y, ThreadPool* pool, MatMulOutput output) {
  const Problem<uint16_t> p{w, rows, cols, x, t, y, output == MatMulOutput::kAccumulate};
  const bool avx2 = isa == Isa::kAvx2Fma && BestIsa() == Isa::kAvx2Fma;
  Run<uint16_t>(p, avx2 ? &Avx2PartBF16 : &PortablePartBF16, pool);
}

}  // namespace matmul_internal

void MatMulF32(const float* w, int rows, int cols, const float* x, int64_t t, float* y,
               ThreadPool* pool, MatMulOutput output) {
  matmul_internal::MatMulF32WithIsa(matmul_internal::BestIsa(), w, rows, cols, x, t, y, pool,
                                    output);
}

void MatMulBF16(const uint16_t* w, int rows, int cols, const float* x, int64_t t, float* y,
                ThreadPool* pool, MatMulOutput output) {
  matmul_internal::MatMulBF16WithIsa(matmul_internal::BestIsa(), w, rows, cols, x, t, y, pool,
                                     output);
}

const char* MatMulIsaName() {
  return matmul_internal::BestIsa() == matmul_internal::Isa::kAvx2Fma ? "avx2+fma" : "portable";
}

}  // namespace gander::kernels::cpu
