// AVX2 + FMA matmul kernels. Every function here carries
// __attribute__((target("avx2,fma"))); the file is built for the baseline
// instruction set and its kernels are only called after a run-time check
// (matmul.cc), so the binary still runs on CPUs without AVX2.
//
// Two regimes:
//  - Streaming (t <= kMaxStreamingT, decode): memory-bound. Each weight row is
//    read once, straight from memory with wide loads (bf16 widened to float32
//    in registers), against all t inputs at once; 8 rows at a time for t = 1.
//  - Blocked (larger t, prefill and batched decode): compute-bound. A tile of
//    kNb weight rows by kKc columns, packed as float32 into a contiguous
//    stack buffer (bf16 widened once), stays in L1 while a block of up to kTb
//    input rows passes over it, 4 inputs x 3 rows per register tile.
//
// Both regimes sum every output in the same canonical order (see Tile), so
// results are bitwise independent of t, of the thread split and of which
// other inputs share the call.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/matmul_internal.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define GANDER_AVX2 __attribute__((target("avx2,fma")))
#define GANDER_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace gander::kernels::cpu::matmul_internal {
namespace {

// Columns per weight tile in the blocked kernels (1 KiB of float32 per row).
constexpr int kKc = 256;
// Weight rows per tile in the blocked kernels: kNb x kKc float32 = 12 KiB,
// which leaves room in a 32 KiB L1 for the 4 input rows and the stream of
// the next tile.
constexpr int kNb = 12;
// Weight rows shorter than this (in bytes) are "short" for the streaming
// kernels: the hardware prefetcher barely ramps up on each row's stream
// before the row ends, so the kernels prefetch themselves,
// kStreamPrefetchBytes ahead of their sweep. Measured on Zen 3 (one core):
// bf16 rows of 768 columns went from about 9 to 14 GB/s; float32 rows of 768
// columns and bf16 rows of 3072 lost a little, so longer rows do without.
constexpr int64_t kShortRowBytes = 2048;
constexpr int kStreamPrefetchBytes = 8192;
// Inputs per register tile in the blocked kernels.
constexpr int kMt = 4;
// Weight rows per register tile in the blocked kernels.
constexpr int kNr = 3;
// Inputs per block in the blocked kernels (their accumulators are carried
// from one column tile to the next in a kTb x kNb x 8 float buffer, 48 KiB).
constexpr int64_t kTb = 128;

static_assert(kRowUnit % kNb == 0 && kNb % kNr == 0, "row tiles should divide the row unit");
static_assert(kRowUnit % 8 == 0 && kRowUnit % 3 == 0, "streaming tiles should divide the row unit");

struct F32Weights {
  using Elem = float;
  static GANDER_AVX2_INLINE __m256 Load(const float* p) { return _mm256_loadu_ps(p); }
  // Loads the first n (< 8) elements, zero in the other lanes.
  static GANDER_AVX2_INLINE __m256 LoadPartial(const float* p, __m256i mask, int /*n*/) {
    return _mm256_maskload_ps(p, mask);
  }
};

struct BF16Weights {
  using Elem = uint16_t;
  static GANDER_AVX2_INLINE __m256 Load(const uint16_t* p) {
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
  static GANDER_AVX2_INLINE __m256 LoadPartial(const uint16_t* p, __m256i /*mask*/, int n) {
    alignas(16) uint16_t tmp[8] = {};
    std::memcpy(tmp, p, sizeof(uint16_t) * n);
    return Load(tmp);
  }
};

// Lanes [0, n) set, for n in [0, 8].
GANDER_AVX2_INLINE __m256i PrefixMask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The horizontal sums of a, b, c, d, in that order.
GANDER_AVX2_INLINE __m128 Reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_hadd_ps(a, b);
  const __m256 cd = _mm256_hadd_ps(c, d);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// The register tile: for i < MT and r < NR, the dot product of input row
// x[i * ldx + ...] with weight row w[r * ldw + ...] over columns [0, n).
//
// Every output is summed in one canonical order, whatever the tile shape:
// lane l of an 8-lane accumulator takes the products of columns k = l mod 8,
// in increasing k, by fused multiply-add (the last partial group masked, its
// missing lanes adding 0 * 0); the lanes are then added as
// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). So an output's bits
// depend only on its own weight row, input row and the column count: not on
// t, the tile it lands in, the thread split or its batch neighbours.
//
// A long row may be summed in several calls over consecutive column ranges:
// `carry` [MT][carry_ld] holds the NR 8-lane accumulators of each input
// (carry[i * carry_ld + r * 8 + l]) between calls. If resume, the
// accumulators start from carry, else from zero; if finish, they are reduced
// into y[i * ldy + r] (added to it if accumulate), else stored to carry.
template <class WL, int MT, int NR, int kPrefetchBytes = 0>
GANDER_AVX2 void Tile(const float* x, int64_t ldx, const typename WL::Elem* w, int64_t ldw, int n,
                      float* carry, int64_t carry_ld, bool resume, bool finish, float* y,
                      int64_t ldy, bool accumulate) {
  static_assert(NR >= 1 && NR <= 8 && MT >= 1, "bad tile");
  __m256 acc[MT][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MT; ++i) {
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      acc[i][r] = resume ? _mm256_loadu_ps(carry + i * carry_ld + r * 8) : _mm256_setzero_ps();
    }
  }

  int k = 0;
  for (; k + 8 <= n; k += 8) {
    if (kPrefetchBytes > 0) {
      // The tile's rows are contiguous here: stream the bytes that lie
      // kPrefetchBytes beyond the current position of the sweep.
      constexpr int kStepBytes = NR * 8 * static_cast<int>(sizeof(typename WL::Elem));
      const char* pf = reinterpret_cast<const char*>(w) + kPrefetchBytes +
                       static_cast<int64_t>(k) * NR * sizeof(typename WL::Elem);
#pragma GCC unroll 8
      for (int b = 0; b < kStepBytes; b += 64) _mm_prefetch(pf + b, _MM_HINT_T0);
    }
    if constexpr (MT < NR) {
      // Few inputs: keep them in registers and take the weights one by one.
      __m256 xv[MT];
#pragma GCC unroll 8
      for (int i = 0; i < MT; ++i) xv[i] = _mm256_loadu_ps(x + i * ldx + k);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) {
        const __m256 wv = WL::Load(w + r * ldw + k);
#pragma GCC unroll 8
        for (int i = 0; i < MT; ++i) acc[i][r] = _mm256_fmadd_ps(xv[i], wv, acc[i][r]);
      }
    } else {
      __m256 wv[NR];
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) wv[r] = WL::Load(w + r * ldw + k);
#pragma GCC unroll 8
      for (int i = 0; i < MT; ++i) {
        const __m256 xv = _mm256_loadu_ps(x + i * ldx + k);
#pragma GCC unroll 8
        for (int r = 0; r < NR; ++r) acc[i][r] = _mm256_fmadd_ps(xv, wv[r], acc[i][r]);
      }
    }
  }
  if (k < n) {
    const int rest = n - k;
    const __m256i mask = PrefixMask(rest);
    __m256 wv[NR];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) wv[r] = WL::LoadPartial(w + r * ldw + k, mask, rest);
#pragma GCC unroll 8
    for (int i = 0; i < MT; ++i) {
      const __m256 xv = _mm256_maskload_ps(x + i * ldx + k, mask);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) acc[i][r] = _mm256_fmadd_ps(xv, wv[r], acc[i][r]);
    }
  }

  if (!finish) {
#pragma GCC unroll 8
    for (int i = 0; i < MT; ++i) {
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) _mm256_storeu_ps(carry + i * carry_ld + r * 8, acc[i][r]);
    }
    return;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MT; ++i) {
    float* yi = y + i * ldy;
#pragma GCC unroll 2
    for (int r0 = 0; r0 < NR; r0 += 4) {
      const __m256 zero = _mm256_setzero_ps();
      __m128 sums =
          Reduce4(acc[i][r0], r0 + 1 < NR ? acc[i][r0 + 1] : zero,
                  r0 + 2 < NR ? acc[i][r0 + 2] : zero, r0 + 3 < NR ? acc[i][r0 + 3] : zero);
      if (r0 + 4 <= NR) {
        if (accumulate) sums = _mm_add_ps(_mm_loadu_ps(yi + r0), sums);
        _mm_storeu_ps(yi + r0, sums);
      } else {
        alignas(16) float s[4];
        _mm_store_ps(s, sums);
        for (int r = r0; r < NR; ++r) yi[r] = accumulate ? yi[r] + s[r - r0] : s[r - r0];
      }
    }
  }
}

// Streams rows [r_begin, r_end) of the weights, kRows at a time, against MT
// inputs.
template <class WL, int MT, int kRows, int kPrefetchBytes>
GANDER_AVX2 void StreamRows(const Problem<typename WL::Elem>& p, int r_begin, int r_end,
                            int64_t t_begin) {
  const int64_t cols = p.cols;
  const float* x = p.x + t_begin * cols;
  float* y = p.y + t_begin * p.rows;
  int r = r_begin;
  for (; r + kRows <= r_end; r += kRows) {
    Tile<WL, MT, kRows, kPrefetchBytes>(x, cols, p.w + r * cols, cols, p.cols, nullptr, 0, false,
                                        true, y + r, p.rows, p.accumulate);
  }
  for (; r < r_end; ++r) {
    Tile<WL, MT, 1, kPrefetchBytes>(x, cols, p.w + r * cols, cols, p.cols, nullptr, 0, false, true,
                                    y + r, p.rows, p.accumulate);
  }
}

// Streaming kernel for MT (= t_end - t_begin <= kMaxStreamingT) inputs: every
// weight row in [r_begin, r_end) is read once, against all MT inputs.
template <class WL, int MT>
GANDER_AVX2 void Streaming(const Problem<typename WL::Elem>& p, int r_begin, int r_end,
                           int64_t t_begin) {
  // Register budget: MT * rows accumulators + 1 to rows weights + inputs,
  // about 16 at most. One accumulator chain per output (the canonical
  // order), so rows * MT chains must cover the FMA latency at memory speed:
  // 4 chains suffice (about 8 weights per cycle), 8 on long rows run best.
  constexpr int kShortRows = MT == 1 ? 4 : MT == 2 ? 4 : 3;
  constexpr int kLongRows = MT == 1 ? 8 : MT == 2 ? 4 : 3;
  if (static_cast<int64_t>(p.cols) * sizeof(typename WL::Elem) < kShortRowBytes) {
    StreamRows<WL, MT, kShortRows, kStreamPrefetchBytes>(p, r_begin, r_end, t_begin);
  } else {
    StreamRows<WL, MT, kLongRows, 0>(p, r_begin, r_end, t_begin);
  }
}

using BlockTileFn = void (*)(const float* x, int64_t ldx, const float* w, int64_t ldw, int n,
                             float* carry, int64_t carry_ld, bool resume, bool finish, float* y,
                             int64_t ldy, bool accumulate);

// kBlockTiles[mt - 1][nr - 1]: the float32 register tile of mt inputs by nr rows.
constexpr BlockTileFn kBlockTiles[kMt][kNr] = {
    {&Tile<F32Weights, 1, 1>, &Tile<F32Weights, 1, 2>, &Tile<F32Weights, 1, 3>},
    {&Tile<F32Weights, 2, 1>, &Tile<F32Weights, 2, 2>, &Tile<F32Weights, 2, 3>},
    {&Tile<F32Weights, 3, 1>, &Tile<F32Weights, 3, 2>, &Tile<F32Weights, 3, 3>},
    {&Tile<F32Weights, 4, 1>, &Tile<F32Weights, 4, 2>, &Tile<F32Weights, 4, 3>},
};

// Packs a weight tile into dst [nb, kKc] float32 (contiguous rows, so the
// tile does not alias itself in the L1 sets whatever the row stride):
// dst[i * kKc + k] = float(src[i * ld_src + k]) for i < nb, k < n.
template <class WL>
GANDER_AVX2 void PackTile(const typename WL::Elem* src, int64_t ld_src, int nb, int n, float* dst) {
  for (int i = 0; i < nb; ++i) {
    const typename WL::Elem* s = src + i * ld_src;
    float* d = dst + i * kKc;
    int k = 0;
    for (; k + 8 <= n; k += 8) _mm256_store_ps(d + k, WL::Load(s + k));
    if (k < n) {
      const __m256i mask = PrefixMask(n - k);
      _mm256_maskstore_ps(d + k, mask, WL::LoadPartial(s + k, mask, n - k));
    }
  }
}

// Prefetches a weight tile (rows segments of row_bytes bytes, stride bytes
// apart) a few cache lines at a time, so that the next tile arrives while
// the current one is being computed.
class TilePrefetcher {
 public:
  GANDER_AVX2_INLINE void Start(const void* base, int64_t stride, int rows, int64_t row_bytes) {
    base_ = static_cast<const char*>(base);
    stride_ = stride;
    rows_ = rows;
    // One more line than the length needs, for a segment not aligned to 64.
    lines_per_row_ = static_cast<int>((row_bytes + 63) / 64) + 1;
    row_ = 0;
    line_ = 0;
  }
  GANDER_AVX2_INLINE int64_t TotalLines() const { return int64_t{rows_} * lines_per_row_; }
  GANDER_AVX2_INLINE void Issue(int64_t lines) {
    for (; lines > 0 && row_ < rows_; --lines) {
      _mm_prefetch(base_ + row_ * stride_ + line_ * 64, _MM_HINT_T0);
      if (++line_ == lines_per_row_) {
        line_ = 0;
        ++row_;
      }
    }
  }

 private:
  const char* base_ = nullptr;
  int64_t stride_ = 0;
  int rows_ = 0;
  int lines_per_row_ = 0;
  int row_ = 0;
  int line_ = 0;
};

// Blocked kernel for the part [t_begin, t_end) x [r_begin, r_end): for each
// block of kTb inputs and kNb weight rows, the columns are walked in tiles
// of kKc, the 8-lane accumulators carried between column tiles in a stack
// buffer (so the summation order stays the canonical one of Tile). The
// next weight tile is prefetched while the current one is in use.
template <class WL>
GANDER_AVX2 void Blocked(const Problem<typename WL::Elem>& p, int r_begin, int r_end,
                         int64_t t_begin, int64_t t_end) {
  using Elem = typename WL::Elem;
  constexpr int64_t kCarryLd = kNb * 8;
  alignas(32) float packed[kNb * kKc];
  alignas(32) float carry[kTb * kCarryLd];
  const int64_t cols = p.cols;
  TilePrefetcher prefetcher;
  for (int64_t tb = t_begin; tb < t_end; tb += kTb) {
    const int64_t tb_end = t_end - tb < kTb ? t_end : tb + kTb;
    const int64_t t_tiles = (tb_end - tb + kMt - 1) / kMt;
    for (int rb = r_begin; rb < r_end; rb += kNb) {
      const int nb = r_end - rb < kNb ? r_end - rb : kNb;
      for (int kc = 0; kc < p.cols; kc += kKc) {
        const int n = p.cols - kc < kKc ? p.cols - kc : kKc;
        const bool resume = kc > 0;
        const bool finish = kc + n == p.cols;

        // The tile after this one: next columns, else next rows, else the
        // first tile of the next input block.
        int next_rb = rb, next_kc = kc + kKc;
        if (next_kc >= p.cols) {
          next_kc = 0;
          next_rb = rb + kNb < r_end ? rb + kNb : (tb + kTb < t_end ? r_begin : r_end);
        }
        int64_t lines_per_call = 0;
        if (next_rb < r_end) {
          const int next_nb = r_end - next_rb < kNb ? r_end - next_rb : kNb;
          const int next_n = p.cols - next_kc < kKc ? p.cols - next_kc : kKc;
          prefetcher.Start(p.w + next_rb * cols + next_kc, cols * sizeof(Elem), next_nb,
                           next_n * sizeof(Elem));
          const int64_t calls = t_tiles * ((nb + kNr - 1) / kNr);
          lines_per_call = (prefetcher.TotalLines() + calls - 1) / calls;
        }

        PackTile<WL>(p.w + rb * cols + kc, cols, nb, n, packed);
        for (int64_t i = tb; i < tb_end; i += kMt) {
          const int mt = tb_end - i < kMt ? static_cast<int>(tb_end - i) : kMt;
          const float* x = p.x + i * cols + kc;
          float* y = p.y + i * p.rows + rb;
          float* c = carry + (i - tb) * kCarryLd;
          for (int r = 0; r < nb; r += kNr) {
            const int nr = nb - r < kNr ? nb - r : kNr;
            prefetcher.Issue(lines_per_call);
            kBlockTiles[mt - 1][nr - 1](x, cols, packed + r * kKc, kKc, n, c + r * 8, kCarryLd,
                                        resume, finish, y + r, p.rows, p.accumulate);
          }
        }
      }
    }
  }
}

template <class WL>
GANDER_AVX2 void Part(const Problem<typename WL::Elem>& p, int r_begin, int r_end, int64_t t_begin,
                      int64_t t_end) {
  switch (t_end - t_begin) {
    case 1:
      Streaming<WL, 1>(p, r_begin, r_end, t_begin);
      return;
    case 2:
      Streaming<WL, 2>(p, r_begin, r_end, t_begin);
      return;
    case 3:
      Streaming<WL, 3>(p, r_begin, r_end, t_begin);
      return;
    case 4:
      Streaming<WL, 4>(p, r_begin, r_end, t_begin);
      return;
    default:
      Blocked<WL>(p, r_begin, r_end, t_begin, t_end);
      return;
  }
}

static_assert(kMaxStreamingT == 4, "Part's switch covers t = 1..4");

}  // namespace

void Avx2PartF32(const Problem<float>& p, int r_begin, int r_end, int64_t t_begin, int64_t t_end) {
  Part<F32Weights>(p, r_begin, r_end, t_begin, t_end);
}

void Avx2PartBF16(const Problem<uint16_t>& p, int r_begin, int r_end, int64_t t_begin,
                  int64_t t_end) {
  Part<BF16Weights>(p, r_begin, r_end, t_begin, t_end);
}

}  // namespace gander::kernels::cpu::matmul_internal

#else  // Not x86: never selected (Avx2FmaSupported() is false); defined for linking.

namespace gander::kernels::cpu::matmul_internal {

void Avx2PartF32(const Problem<float>& p, int r_begin, int r_end, int64_t t_begin, int64_t t_end) {
  PortablePartF32(p, r_begin, r_end, t_begin, t_end);
}

void Avx2PartBF16(const Problem<uint16_t>& p, int r_begin, int r_end, int64_t t_begin,
                  int64_t t_end) {
  PortablePartBF16(p, r_begin, r_end, t_begin, t_end);
}

}  // namespace gander::kernels::cpu::matmul_internal

#endif
