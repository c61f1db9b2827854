// Each operator alone, against values computed by hand or by a naive reference, with
// ONNX Runtime's fp32 tolerance |a - e| <= 1e-5 + 1e-4 |e|.
#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"
#include "model/cpu_features.h"
#include "model_builder.h"

namespace coughkit::testing {
namespace {

using model::ExecutorOptions;

// ---- oneDNN kernels ----------------------------------------------------------------------

struct ConvCase {
  Shape x, w;
  std::vector<std::int64_t> strides, pads, dilations;
  std::int64_t group;
  bool bias;
};

// Readable, stable test names in CTest (the default prints the case's bytes, pointers included).
std::string ints_text(const std::vector<std::int64_t>& v) {
  std::string out;
  for (auto x : v) out += (out.empty() ? "" : "x") + std::to_string(x);
  return out;
}
void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << "x" << ints_text(c.x) << "_w" << ints_text(c.w) << "_s" << ints_text(c.strides) << "_p" << ints_text(c.pads)
      << "_d" << ints_text(c.dilations) << "_g" << c.group << (c.bias ? "_bias" : "");
}

class OpConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(OpConvTest, MatchesDirectReference) {
  const ConvCase& c = GetParam();
  Tensor x = tensor_f(c.x, random_floats(static_cast<std::size_t>(model::shape_numel(c.x)), 1));
  Tensor w = tensor_f(c.w, random_floats(static_cast<std::size_t>(model::shape_numel(c.w)), 2));
  Tensor b = tensor_f({c.w[0]}, random_floats(static_cast<std::size_t>(c.w[0]), 3));
  Shape out_shape;
  auto want = reference_conv(x, w, c.bias ? &b : nullptr, c.strides, c.pads, c.dilations, c.group, out_shape);
  for (int winograd_tile : {0, 2, 4}) {
    ModelBuilder m;
    m.input("x", x).constant("w", w);
    std::vector<std::string> ins = {"x", "w"};
    if (c.bias) {
      m.constant("b", b);
      ins.push_back("b");
    }
    m.node("Conv", ins, {"y"},
           {attr_ints("strides", c.strides), attr_ints("pads", c.pads), attr_ints("dilations", c.dilations),
            attr_i("group", c.group), attr_ints("kernel_shape", {c.w[2], c.w[3]})})
        .output("y");
    auto out = m.run(ExecutorOptions{2, winograd_tile});
    // F(4x4,3x3) rounds more (transform entries up to 8): a looser bound, and it is not
    // what the engine uses.
    if (winograd_tile == 4)
      expect_close(out[0], out_shape, want, 1e-4, 1e-3);
    else
      expect_close(out[0], out_shape, want);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, OpConvTest,
    ::testing::Values(
        ConvCase{{2, 8, 9, 9}, {16, 8, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},     // 3x3 s1
        ConvCase{{1, 3, 23, 19}, {8, 3, 7, 7}, {2, 2}, {3, 3, 3, 3}, {1, 1}, 1, true},    // stem 7x7 s2
        ConvCase{{3, 16, 8, 8}, {32, 16, 1, 1}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, false},  // 1x1 s2
        ConvCase{{1, 5, 6, 7}, {3, 5, 3, 3}, {1, 1}, {0, 1, 2, 0}, {1, 1}, 1, true},    // odd channels, asymmetric pads
        ConvCase{{1, 8, 10, 10}, {8, 2, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4, true},  // grouped
        ConvCase{{1, 4, 11, 11}, {4, 4, 3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}, 1, false},  // dilated
        ConvCase{{1, 1, 1, 1}, {2, 1, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true},     // 1x1 image
        // Winograd-eligible, partial tiles and asymmetric pads
        ConvCase{{3, 16, 13, 11}, {24, 16, 3, 3}, {1, 1}, {0, 1, 2, 1}, {1, 1}, 1, true},
        ConvCase{{1, 8, 2, 3}, {8, 8, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
        // Strided, multiples of 8 channels (ResNet's stride-2 3x3 layers), with odd sizes,
        // asymmetric pads, rectangular kernels and unequal strides
        ConvCase{{3, 16, 13, 11}, {24, 16, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, true},
        ConvCase{{2, 8, 12, 9}, {16, 8, 5, 3}, {2, 3}, {2, 0, 1, 1}, {1, 1}, 1, false},
        ConvCase{{1, 8, 2, 2}, {8, 8, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, true}));

// Conv -> BatchNormalization -> Add(residual) -> Relu: folded and fused into one primitive.
TEST(OpFusedConv, BatchNormResidualReluMatchesUnfusedMath) {
  Tensor x = tensor_f({2, 8, 6, 6}, random_floats(2 * 8 * 36, 4));
  Tensor r = tensor_f({2, 8, 6, 6}, random_floats(2 * 8 * 36, 5));
  Tensor w = tensor_f({8, 8, 3, 3}, random_floats(8 * 8 * 9, 6));
  auto sc = random_floats(8, 7), sh = random_floats(8, 8), mu = random_floats(8, 9), var = random_floats(8, 10);
  for (auto& v : var) v = std::abs(v) + 0.5f;
  ModelBuilder m;
  m.input("x", x).input("r", r).constant("w", w);
  m.constant("sc", tensor_f({8}, sc)).constant("sh", tensor_f({8}, sh)).constant("mu", tensor_f({8}, mu));
  m.constant("var", tensor_f({8}, var));
  m.node("Conv", {"x", "w"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1})});
  m.node("BatchNormalization", {"c", "sc", "sh", "mu", "var"}, {"bn"}, {attr_f("epsilon", 1e-5f)});
  m.node("Add", {"r", "bn"}, {"s"});
  m.node("Relu", {"s"}, {"y"}).output("y");
  Shape out_shape;
  auto conv = reference_conv(x, w, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, out_shape);
  std::vector<float> want(conv.size());
  for (std::size_t i = 0; i < conv.size(); ++i) {
    std::size_t ch = (i / 36) % 8;
    float bn = (conv[i] - mu[ch]) / std::sqrt(var[ch] + 1e-5f) * sc[ch] + sh[ch];
    want[i] = std::max(0.f, bn + r.data<float>()[i]);
  }
  expect_close(m.run()[0], out_shape, want);
}

// Two convolutions feeding one Add: the residual comes from the other convolution's
// blocked output (ResNet downsample blocks) and the chain continues into a third conv.
TEST(OpFusedConv, ResidualFromAnotherConvolution) {
  Tensor x = tensor_f({1, 8, 5, 5}, random_floats(200, 11));
  Tensor w1 = tensor_f({8, 8, 3, 3}, random_floats(576, 12)), w2 = tensor_f({8, 8, 1, 1}, random_floats(64, 13));
  Tensor w3 = tensor_f({4, 8, 1, 1}, random_floats(32, 14));
  ModelBuilder m;
  m.input("x", x).constant("w1", w1).constant("w2", w2).constant("w3", w3);
  m.node("Conv", {"x", "w1"}, {"a"}, {attr_ints("pads", {1, 1, 1, 1})});
  m.node("Conv", {"x", "w2"}, {"b"});
  m.node("Add", {"a", "b"}, {"s"});
  m.node("Relu", {"s"}, {"r"});
  m.node("Conv", {"r", "w3"}, {"y"}).output("y").output("r");
  Shape s1, s2, s3;
  auto a = reference_conv(x, w1, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, s1);
  auto b = reference_conv(x, w2, nullptr, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, s2);
  std::vector<float> r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = std::max(0.f, a[i] + b[i]);
  auto out = m.run();
  expect_close(out[1], s1, r);
  auto y = reference_conv(tensor_f(s1, r), w3, nullptr, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, s3);
  expect_close(out[0], s3, y);
}

// A strided convolution with bias and a residual summed before the ReLU (fused post-ops
// on a stride-2 layer; ResNet's own stride-2 layers have no residual).
TEST(OpFusedConv, StridedConvolutionWithResidualAndRelu) {
  Tensor x = tensor_f({2, 8, 9, 7}, random_floats(2 * 8 * 63, 41));
  Tensor w = tensor_f({16, 8, 3, 3}, random_floats(16 * 8 * 9, 42));
  Tensor b = tensor_f({16}, random_floats(16, 43));
  Shape s;
  auto conv = reference_conv(x, w, &b, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, s);
  Tensor r = tensor_f(s, random_floats(conv.size(), 44));
  std::vector<float> want(conv.size());
  for (std::size_t i = 0; i < conv.size(); ++i) want[i] = std::max(0.f, conv[i] + r.data<float>()[i]);
  for (int threads : {1, 2}) {
    ModelBuilder m;
    m.input("x", x).input("r", r).constant("w", w).constant("b", b);
    m.node("Conv", {"x", "w", "b"}, {"c"}, {attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1})});
    m.node("Add", {"c", "r"}, {"s"});
    m.node("Relu", {"s"}, {"y"}).output("y");
    expect_close(m.run(ExecutorOptions{threads, 2})[0], s, want);
  }
}

TEST(OpPool, MaxPool3x3Stride2Pad1OddSize) {
  Tensor x = tensor_f({1, 2, 5, 5}, random_floats(50, 20));
  auto out = run_op("MaxPool", {x},
                    {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1})});
  std::vector<float> want;
  for (int c = 0; c < 2; ++c)
    for (int oy = 0; oy < 3; ++oy)
      for (int ox = 0; ox < 3; ++ox) {
        float m = -INFINITY;
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx) {
            int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
            if (iy >= 0 && iy < 5 && ix >= 0 && ix < 5) m = std::max(m, x.data<float>()[(c * 5 + iy) * 5 + ix]);
          }
        want.push_back(m);
      }
  expect_close(out[0], {1, 2, 3, 3}, want);
}

// Max pooling of a convolution's output: the input arrives in oneDNN's nChw8c layout and
// runs through coughkit's own AVX2 loop (maxpool_avx2.h) where the CPU has AVX2. The
// convolution has no ReLU, so windows of negative values check that padding never wins.
struct MaxPoolCase {
  Shape x;  // conv input; the conv (3x3, pad 1, 16 output channels) keeps H and W
  std::vector<std::int64_t> kernel, strides, pads;
};
void PrintTo(const MaxPoolCase& c, std::ostream* os) {
  *os << "x" << ints_text(c.x) << "_k" << ints_text(c.kernel) << "_s" << ints_text(c.strides) << "_p"
      << ints_text(c.pads);
}

class OpMaxPoolBlockedTest : public ::testing::TestWithParam<MaxPoolCase> {};

TEST_P(OpMaxPoolBlockedTest, MatchesNaiveMaxOverRealPixels) {
  const MaxPoolCase& c = GetParam();
  Tensor x = tensor_f(c.x, random_floats(static_cast<std::size_t>(model::shape_numel(c.x)), 31));
  Tensor w = tensor_f({16, c.x[1], 3, 3}, random_floats(static_cast<std::size_t>(16 * c.x[1] * 9), 32));
  Shape cs;
  auto conv = reference_conv(x, w, nullptr, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, cs);
  const std::int64_t n = cs[0], ch = cs[1], h = cs[2], wd = cs[3];
  const std::int64_t oh = (h + c.pads[0] + c.pads[2] - c.kernel[0]) / c.strides[0] + 1;
  const std::int64_t ow = (wd + c.pads[1] + c.pads[3] - c.kernel[1]) / c.strides[1] + 1;
  std::vector<float> want;
  for (std::int64_t i = 0; i < n * ch; ++i)
    for (std::int64_t oy = 0; oy < oh; ++oy)
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        float m = -INFINITY;
        for (std::int64_t ky = 0; ky < c.kernel[0]; ++ky)
          for (std::int64_t kx = 0; kx < c.kernel[1]; ++kx) {
            const std::int64_t iy = oy * c.strides[0] - c.pads[0] + ky, ix = ox * c.strides[1] - c.pads[1] + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < wd)
              m = std::max(m, conv[static_cast<std::size_t>((i * h + iy) * wd + ix)]);
          }
        want.push_back(m);
      }
  for (int threads : {1, 2}) {
    ModelBuilder m;
    m.input("x", x).constant("w", w);
    m.node("Conv", {"x", "w"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1}), attr_ints("kernel_shape", {3, 3})});
    m.node("MaxPool", {"c"}, {"y"},
           {attr_ints("kernel_shape", c.kernel), attr_ints("strides", c.strides), attr_ints("pads", c.pads)})
        .output("y");
    expect_close(m.run(ExecutorOptions{threads, 0})[0], {n, ch, oh, ow}, want);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, OpMaxPoolBlockedTest,
    ::testing::Values(MaxPoolCase{{2, 3, 11, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}},  // ResNet's stem pool, odd sizes
                      MaxPoolCase{{1, 8, 8, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}},
                      MaxPoolCase{{3, 4, 7, 6}, {3, 3}, {1, 1}, {0, 1, 2, 1}},   // asymmetric pads
                      MaxPoolCase{{1, 2, 9, 10}, {5, 3}, {2, 3}, {2, 1, 1, 0}},  // rectangular kernel and strides
                      MaxPoolCase{
                          {2, 5, 1, 1}, {3, 3}, {2, 2}, {1, 1, 1, 1}}));  // 1x1 image: one real pixel per window

TEST(OpPool, AveragePoolPaddingCountedOrNot) {
  Tensor x = tensor_f({1, 1, 2, 2}, {1, 2, 3, 4});
  auto attrs = [](int include) {
    return std::vector<onnx::AttributeProto>{attr_ints("kernel_shape", {2, 2}), attr_ints("pads", {1, 1, 0, 0}),
                                             attr_i("count_include_pad", include)};
  };
  expect_close(run_op("AveragePool", {x}, attrs(0))[0], {1, 1, 2, 2}, {1, 1.5f, 2, 2.5f});
  expect_close(run_op("AveragePool", {x}, attrs(1))[0], {1, 1, 2, 2}, {0.25f, 0.75f, 1, 2.5f});
}

// Average pooling with asymmetric pads on every input layout the engine can hand oneDNN:
// plain NCHW with few channels (oneDNN's simple_nchw), plain NCHW with many (its JIT kernels
// on AVX-512 machines), and a convolution's blocked output (its JIT kernels everywhere).
// Run once per forced dispatch (tests/model/CMakeLists.txt).
struct AvgPoolCase {
  Shape x;
  bool after_conv;
  std::vector<std::int64_t> kernel, strides, pads;
};
void PrintTo(const AvgPoolCase& c, std::ostream* os) {
  *os << "x" << ints_text(c.x) << (c.after_conv ? "_blocked" : "_plain") << "_k" << ints_text(c.kernel) << "_s"
      << ints_text(c.strides) << "_p" << ints_text(c.pads);
}

class OpAveragePoolLayouts : public ::testing::TestWithParam<AvgPoolCase> {};

TEST_P(OpAveragePoolLayouts, MatchesNaiveAverageWithAndWithoutCountedPadding) {
  const AvgPoolCase& c = GetParam();
  Tensor x = tensor_f(c.x, random_floats(static_cast<std::size_t>(model::shape_numel(c.x)), 61));
  Tensor w = tensor_f({c.x[1], c.x[1], 1, 1}, random_floats(static_cast<std::size_t>(c.x[1] * c.x[1]), 62));
  std::vector<float> input = values_f(x);
  if (c.after_conv) {  // the pool's input is the 1x1 convolution's output
    Shape cs;
    input = reference_conv(x, w, nullptr, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, cs);
  }
  const std::int64_t n = c.x[0], ch = c.x[1], h = c.x[2], wd = c.x[3];
  const std::int64_t oh = (h + c.pads[0] + c.pads[2] - c.kernel[0]) / c.strides[0] + 1;
  const std::int64_t ow = (wd + c.pads[1] + c.pads[3] - c.kernel[1]) / c.strides[1] + 1;
  for (int include : {0, 1}) {
    std::vector<float> want;
    for (std::int64_t i = 0; i < n * ch; ++i)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          double sum = 0;
          int count = 0;
          for (std::int64_t ky = 0; ky < c.kernel[0]; ++ky)
            for (std::int64_t kx = 0; kx < c.kernel[1]; ++kx) {
              const std::int64_t iy = oy * c.strides[0] - c.pads[0] + ky, ix = ox * c.strides[1] - c.pads[1] + kx;
              const bool inside = iy >= 0 && iy < h && ix >= 0 && ix < wd;
              // count_include_pad counts pad cells inside the padded extent only (ONNX).
              const bool padded_cell = iy < h + c.pads[2] && ix < wd + c.pads[3];
              if (inside) sum += input[static_cast<std::size_t>((i * h + iy) * wd + ix)];
              if (inside || (include && padded_cell)) ++count;
            }
          want.push_back(static_cast<float>(sum / count));
        }
    ModelBuilder m;
    m.input("x", x);
    std::string pool_in = "x";
    if (c.after_conv) {
      m.constant("w", w);
      m.node("Conv", {"x", "w"}, {"c"}, {attr_ints("kernel_shape", {1, 1})});
      pool_in = "c";
    }
    m.node("AveragePool", {pool_in}, {"y"},
           {attr_ints("kernel_shape", c.kernel), attr_ints("strides", c.strides), attr_ints("pads", c.pads),
            attr_i("count_include_pad", include)})
        .output("y");
    std::vector<std::string> kernels;
    expect_close(m.run(ExecutorOptions{1, 0}, &kernels)[0], {n, ch, oh, ow}, want);
    for (const auto& k : kernels)
      if (k.starts_with("AveragePool"))
        std::printf("[avgpool] %s include=%d: %s\n", model::shape_str(c.x).c_str(), include, k.c_str());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, OpAveragePoolLayouts,
    ::testing::Values(AvgPoolCase{{1, 1, 2, 2}, false, {2, 2}, {1, 1}, {1, 1, 0, 0}},   // the ONNX-style small case
                      AvgPoolCase{{2, 16, 7, 9}, false, {3, 2}, {2, 1}, {1, 0, 0, 1}},  // plain, many channels
                      AvgPoolCase{{1, 32, 6, 5}, false, {2, 2}, {2, 2}, {0, 1, 1, 0}},
                      AvgPoolCase{{2, 16, 7, 9}, true, {3, 3}, {2, 2}, {1, 1, 0, 0}},  // blocked (after a conv)
                      AvgPoolCase{{1, 8, 5, 6}, true, {2, 3}, {1, 2}, {0, 2, 1, 0}}));

TEST(OpPool, GlobalAveragePool) {
  Tensor x = tensor_f({2, 3, 2, 2}, random_floats(24, 21));
  std::vector<float> want;
  for (int i = 0; i < 6; ++i)
    want.push_back((x.data<float>()[4 * i] + x.data<float>()[4 * i + 1] + x.data<float>()[4 * i + 2] +
                    x.data<float>()[4 * i + 3]) /
                   4);
  expect_close(run_op("GlobalAveragePool", {x})[0], {2, 3, 1, 1}, want);
}

TEST(OpGemm, TransposesAlphaBetaAndBroadcastC) {
  Tensor a = tensor_f({3, 2}, {1, 2, 3, 4, 5, 6});     // transA -> (2,3)
  Tensor b = tensor_f({4, 3}, random_floats(12, 22));  // transB -> (3,4)
  Tensor c = tensor_f({4}, {1, 2, 3, 4});
  auto out =
      run_op("Gemm", {a, b, c}, {attr_i("transA", 1), attr_i("transB", 1), attr_f("alpha", 0.5f), attr_f("beta", 2.f)});
  std::vector<float> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      double acc = 0;
      for (int k = 0; k < 3; ++k) acc += a.data<float>()[k * 2 + i] * b.data<float>()[j * 3 + k];
      want.push_back(static_cast<float>(0.5 * acc + 2.0 * c.data<float>()[j]));
    }
  expect_close(out[0], {2, 4}, want);
}

TEST(OpGemm, MatMul3DTimes2D) {
  Tensor a = tensor_f({2, 2, 3}, random_floats(12, 23)), b = tensor_f({3, 2}, random_floats(6, 24));
  std::vector<float> want;
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 2; ++j) {
      double acc = 0;
      for (int k = 0; k < 3; ++k) acc += a.data<float>()[r * 3 + k] * b.data<float>()[k * 2 + j];
      want.push_back(static_cast<float>(acc));
    }
  expect_close(run_op("MatMul", {a, b})[0], {2, 2, 2}, want);
}

TEST(OpGemm, MismatchedInnerDimensionIsInputError) {
  EXPECT_THROW(run_op("Gemm", {tensor_f({2, 3}, random_floats(6, 1)), tensor_f({2, 2}, random_floats(4, 2))}),
               InputError);
}

// ---- plain C++ ops -----------------------------------------------------------------------

TEST(OpElementwise, UnaryFunctions) {
  Tensor x = tensor_f({5}, {-2.f, -0.5f, 0.f, 0.5f, 3.f});
  auto each = [&](const char* op, float (*f)(float)) {
    std::vector<float> want;
    for (float v : values_f(x)) want.push_back(f(v));
    expect_close(run_op(op, {x})[0], {5}, want);
  };
  each("Relu", [](float v) { return std::max(v, 0.f); });
  each("Tanh", [](float v) { return std::tanh(v); });
  each("Sigmoid", [](float v) { return 1.f / (1.f + std::exp(-v)); });
  each("Neg", [](float v) { return -v; });
  each("Abs", [](float v) { return std::fabs(v); });
  each("Exp", [](float v) { return std::exp(v); });
}

TEST(OpElementwise, SigmoidSaturatesWithoutNaN) {
  expect_close(run_op("Sigmoid", {tensor_f({2}, {-1000.f, 1000.f})})[0], {2}, {0.f, 1.f});
}

TEST(OpElementwise, BinaryBroadcasting) {
  Tensor a = tensor_f({2, 1, 3}, {1, 2, 3, 4, 5, 6}), b = tensor_f({2, 1}, {10, 20});
  expect_close(run_op("Add", {a, b})[0], {2, 2, 3}, {11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26});
  expect_close(run_op("Sub", {a, b})[0], {2, 2, 3}, {-9, -8, -7, -19, -18, -17, -6, -5, -4, -16, -15, -14});
  expect_close(run_op("Mul", {b, a})[0], {2, 2, 3}, {10, 20, 30, 20, 40, 60, 40, 50, 60, 80, 100, 120});
  expect_close(run_op("Div", {a, tensor_f({}, {2.f})})[0], {2, 1, 3}, {0.5f, 1, 1.5f, 2, 2.5f, 3});
  EXPECT_EQ(values_i(run_op("Mul", {tensor_i({2}, {3, -4}), tensor_i({}, {5})})[0]),
            (std::vector<std::int64_t>{15, -20}));
  EXPECT_THROW(run_op("Add", {tensor_f({2}, {1, 2}), tensor_f({3}, {1, 2, 3})}), InputError);
}

TEST(OpElementwise, EqualNotWhere) {
  auto eq = run_op("Equal", {tensor_i({3}, {1, 2, 3}), tensor_i({1}, {2})})[0];
  ASSERT_EQ(eq.dtype, DType::Bool);
  EXPECT_EQ(std::vector<bool>(eq.data<bool>(), eq.data<bool>() + 3), (std::vector<bool>{false, true, false}));
  auto n = run_op("Not", {eq})[0];
  EXPECT_EQ(std::vector<bool>(n.data<bool>(), n.data<bool>() + 3), (std::vector<bool>{true, false, true}));
  // The attention mask: masked scores become float32 lowest.
  float lowest = -3.4028234663852886e38f;
  auto w = run_op("Where", {tensor_b({2, 2}, {true, false, true, true}), tensor_f({2, 2}, {1, 2, 3, 4}),
                            tensor_f({}, {lowest})})[0];
  expect_close(w, {2, 2}, {1, lowest, 3, 4});
}

TEST(OpSoftmax, AxisSemanticsBeforeAndAfterOpset13) {
  Tensor x = tensor_f({2, 2, 2}, {0, 1, 2, 3, 0, 0, 0, 0});
  // opset 13: along axis 1 only.
  float e = 1.f / (1.f + std::exp(2.f));
  expect_close(run_op("Softmax", {x}, {attr_i("axis", 1)}, 13)[0], {2, 2, 2},
               {e, e, 1 - e, 1 - e, 0.5f, 0.5f, 0.5f, 0.5f});
  // opset 11: coerced to 2-D at axis 1, so each batch row of 4 is normalised together.
  double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expect_close(run_op("Softmax", {x}, {attr_i("axis", 1)}, 11)[0], {2, 2, 2},
               {static_cast<float>(1 / z), static_cast<float>(std::exp(1.0) / z), static_cast<float>(std::exp(2.0) / z),
                static_cast<float>(std::exp(3.0) / z), 0.25f, 0.25f, 0.25f, 0.25f});
}

TEST(OpSoftmax, AllMaskedRowIsUniformLikeTorch) {
  float lowest = -3.4028234663852886e38f;
  expect_close(run_op("Softmax", {tensor_f({1, 3}, {lowest, lowest, lowest})}, {attr_i("axis", 1)})[0], {1, 3},
               {1 / 3.f, 1 / 3.f, 1 / 3.f});
  expect_close(run_op("Softmax", {tensor_f({1, 3}, {lowest, 2.f, lowest})}, {attr_i("axis", 1)})[0], {1, 3}, {0, 1, 0});
}

TEST(OpSoftmax, AxisOutOfRangeNamesTheNode) {
  try {
    run_op("Softmax", {tensor_f({2}, {1, 2})}, {attr_i("axis", 3)});
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("test_Softmax_0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
}

TEST(OpReduce, SumWithAxesAttributeAndInput) {
  Tensor x = tensor_f({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_close(run_op("ReduceSum", {x}, {attr_ints("axes", {1}), attr_i("keepdims", 0)}, 11)[0], {2}, {6, 15});
  expect_close(run_op("ReduceSum", {x, tensor_i({1}, {0})}, {attr_i("keepdims", 1)}, 13)[0], {1, 3}, {5, 7, 9});
  expect_close(run_op("ReduceSum", {x}, {attr_i("keepdims", 0)}, 13)[0], {}, {21});
  expect_close(run_op("ReduceSum", {x, tensor_i({1}, {-1})}, {}, 17)[0], {2, 1}, {6, 15});
  expect_close(run_op("ReduceMean", {x}, {attr_ints("axes", {0, 1}), attr_i("keepdims", 0)}, 14)[0], {}, {3.5f});
}

TEST(OpShape, ShapeGatherConcatReshape) {
  Tensor x = tensor_f({2, 3, 4}, random_floats(24, 30));
  EXPECT_EQ(values_i(run_op("Shape", {x})[0]), (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(values_i(run_op("Shape", {x}, {attr_i("start", 1), attr_i("end", -1)}, 15)[0]),
            (std::vector<std::int64_t>{3}));
  auto g = run_op("Gather", {tensor_i({3}, {2, 3, 4}), tensor_i({}, {-1})}, {attr_i("axis", 0)})[0];
  EXPECT_TRUE(g.shape.empty());
  EXPECT_EQ(values_i(g), (std::vector<std::int64_t>{4}));
  auto g2 = run_op("Gather", {x, tensor_i({2}, {2, 0})}, {attr_i("axis", 1)})[0];
  ASSERT_EQ(g2.shape, (Shape{2, 2, 4}));
  EXPECT_EQ(g2.data<float>()[0], x.data<float>()[8]);
  EXPECT_EQ(g2.data<float>()[4], x.data<float>()[0]);
  EXPECT_THROW(run_op("Gather", {x, tensor_i({1}, {3})}, {attr_i("axis", 1)}), InputError);
  auto cat = run_op("Concat", {tensor_i({1}, {6}), tensor_i({2}, {-1, 2})}, {attr_i("axis", 0)})[0];
  EXPECT_EQ(values_i(cat), (std::vector<std::int64_t>{6, -1, 2}));
  auto r = run_op("Reshape", {x, tensor_i({3}, {0, -1, 2})})[0];
  EXPECT_EQ(r.shape, (Shape{2, 6, 2}));
  auto z = run_op("Reshape", {tensor_f({0, 3}, {}), tensor_i({2}, {3, 0})}, {attr_i("allowzero", 1)})[0];
  EXPECT_EQ(z.shape, (Shape{3, 0}));
  EXPECT_THROW(run_op("Reshape", {x, tensor_i({2}, {5, -1})}), InputError);
}

TEST(OpShape, UnsqueezeSqueezeFlattenBothOpsetForms) {
  Tensor x = tensor_f({3, 1, 2}, random_floats(6, 31));
  EXPECT_EQ(run_op("Unsqueeze", {x}, {attr_ints("axes", {0, -1})}, 11)[0].shape, (Shape{1, 3, 1, 2, 1}));
  EXPECT_EQ(run_op("Unsqueeze", {x, tensor_i({1}, {-1})}, {}, 13)[0].shape, (Shape{3, 1, 2, 1}));
  EXPECT_EQ(run_op("Squeeze", {x}, {attr_ints("axes", {1})}, 11)[0].shape, (Shape{3, 2}));
  EXPECT_EQ(run_op("Squeeze", {x, tensor_i({1}, {-2})}, {}, 13)[0].shape, (Shape{3, 2}));
  EXPECT_EQ(run_op("Squeeze", {x}, {}, 13)[0].shape, (Shape{3, 2}));
  EXPECT_THROW(run_op("Squeeze", {x, tensor_i({1}, {0})}, {}, 13), InputError);
  EXPECT_EQ(run_op("Flatten", {x}, {attr_i("axis", 0)})[0].shape, (Shape{1, 6}));
  EXPECT_EQ(run_op("Flatten", {x}, {attr_i("axis", 2)})[0].shape, (Shape{3, 2}));
  EXPECT_EQ(run_op("Flatten", {x})[0].shape, (Shape{3, 2}));
}

TEST(OpShape, TransposeSliceExpandConstantOfShape) {
  Tensor x = tensor_f({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_close(run_op("Transpose", {x})[0], {3, 2}, {1, 4, 2, 5, 3, 6});
  expect_close(
      run_op("Slice", {x, tensor_i({1}, {-1}), tensor_i({1}, {-100}), tensor_i({1}, {1}), tensor_i({1}, {-2})})[0],
      {2, 2}, {3, 1, 6, 4});
  expect_close(run_op("Slice", {x, tensor_i({2}, {1, 1}), tensor_i({2}, {100, 3})})[0], {1, 2}, {5, 6});
  expect_close(run_op("Expand", {tensor_f({2, 1}, {1, 2}), tensor_i({3}, {2, 1, 3})})[0], {2, 2, 3},
               {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2});
  auto c = run_op("ConstantOfShape", {tensor_i({2}, {2, 2})}, {attr_t("value", tensor_i({1}, {7}))})[0];
  EXPECT_EQ(values_i(c), (std::vector<std::int64_t>{7, 7, 7, 7}));
  expect_close(run_op("ConstantOfShape", {tensor_i({1}, {3})})[0], {3}, {0, 0, 0});
}

TEST(OpCast, Float16WeightsWidenExactly) {
  // 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), +inf
  auto y = run_op("Cast", {tensor_h({6}, {0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00})}, {attr_i("to", 1)})[0];
  auto v = values_f(y);
  EXPECT_EQ(v[0], 1.f);
  EXPECT_EQ(v[1], -2.f);
  EXPECT_EQ(v[2], 65504.f);
  EXPECT_EQ(v[3], std::ldexp(1.f, -24));
  EXPECT_EQ(v[4], std::ldexp(1.f, -14));
  EXPECT_TRUE(std::isinf(v[5]));
  EXPECT_EQ(values_i(run_op("Cast", {tensor_f({3}, {-1.7f, 0.2f, 3.9f})}, {attr_i("to", 7)})[0]),
            (std::vector<std::int64_t>{-1, 0, 3}));
  auto b = run_op("Cast", {tensor_f({2}, {0.f, -3.f})}, {attr_i("to", 9)})[0];
  EXPECT_EQ(b.dtype, DType::Bool);
  EXPECT_FALSE(b.data<bool>()[0]);
  EXPECT_TRUE(b.data<bool>()[1]);
}

TEST(OpMisc, BatchNormalizationOnVectors) {
  Tensor x = tensor_f({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor sc = tensor_f({3}, {1, 2, 0.5f}), sh = tensor_f({3}, {0, 1, -1}), mu = tensor_f({3}, {1, 1, 1});
  Tensor var = tensor_f({3}, {4, 1, 0.25f});
  auto y = run_op("BatchNormalization", {x, sc, sh, mu, var}, {attr_f("epsilon", 0.f)})[0];
  expect_close(y, {2, 3}, {0, 3, 1, 1.5f, 9, 4});
}

TEST(OpMisc, IdentityDropoutConstant) {
  Tensor x = tensor_f({2}, {1, 2});
  expect_close(run_op("Identity", {x})[0], {2}, {1, 2});
  auto d = run_op("Dropout", {x}, {attr_f("ratio", 0.3f)}, 11, 2);
  expect_close(d[0], {2}, {1, 2});
  EXPECT_TRUE(d[1].data<bool>()[0]);
  ModelBuilder m;
  m.node("Constant", {}, {"c"}, {attr_t("value", tensor_f({2}, {3, 4}))}).output("c");
  expect_close(m.run()[0], {2}, {3, 4});
}

// ---- load-time rejections ---------------------------------------------------------------

void expect_load_error(const ModelBuilder& m, const std::vector<std::string>& parts) {
  try {
    m.run();
    FAIL() << "loaded";
  } catch (const InputError& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(OpLoadErrors, UnsupportedOperatorAttributeAndOpset) {
  Tensor x = tensor_f({1, 1, 4, 4}, random_floats(16, 40));
  expect_load_error(ModelBuilder().input("x", x).node("Erf", {"x"}, {"y"}).output("y"),
                    {"test-model", "unsupported operator 'Erf'", "test_Erf_0"});
  expect_load_error(ModelBuilder().input("x", x).node("Relu", {"x"}, {"y"}, {attr_i("alpha", 1)}).output("y"),
                    {"attribute 'alpha' is not supported", "test_Relu_0", "(Relu)"});
  expect_load_error(
      ModelBuilder()
          .input("x", x)
          .node("MaxPool", {"x"}, {"y"}, {attr_ints("kernel_shape", {2, 2}), attr_s("auto_pad", "SAME_UPPER")})
          .output("y"),
      {"auto_pad=SAME_UPPER"});
  expect_load_error(ModelBuilder()
                        .input("x", x)
                        .node("MaxPool", {"x"}, {"y", "idx"}, {attr_ints("kernel_shape", {2, 2})})
                        .output("y"),
                    {"2 outputs"});
  expect_load_error(ModelBuilder(9).input("x", x).node("Relu", {"x"}, {"y"}).output("y"), {"opset 9 is not supported"});
  expect_load_error(ModelBuilder().input("x", x).node("Relu", {"nope"}, {"y"}).output("y"), {"'nope'"});
  expect_load_error(ModelBuilder().input("x", x).node("Cast", {"x"}, {"y"}, {attr_i("to", 11)}).output("y"),
                    {"Cast to ONNX type 11"});
  expect_load_error(
      ModelBuilder().input("x", x).node("Conv", {"x", "x"}, {"y"}, {attr_ints("kernel_shape", {4, 4})}).output("y"),
      {"weights must be constant"});
}

// The kernel paths a ResNet block takes under the dispatch this process was started with
// (tests/model/CMakeLists.txt runs this suite once per forced configuration): coughkit's own
// AVX2 Winograd and max pool exactly when they are enabled, oneDNN never above its cap.
TEST(OpDispatch, ForcedKernelPathsAreTheOnesTaken) {
  Tensor x = tensor_f({1, 8, 10, 10}, random_floats(800, 51));
  Tensor w = tensor_f({8, 8, 3, 3}, random_floats(576, 52));
  ModelBuilder m;
  m.input("x", x).constant("w", w);
  m.node("Conv", {"x", "w"}, {"c"}, {attr_ints("pads", {1, 1, 1, 1}), attr_ints("kernel_shape", {3, 3})});
  m.node("Conv", {"c", "w"}, {"d"}, {attr_ints("pads", {1, 1, 1, 1}), attr_ints("kernel_shape", {3, 3})});
  m.node("MaxPool", {"d"}, {"y"},
         {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1})})
      .output("y");
  std::vector<std::string> kernels;
  const auto y = m.run(ExecutorOptions{1, 2}, &kernels)[0];
  EXPECT_EQ(y.shape, (Shape{1, 8, 5, 5}));
  std::string joined;
  for (const auto& k : kernels) joined += k + "; ";
  const std::string isa = model::onednn_isa();
  std::printf("[dispatch] onednn=%s own_avx2_kernels=%s: %s\n", isa.c_str(),
              model::own_avx2_kernels_enabled() ? "on" : "off", joined.c_str());
  const bool own = model::own_avx2_kernels_enabled();
  EXPECT_EQ(joined.find("own_winograd_f2x3_avx2") != std::string::npos, own) << joined;
  EXPECT_EQ(joined.find("own_maxpool_avx2") != std::string::npos, own) << joined;
  for (const auto& k : kernels) {
    if (k.find("own_") != std::string::npos) continue;  // oneDNN's choices only
    if (!isa.starts_with("avx512")) EXPECT_EQ(k.find("avx512"), std::string::npos) << k;
    if (isa == "sse41") EXPECT_EQ(k.find("avx"), std::string::npos) << k;
  }
}

}  // namespace
}  // namespace coughkit::testing
