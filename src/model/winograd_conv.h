#pragma once
// Winograd F(m x m, 3 x 3) convolution (Lavin & Gray 2015) for 3x3 stride-1 layers, 82%
// of ResNet-18's FLOPs. oneDNN 2.6 implements Winograd only for AVX-512, and its direct
// AVX2 kernels run at about ONNX Runtime's speed. F(2x2,3x3) does 1/2.25 of the
// multiplications with transforms made of additions only, and stays within the 1e-4
// parity bound; F(4x4,3x3) (1/4) rounds too much for it and is kept for tests only.
//
// Layout: activations in oneDNN's nChw8c (channel blocks of 8, what its AVX2 kernels use),
// so transforms work on 8-channel vectors and no reorders are needed between Winograd and
// oneDNN layers. Tiles are processed in chunks: input transform -> one sgemm per transform
// point -> output transform with bias, residual sum and ReLU fused (winograd_avx2.cpp).
#include <cstdint>
#include <memory>
#include <vector>

#include "model/graph.h"
#include "model/tensor.h"

namespace coughkit::model {

class WinogradConv {
 public:
  // Whether `node` (a FusedConv with weights `w`) can run here: 3x3, stride 1, no
  // dilation, one group, channel counts multiples of 8, and a CPU with AVX2.
  static bool eligible(const Node& node, const Tensor& w);
  // tile = m: 2 or 4.
  WinogradConv(const Node& node, const Tensor& w, const Tensor* bias, int tile);

  Shape out_shape(const Shape& x_shape) const;
  // x: nChw8c input of shape x_shape. dst: nChw8c output, holding the residual to add
  // when the node has a fused sum. Uses up to `threads` OpenMP threads.
  void run(const float* x, const Shape& x_shape, float* dst, int threads) const;

 private:
  int m_;
  std::int64_t c_, k_;
  std::int64_t pad_t_, pad_l_, pad_b_, pad_r_;
  bool sum_, relu_;
  std::vector<float> u_;     // transformed weights [alpha*alpha][C][K]
  std::vector<float> bias_;  // [K] (zeros without bias)
};

}  // namespace coughkit::model
