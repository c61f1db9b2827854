#pragma once
// 2-D max pooling on nChw8c activations, compiled for AVX2 (maxpool_avx2.cpp gets -mavx2).
// oneDNN 2.6's AVX2 pooling took 18 ms for ResNet-18's 3x3/2 max pool on a 17-segment bag
// (1 thread, 2-core Zen 3), as long as a quarter of the 7x7 convolution before it; this
// loop does the same in a few ms. Call only when own_avx2_kernels_enabled()
// (cpu_features.h).
#include <cstdint>

namespace coughkit::model {

struct MaxPoolProblem {
  std::int64_t n = 0, c = 0, h = 0, w = 0, oh = 0, ow = 0;  // c: a multiple of 8
  std::int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_t = 0, pad_l = 0;
};

// x and dst in nChw8c. Padding never wins (it is -inf, as in ONNX and PyTorch); every
// window holds at least one real pixel when pads are smaller than the kernel.
void maxpool_run_avx2(const MaxPoolProblem& p, const float* x, float* dst, int threads);

}  // namespace coughkit::model
