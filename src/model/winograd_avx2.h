#pragma once
// The Winograd tile loop, compiled for AVX2 (winograd_avx2.cpp gets -mavx2; the
// rest of the library stays baseline x86-64). Call only when own_avx2_kernels_enabled()
// (cpu_features.h).
#include <cstdint>

namespace coughkit::model {

struct WinogradProblem {
  int m = 2;                         // output tile: F(m x m, 3 x 3), m = 2 or 4
  std::int64_t n = 0, c = 0, k = 0;  // batch, input and output channels (multiples of 8)
  std::int64_t h = 0, w = 0, oh = 0, ow = 0, pad_t = 0, pad_l = 0;
  bool sum = false, relu = false;  // dst += residual (already in dst); ReLU last
  const float* u = nullptr;        // transformed weights [(m+2)^2][C][K]
  const float* bias = nullptr;     // [K]
};

// x and dst in nChw8c.
void winograd_run_avx2(const WinogradProblem& p, const float* x, float* dst, int threads);

}  // namespace coughkit::model
