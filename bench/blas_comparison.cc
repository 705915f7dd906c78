// OpenBLAS's sgemm against gander's MatMulF32 at the RWKV-7 0.1B projection
// shapes, Y[T, rows] = X[T, cols] · W^T, best of 7 runs each, in one process.
//
// Not built by Bazel: OpenBLAS is not a dependency of the project (this
// program is how the choice not to use it was measured; see
// bench/RESULTS.md). To run it:
//   apt-get install libopenblas-dev
//   g++ -O2 -std=c++17 -I. bench/blas_comparison.cc kernels/cpu/matmul.cc \
//     kernels/cpu/matmul_avx2.cc kernels/cpu/matmul_portable.cc \
//     kernels/cpu/thread_pool.cc -lopenblas -lpthread -o /tmp/blas_comparison
//   OPENBLAS_NUM_THREADS=2 /tmp/blas_comparison
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <iterator>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace {

struct Shape {
  int rows, cols, t;
};

template <class Fn>
double BestSeconds(Fn fn) {
  double best = 1e9;
  for (int r = 0; r < 7; ++r) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const double d =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (d < best) best = d;
  }
  return best;
}

}  // namespace

int main() {
  gander::kernels::cpu::ThreadPool pool(2);
  const Shape shapes[] = {
      {768, 768, 512}, {3072, 768, 512}, {768, 3072, 512}, {768, 768, 16}, {3072, 768, 16}};
  // gander's kernel runs every shape first, then OpenBLAS: OpenBLAS's worker
  // threads keep spinning for a while after each call, and would otherwise
  // take the cores from the next measurement.
  std::vector<double> ours, blas;
  for (const Shape& s : shapes) {
    std::vector<float> w(static_cast<size_t>(s.rows) * s.cols, 0.01f);
    std::vector<float> x(static_cast<size_t>(s.t) * s.cols, 0.5f);
    std::vector<float> y(static_cast<size_t>(s.t) * s.rows);
    ours.push_back(BestSeconds([&] {
      gander::kernels::cpu::MatMulF32(w.data(), s.rows, s.cols, x.data(), s.t, y.data(), &pool);
    }));
  }
  for (const Shape& s : shapes) {
    std::vector<float> w(static_cast<size_t>(s.rows) * s.cols, 0.01f);
    std::vector<float> x(static_cast<size_t>(s.t) * s.cols, 0.5f);
    std::vector<float> y(static_cast<size_t>(s.t) * s.rows);
    blas.push_back(BestSeconds([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.t, s.rows, s.cols, 1.0f, x.data(),
                  s.cols, w.data(), s.cols, 0.0f, y.data(), s.rows);
    }));
  }
  std::printf("| rows x cols | T | OpenBLAS GFLOP/s | gander GFLOP/s | gander / OpenBLAS |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < std::size(shapes); ++i) {
    const Shape& s = shapes[i];
    const double flops = 2.0 * s.rows * s.cols * s.t;
    std::printf("| %d x %d | %d | %.1f | %.1f | %.2f |\n", s.rows, s.cols, s.t,
                flops / blas[i] / 1e9, flops / ours[i] / 1e9, blas[i] / ours[i]);
  }
}
