// The integer operators of ONNX Runtime's dynamically quantised files (model/quantized_ops.h),
// each alone: DynamicQuantizeLinear against ONNX's formula with ONNX Runtime's rules for the
// edge cases, ConvInteger and MatMulInteger against naive int64 references (exact: integer
// arithmetic has no tolerance), and the errors for inputs they cannot take.
#include <cmath>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "common/error.h"
#include "model/quantized_ops.h"
#include "model_builder.h"

namespace coughkit::testing {
namespace {

template <class T>
Tensor tensor_8bit(Shape shape, const std::vector<int>& values) {
  const DType type = std::is_same_v<T, std::uint8_t> ? DType::UInt8 : DType::Int8;
  Tensor t = Tensor::allocate(type, std::move(shape));
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = static_cast<T>(values[i]);
  return t;
}
Tensor u8(Shape shape, const std::vector<int>& v) { return tensor_8bit<std::uint8_t>(std::move(shape), v); }
Tensor s8(Shape shape, const std::vector<int>& v) { return tensor_8bit<std::int8_t>(std::move(shape), v); }

// Deterministic integers in [lo, hi].
std::vector<int> random_ints(std::size_t n, int lo, int hi, std::uint32_t seed) {
  std::vector<int> out(n);
  std::uint32_t s = seed * 2654435761u + 1;
  for (auto& v : out) {
    s = s * 1664525u + 1013904223u;
    v = lo + static_cast<int>((s >> 8) % static_cast<std::uint32_t>(hi - lo + 1));
  }
  return out;
}

int value_at(const Tensor& t, std::int64_t i) {
  return t.dtype == DType::UInt8 ? t.data<std::uint8_t>()[i] : t.data<std::int8_t>()[i];
}

std::vector<std::int32_t> values_i32(const Tensor& t) {
  EXPECT_EQ(t.dtype, DType::Int32);
  return {t.data<std::int32_t>(), t.data<std::int32_t>() + t.numel()};
}

// ---- DynamicQuantizeLinear -----------------------------------------------------------------

struct Quantised {
  std::vector<int> y;
  float scale;
  int zero_point;
};
Quantised dynamic_quantize(const std::vector<float>& x) {
  auto out = run_op("DynamicQuantizeLinear", {tensor_f({static_cast<std::int64_t>(x.size())}, x)}, {}, 17, 3);
  EXPECT_EQ(out[0].dtype, DType::UInt8);
  EXPECT_EQ(out[1].dtype, DType::Float);
  EXPECT_EQ(out[2].dtype, DType::UInt8);
  EXPECT_TRUE(out[1].shape.empty() && out[2].shape.empty()) << "scale and zero point are scalars";
  Quantised q{{}, *out[1].data<float>(), *out[2].data<std::uint8_t>()};
  for (std::int64_t i = 0; i < out[0].numel(); ++i) q.y.push_back(out[0].data<std::uint8_t>()[i]);
  return q;
}

TEST(OpDynamicQuantizeLinear, MatchesOnnxFormula) {
  const std::vector<float> x = random_floats(1000, 7);
  const Quantised q = dynamic_quantize(x);
  float lo = 0, hi = 0;
  for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  const float scale = (hi - lo) / 255.f;
  EXPECT_EQ(q.scale, scale);
  EXPECT_EQ(q.zero_point, static_cast<int>(std::nearbyint(std::clamp(-lo / scale, 0.f, 255.f))));
  for (std::size_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(q.y[i], std::clamp(std::nearbyint(x[i] / scale) + q.zero_point, 0.f, 255.f)) << i;
}

TEST(OpDynamicQuantizeLinear, ZeroPointAtTheEndsOfItsRange) {
  // Ranges of 255 give a scale of exactly 1, so the expected values are plain integers.
  const Quantised positive = dynamic_quantize({0.5f, 100.5f, 255.f});  // range widened to [0, 255]
  EXPECT_EQ(positive.scale, 1.f);
  EXPECT_EQ(positive.zero_point, 0);
  EXPECT_EQ(positive.y, (std::vector<int>{0, 100, 255}));  // halves to even
  const Quantised negative = dynamic_quantize({-255.f, -100.5f, -0.5f});
  EXPECT_EQ(negative.zero_point, 255);
  EXPECT_EQ(negative.y, (std::vector<int>{0, 155, 255}));
}

TEST(OpDynamicQuantizeLinear, AllZeroInputHasScaleOneAsOnnxRuntime) {
  const Quantised q = dynamic_quantize({0.f, 0.f, 0.f, 0.f});
  EXPECT_EQ(q.scale, 1.f);
  EXPECT_EQ(q.zero_point, 0);
  EXPECT_EQ(q.y, (std::vector<int>{0, 0, 0, 0}));
}

TEST(OpDynamicQuantizeLinear, RoundsHalfToEven) {
  // Scale 1: zero points 127.5 -> 128 and 126.5 -> 126 (rounding half away from zero gives 127).
  EXPECT_EQ(model::dynamic_quantization(-127.5f, 127.5f).zero_point, 128);
  EXPECT_EQ(model::dynamic_quantization(-126.5f, 128.5f).zero_point, 126);
  EXPECT_EQ(model::quantize_to_uint8(2.5f, 1.f, 0), 2);
  EXPECT_EQ(model::quantize_to_uint8(3.5f, 1.f, 0), 4);
  EXPECT_EQ(model::quantize_to_uint8(-0.5f, 1.f, 10), 10);
  EXPECT_EQ(model::quantize_to_uint8(1e9f, 1.f, 0), 255);
  EXPECT_EQ(model::quantize_to_uint8(-1e9f, 1.f, 200), 0);
}

TEST(OpDynamicQuantizeLinear, NanTakesNoPartAndMapsToTheZeroPoint) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Quantised q = dynamic_quantize({-1.f, nan, 1.f});
  const Quantised without = dynamic_quantize({-1.f, 1.f});
  EXPECT_EQ(q.scale, without.scale);
  EXPECT_EQ(q.zero_point, without.zero_point);
  EXPECT_EQ(q.y[1], q.zero_point);
}

// ---- ConvInteger ------------------------------------------------------------------------

struct IntConvCase {
  Shape x, w;
  std::vector<std::int64_t> strides, pads, dilations;
  std::int64_t group;
  bool x_signed, w_signed;
  bool per_channel_w_zero;
};
void PrintTo(const IntConvCase& c, std::ostream* os) {
  auto text = [](const std::vector<std::int64_t>& v) {
    std::string s;
    for (auto d : v) s += (s.empty() ? "" : "x") + std::to_string(d);
    return s;
  };
  *os << "x" << text(c.x) << "_w" << text(c.w) << "_s" << text(c.strides) << "_p" << text(c.pads) << "_d"
      << text(c.dilations) << "_g" << c.group << (c.x_signed ? "_xs8" : "_xu8") << (c.w_signed ? "_ws8" : "_wu8")
      << (c.per_channel_w_zero ? "_perchannel" : "");
}

class OpConvIntegerTest : public ::testing::TestWithParam<IntConvCase> {};

TEST_P(OpConvIntegerTest, MatchesNaiveIntegerConvolution) {
  const IntConvCase& c = GetParam();
  const auto numel = [](const Shape& s) { return static_cast<std::size_t>(model::shape_numel(s)); };
  const int x_lo = c.x_signed ? -128 : 0, x_hi = c.x_signed ? 127 : 255;
  const int w_lo = c.w_signed ? -128 : 0, w_hi = c.w_signed ? 127 : 255;
  Tensor x =
      c.x_signed ? s8(c.x, random_ints(numel(c.x), x_lo, x_hi, 1)) : u8(c.x, random_ints(numel(c.x), x_lo, x_hi, 1));
  Tensor w =
      c.w_signed ? s8(c.w, random_ints(numel(c.w), w_lo, w_hi, 2)) : u8(c.w, random_ints(numel(c.w), w_lo, w_hi, 2));
  // Zero points at the ends of their ranges and in between.
  const int x_zero = x_hi;
  Tensor x_zp = c.x_signed ? s8({}, {x_zero}) : u8({}, {x_zero});
  std::vector<int> w_zero(static_cast<std::size_t>(c.w[0]), w_lo);
  if (c.per_channel_w_zero) w_zero = random_ints(w_zero.size(), w_lo, w_hi, 3);
  Tensor w_zp = c.per_channel_w_zero ? (c.w_signed ? s8({c.w[0]}, w_zero) : u8({c.w[0]}, w_zero))
                                     : (c.w_signed ? s8({}, {w_lo}) : u8({}, {w_lo}));

  const std::int64_t n = c.x[0], ch = c.x[1], h = c.x[2], wd = c.x[3], m = c.w[0], cg = c.w[1], kh = c.w[2],
                     kw = c.w[3];
  const std::int64_t oh = (h + c.pads[0] + c.pads[2] - (c.dilations[0] * (kh - 1) + 1)) / c.strides[0] + 1;
  const std::int64_t ow = (wd + c.pads[1] + c.pads[3] - (c.dilations[1] * (kw - 1) + 1)) / c.strides[1] + 1;
  std::vector<std::int32_t> want;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t o = 0; o < m; ++o)
      for (std::int64_t yy = 0; yy < oh; ++yy)
        for (std::int64_t xx = 0; xx < ow; ++xx) {
          std::int64_t sum = 0;
          const std::int64_t g = o / (m / c.group);
          for (std::int64_t ci = 0; ci < cg; ++ci)
            for (std::int64_t i = 0; i < kh; ++i)
              for (std::int64_t j = 0; j < kw; ++j) {
                const std::int64_t iy = yy * c.strides[0] - c.pads[0] + i * c.dilations[0];
                const std::int64_t ix = xx * c.strides[1] - c.pads[1] + j * c.dilations[1];
                const std::int64_t xv = iy < 0 || iy >= h || ix < 0 || ix >= wd
                                            ? x_zero  // padding holds the zero point
                                            : value_at(x, ((b * ch + g * cg + ci) * h + iy) * wd + ix);
                const std::int64_t wv = value_at(w, ((o * cg + ci) * kh + i) * kw + j);
                sum += (xv - x_zero) * (wv - w_zero[static_cast<std::size_t>(o)]);
              }
          want.push_back(static_cast<std::int32_t>(sum));
        }
  auto out = run_op("ConvInteger", {x, w, x_zp, w_zp},
                    {attr_ints("strides", c.strides), attr_ints("pads", c.pads), attr_ints("dilations", c.dilations),
                     attr_i("group", c.group), attr_ints("kernel_shape", {kh, kw})});
  EXPECT_EQ(model::shape_str(out[0].shape), model::shape_str({n, m, oh, ow}));
  EXPECT_EQ(values_i32(out[0]), want);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, OpConvIntegerTest,
    ::testing::Values(IntConvCase{{2, 8, 9, 9}, {16, 8, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, false, false, false},
                      IntConvCase{{1, 3, 23, 19}, {8, 3, 7, 7}, {2, 2}, {3, 3, 3, 3}, {1, 1}, 1, false, true, false},
                      IntConvCase{{1, 5, 6, 7}, {3, 5, 3, 3}, {1, 1}, {0, 1, 2, 0}, {1, 1}, 1, true, true, true},
                      IntConvCase{{1, 8, 10, 10}, {8, 2, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4, false, false, true},
                      IntConvCase{{1, 4, 11, 11}, {4, 4, 3, 3}, {1, 2}, {2, 2, 2, 2}, {2, 2}, 1, true, false, false},
                      IntConvCase{{3, 16, 8, 8}, {32, 16, 1, 1}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, false, true, true}));

TEST(OpConvInteger, WithoutZeroPointsAndAllZeroActivations) {
  Tensor x = u8({1, 2, 3, 3}, std::vector<int>(18, 0));
  Tensor w = s8({1, 2, 2, 2}, {1, -2, 3, -4, 5, -6, 7, -8});
  auto out = run_op("ConvInteger", {x, w});
  EXPECT_EQ(values_i32(out[0]), (std::vector<std::int32_t>{0, 0, 0, 0}));
  Tensor ones = u8({1, 2, 3, 3}, std::vector<int>(18, 1));
  out = run_op("ConvInteger", {ones, w});
  EXPECT_EQ(values_i32(out[0]), (std::vector<std::int32_t>{-4, -4, -4, -4}));
}

TEST(OpConvInteger, LargestSumsStayExact) {
  // 512 channels x 3 x 3 of (255 - 0) * (0 - 255): -299 628 800, past float's 2^24.
  Tensor x = u8({1, 512, 3, 3}, std::vector<int>(512 * 9, 255));
  Tensor w = u8({1, 512, 3, 3}, std::vector<int>(512 * 9, 0));
  auto out = run_op("ConvInteger", {x, w, u8({}, {0}), u8({}, {255})});
  EXPECT_EQ(values_i32(out[0]), (std::vector<std::int32_t>{-299635200}));
}

TEST(OpConvInteger, RefusesWhatItCannotTake) {
  Tensor x = u8({1, 1, 3, 3}, std::vector<int>(9, 1));
  Tensor w = u8({1, 1, 2, 2}, std::vector<int>(4, 1));
  EXPECT_THROW(run_op("ConvInteger", {tensor_f({1, 1, 3, 3}, std::vector<float>(9, 1.f)), w}), InputError);
  EXPECT_THROW(run_op("ConvInteger", {x, w, s8({}, {0})}), InputError);                   // zero point of another type
  EXPECT_THROW(run_op("ConvInteger", {x, w, u8({}, {0}), u8({2}, {0, 0})}), InputError);  // 2 zero points, 1 channel
  EXPECT_THROW(run_op("ConvInteger", {x, u8({1, 2, 2, 2}, std::vector<int>(8, 1))}), InputError);  // channels
  EXPECT_THROW(run_op("ConvInteger", {x, w}, {attr_s("auto_pad", "SAME_UPPER")}), InputError);
}

// ---- MatMulInteger ----------------------------------------------------------------------

TEST(OpMatMulInteger, BatchBroadcastPerRowAndPerColumnZeroPoints) {
  const std::int64_t batch = 3, m = 4, k = 37, n = 5;
  Tensor a = u8({batch, m, k}, random_ints(batch * m * k, 0, 255, 4));
  Tensor b = s8({k, n}, random_ints(k * n, -128, 127, 5));
  const std::vector<int> a_zero = {0, 255, 17, 128}, b_zero = {-128, 127, 0, 5, -3};
  auto out = run_op("MatMulInteger", {a, b, u8({m}, a_zero), s8({n}, b_zero)});
  EXPECT_EQ(model::shape_str(out[0].shape), model::shape_str({batch, m, n}));
  std::vector<std::int32_t> want;
  for (std::int64_t q = 0; q < batch; ++q)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        std::int64_t sum = 0;
        for (std::int64_t p = 0; p < k; ++p)
          sum += (value_at(a, (q * m + i) * k + p) - a_zero[static_cast<std::size_t>(i)]) *
                 (value_at(b, p * n + j) - b_zero[static_cast<std::size_t>(j)]);
        want.push_back(static_cast<std::int32_t>(sum));
      }
  EXPECT_EQ(values_i32(out[0]), want);
}

TEST(OpMatMulInteger, VectorOperandsAndBroadcastBatches) {
  // (2, 1, 1, 3) x (1, 2, 3, 2) -> (2, 2, 1, 2); and a 1-D A: (3) x (3, 2) -> (2).
  Tensor a = u8({2, 1, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = u8({1, 2, 3, 2}, {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2});
  auto out = run_op("MatMulInteger", {a, b});
  EXPECT_EQ(model::shape_str(out[0].shape), model::shape_str({2, 2, 1, 2}));
  EXPECT_EQ(values_i32(out[0]), (std::vector<std::int32_t>{4, 5, 8, 10, 10, 11, 20, 22}));
  out = run_op("MatMulInteger", {u8({3}, {1, 2, 3}), u8({3, 2}, {1, 0, 0, 1, 1, 1}), u8({}, {1})});
  EXPECT_EQ(model::shape_str(out[0].shape), model::shape_str({2}));
  EXPECT_EQ(values_i32(out[0]), (std::vector<std::int32_t>{2, 3}));
}

TEST(OpMatMulInteger, RefusesWhatItCannotTake) {
  Tensor a = u8({2, 3}, std::vector<int>(6, 1));
  EXPECT_THROW(run_op("MatMulInteger", {a, u8({2, 3}, std::vector<int>(6, 1))}), InputError);  // inner dims
  EXPECT_THROW(run_op("MatMulInteger", {a, u8({3, 2}, std::vector<int>(6, 1)), u8({3}, {0, 0, 0})}), InputError);
  EXPECT_THROW(run_op("MatMulInteger", {a, tensor_f({3, 2}, std::vector<float>(6, 1.f))}), InputError);
}

// A quantised layer as ONNX Runtime writes it: DynamicQuantizeLinear -> MatMulInteger ->
// Cast -> Mul by both scales -> Add bias, against the float product it approximates.
TEST(OpQuantisedGraph, DynamicQuantisedMatMulApproximatesTheFloatProduct) {
  const std::int64_t m = 6, k = 64, n = 8;
  const std::vector<float> af = random_floats(m * k, 11), wf = random_floats(k * n, 12), bias = random_floats(n, 13);
  // Weights quantised as the quantiser does (uint8, asymmetric, per tensor).
  float lo = 0, hi = 0;
  for (float v : wf) lo = std::min(lo, v), hi = std::max(hi, v);
  const model::DynamicQuantization wq = model::dynamic_quantization(lo, hi);
  std::vector<int> w8;
  for (float v : wf) w8.push_back(model::quantize_to_uint8(v, wq.scale, wq.zero_point));
  ModelBuilder g;
  g.input("a", tensor_f({m, k}, af))
      .constant("w", u8({k, n}, w8))
      .constant("w_scale", tensor_f({}, {wq.scale}))
      .constant("w_zero", u8({}, {wq.zero_point}))
      .constant("bias", tensor_f({n}, bias))
      .node("DynamicQuantizeLinear", {"a"}, {"a_q", "a_scale", "a_zero"})
      .node("MatMulInteger", {"a_q", "w", "a_zero", "w_zero"}, {"sum"})
      .node("Cast", {"sum"}, {"sum_f"}, {attr_i("to", 1)})
      .node("Mul", {"a_scale", "w_scale"}, {"scale"})
      .node("Mul", {"sum_f", "scale"}, {"product"})
      .node("Add", {"product", "bias"}, {"y"})
      .output("y");
  const auto out = g.run();
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double want = bias[static_cast<std::size_t>(j)], bound = 1e-5;
      for (std::int64_t p = 0; p < k; ++p) {
        const double av = af[i * k + p], wv = wf[p * n + j];
        want += av * wv;
        // Each operand is off by at most half its step.
        bound += (std::abs(av) * wq.scale + std::abs(wv) * 2.0 / 255 + wq.scale * 2.0 / 255 / 2) / 2;
      }
      EXPECT_NEAR(out[0].data<float>()[i * n + j], want, bound) << i << "," << j;
    }
}

}  // namespace
}  // namespace coughkit::testing
