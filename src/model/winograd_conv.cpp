#include "model/winograd_conv.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "model/cpu_features.h"
#include "model/winograd_avx2.h"

namespace coughkit::model {
namespace {

// G of F(2x2,3x3) (points 0, 1, -1) and F(4x4,3x3) (points 0, 1, -1, 2, -2), from Lavin &
// Gray, "Fast Algorithms for Convolutional Neural Networks". B^T and A^T are folded into
// code in winograd_avx2.cpp.
constexpr double kG2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
constexpr double kG4[6][3] = {{1.0 / 4, 0, 0},
                              {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                              {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                              {1.0 / 24, 1.0 / 12, 1.0 / 6},
                              {1.0 / 24, -1.0 / 12, 1.0 / 6},
                              {0, 0, 1}};

}  // namespace

bool WinogradConv::eligible(const Node& node, const Tensor& w) {
  auto ones = [&](const char* a) {
    auto v = node.attr_ints(a, {1, 1});
    return v.size() == 2 && v[0] == 1 && v[1] == 1;
  };
  return w.shape.size() == 4 && w.shape[2] == 3 && w.shape[3] == 3 && node.attr_int("group", 1) == 1 &&
         ones("strides") && ones("dilations") && w.shape[0] % 8 == 0 && w.shape[1] % 8 == 0 &&
         node.attr_string("auto_pad", "NOTSET") == "NOTSET" && own_avx2_kernels_enabled();
}

WinogradConv::WinogradConv(const Node& node, const Tensor& w, const Tensor* bias, int tile)
    : m_(tile), c_(w.shape[1]), k_(w.shape[0]), sum_(node.fused_sum), relu_(node.fused_relu) {
  if (tile != 2 && tile != 4) throw ConfigError("Winograd tile must be 2 or 4");
  auto pads = node.attr_ints("pads", {0, 0, 0, 0});
  pad_t_ = pads[0];
  pad_l_ = pads[1];
  pad_b_ = pads[2];
  pad_r_ = pads[3];
  int a = tile + 2;
  auto g = [&](int i, int j) { return tile == 2 ? kG2[i][j] : kG4[i][j]; };
  // U = G g G^T per (input channel, output channel), in double, stored [xi][c][k].
  u_.assign(static_cast<std::size_t>(a * a * c_ * k_), 0.f);
  const float* pw = w.data<float>();
  for (std::int64_t k = 0; k < k_; ++k)
    for (std::int64_t c = 0; c < c_; ++c) {
      const float* gk = pw + (k * c_ + c) * 9;
      double t[6][3];
      for (int i = 0; i < a; ++i)
        for (int j = 0; j < 3; ++j) t[i][j] = g(i, 0) * gk[j] + g(i, 1) * gk[3 + j] + g(i, 2) * gk[6 + j];
      for (int i = 0; i < a; ++i)
        for (int j = 0; j < a; ++j) {
          double u = t[i][0] * g(j, 0) + t[i][1] * g(j, 1) + t[i][2] * g(j, 2);
          u_[static_cast<std::size_t>(((i * a + j) * c_ + c) * k_ + k)] = static_cast<float>(u);
        }
    }
  bias_.assign(static_cast<std::size_t>(k_), 0.f);
  if (bias) std::copy_n(bias->data<float>(), k_, bias_.begin());
}

Shape WinogradConv::out_shape(const Shape& xs) const {
  return {xs[0], k_, xs[2] + pad_t_ + pad_b_ - 2, xs[3] + pad_l_ + pad_r_ - 2};
}

void WinogradConv::run(const float* x, const Shape& xs, float* dst, int threads) const {
  WinogradProblem p;
  p.m = m_;
  p.n = xs[0];
  p.c = c_;
  p.k = k_;
  p.h = xs[2];
  p.w = xs[3];
  Shape ys = out_shape(xs);
  p.oh = ys[2];
  p.ow = ys[3];
  p.pad_t = pad_t_;
  p.pad_l = pad_l_;
  p.sum = sum_;
  p.relu = relu_;
  p.u = u_.data();
  p.bias = bias_.data();
  winograd_run_avx2(p, x, dst, threads);
}

}  // namespace coughkit::model
