#include "model/quantized_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "common/error.h"
#include "model/op_inputs.h"
#include "model/window_geometry.h"

namespace coughkit::model {
namespace {

using op_inputs::fail;
using op_inputs::in;
using op_inputs::optional_in;

bool is_8bit(DType t) { return t == DType::UInt8 || t == DType::Int8; }

void require_8bit(const Tensor& t, const char* what) {
  if (!is_8bit(t.dtype)) fail(std::string(what) + " must be uint8 or int8, got " + dtype_name(t.dtype));
}

// Element i of an 8-bit tensor as an integer.
std::int32_t int_at(const Tensor& t, std::int64_t i) {
  return t.dtype == DType::UInt8 ? static_cast<std::int32_t>(t.data<std::uint8_t>()[i])
                                 : static_cast<std::int32_t>(t.data<std::int8_t>()[i]);
}

// Zero points: none (0), one for all, or one per channel/row/column (`per` of them).
std::vector<std::int32_t> zero_points(const Tensor* zp, const Tensor& data, std::int64_t per, const char* what,
                                      const char* per_what) {
  if (!zp) return std::vector<std::int32_t>(static_cast<std::size_t>(per), 0);
  if (zp->dtype != data.dtype)
    fail(std::string(what) + " must have the type of its input (" + dtype_name(data.dtype) + "), got " +
         dtype_name(zp->dtype));
  const std::int64_t n = zp->numel();
  if (n == 1 && zp->shape.size() <= 1) return std::vector<std::int32_t>(static_cast<std::size_t>(per), int_at(*zp, 0));
  if (zp->shape.size() == 1 && n == per) {
    std::vector<std::int32_t> out(static_cast<std::size_t>(per));
    for (std::int64_t i = 0; i < per; ++i) out[static_cast<std::size_t>(i)] = int_at(*zp, i);
    return out;
  }
  fail(std::string(what) + " must be a scalar or hold one value per " + per_what + " (" + std::to_string(per) +
       "), got shape " + shape_str(zp->shape));
}

// c[M x N] = a[M x K] * b[K x N], int16 operands (8-bit values minus their zero points, so
// |v| <= 255) and int32 sums (K * 255^2 < 2^31 for K < 33 000).
void gemm_s16(const std::int16_t* a, const std::int16_t* b, std::int32_t* c, std::int64_t m, std::int64_t n,
              std::int64_t k) {
#pragma omp parallel for schedule(static) if (m * n * k > (1 << 16))
  for (std::int64_t i = 0; i < m; ++i) {
    std::int32_t* row = c + i * n;
    std::fill(row, row + n, 0);
    for (std::int64_t p = 0; p < k; ++p) {
      const std::int32_t av = a[i * k + p];
      if (av == 0) continue;
      const std::int16_t* brow = b + p * n;
      for (std::int64_t j = 0; j < n; ++j) row[j] += av * static_cast<std::int32_t>(brow[j]);
    }
  }
}

constexpr std::int64_t kMaxReduction = 33000;  // keeps every int32 sum exact (see gemm_s16)

float round_clamp_0_255(float v) {
  if (std::isnan(v)) return 0.f;
  return std::nearbyint(std::clamp(v, 0.f, 255.f));  // the default rounding mode: half to even
}

}  // namespace

DynamicQuantization dynamic_quantization(float lo, float hi) {
  lo = std::min(lo, 0.f);
  hi = std::max(hi, 0.f);
  DynamicQuantization q;
  q.scale = hi == lo ? 1.f : (hi - lo) / 255.f;
  q.zero_point = static_cast<std::uint8_t>(round_clamp_0_255(0.f - lo / q.scale));
  return q;
}

std::uint8_t quantize_to_uint8(float x, float scale, std::uint8_t zero_point) {
  const float r = std::nearbyint(x / scale);
  if (std::isnan(r)) return zero_point;
  return static_cast<std::uint8_t>(std::clamp(r + static_cast<float>(zero_point), 0.f, 255.f));
}

namespace cpu_kernels {

std::vector<Tensor> dynamic_quantize_linear_op(const Node&, const CpuInputs& inputs, int, BufferPool* pool) {
  const Tensor& x = in(inputs, 0);
  if (x.dtype != DType::Float) fail(std::string("input must be float32, got ") + dtype_name(x.dtype));
  const float* px = x.data<float>();
  const std::int64_t n = x.numel();
  // NaN takes no part in the range (it quantises to the zero point).
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isnan(px[i])) continue;
    lo = std::min(lo, px[i]);
    hi = std::max(hi, px[i]);
  }
  if (lo > hi) lo = hi = 0.f;  // empty or all NaN
  const DynamicQuantization q = dynamic_quantization(lo, hi);
  Tensor y = Tensor::allocate(DType::UInt8, x.shape, pool);
  std::uint8_t* py = y.data<std::uint8_t>();
  for (std::int64_t i = 0; i < n; ++i) py[i] = quantize_to_uint8(px[i], q.scale, q.zero_point);
  Tensor scale = Tensor::allocate(DType::Float, {}, pool);
  *scale.data<float>() = q.scale;
  Tensor zero_point = Tensor::allocate(DType::UInt8, {}, pool);
  *zero_point.data<std::uint8_t>() = q.zero_point;
  return {y, scale, zero_point};
}

std::vector<Tensor> conv_integer_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  const Tensor& x = in(inputs, 0);
  const Tensor& w = in(inputs, 1);
  require_8bit(x, "x");
  require_8bit(w, "w");
  if (x.shape.size() != 4) fail("x must be 4-D (N, C, H, W), got " + shape_str(x.shape));
  if (w.shape.size() != 4) fail("w must be 4-D (M, C/group, kH, kW), got " + shape_str(w.shape));
  const std::int64_t batch = x.shape[0], channels = x.shape[1], height = x.shape[2], width = x.shape[3];
  const std::int64_t out_channels = w.shape[0], group_channels = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const std::int64_t groups = node.attr_int("group", 1);
  if (groups < 1 || channels % groups != 0 || out_channels % groups != 0 || group_channels != channels / groups)
    fail("w " + shape_str(w.shape) + " does not fit x " + shape_str(x.shape) + " with group " + std::to_string(groups));
  if (node.has("kernel_shape") && node.attr_ints("kernel_shape") != std::vector<std::int64_t>{kh, kw})
    fail("kernel_shape does not match w " + shape_str(w.shape));
  const auto strides = node.attr_ints("strides", {1, 1});
  const auto dilations = node.attr_ints("dilations", {1, 1});
  auto pads = node.attr_ints("pads", {0, 0, 0, 0});
  if (node.attr_string("auto_pad", "NOTSET") == "VALID") pads = {0, 0, 0, 0};
  const auto out_h_fit = window_output_length(height, pads[0], pads[2], kh, strides[0], dilations[0]);
  const auto out_w_fit = window_output_length(width, pads[1], pads[3], kw, strides[1], dilations[1]);
  if (!out_h_fit || !out_w_fit)
    fail("the kernel " + shape_str(w.shape) + " is larger than the padded input " + shape_str(x.shape));
  const std::int64_t out_h = *out_h_fit, out_w = *out_w_fit;
  const std::int64_t reduction = group_channels * kh * kw, positions = out_h * out_w;
  if (reduction > kMaxReduction) fail("a reduction of " + std::to_string(reduction) + " terms is not supported");

  const auto x_zero = zero_points(optional_in(inputs, 2), x, 1, "x_zero_point", "tensor");
  const auto w_zero = zero_points(optional_in(inputs, 3), w, out_channels, "w_zero_point", "output channel");

  // Weights minus their zero points, one row per output channel.
  std::vector<std::int16_t> weights(static_cast<std::size_t>(out_channels * reduction));
  for (std::int64_t m = 0; m < out_channels; ++m)
    for (std::int64_t r = 0; r < reduction; ++r)
      weights[m * reduction + r] = static_cast<std::int16_t>(int_at(w, m * reduction + r) - w_zero[m]);

  Tensor y = Tensor::allocate(DType::Int32, {batch, out_channels, out_h, out_w}, pool);
  std::int32_t* py = y.data<std::int32_t>();
  // Per image and group: the input patches minus the zero point as a (reduction x positions)
  // matrix; padding is the zero point, so it adds nothing.
  std::vector<std::int16_t> patches(static_cast<std::size_t>(reduction * positions));
  const std::int64_t out_per_group = out_channels / groups;
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t g = 0; g < groups; ++g) {
      for (std::int64_t c = 0; c < group_channels; ++c) {
        const std::int64_t plane = (b * channels + g * group_channels + c) * height * width;
        for (std::int64_t i = 0; i < kh; ++i)
          for (std::int64_t j = 0; j < kw; ++j) {
            std::int16_t* dst = patches.data() + ((c * kh + i) * kw + j) * positions;
            for (std::int64_t oy = 0; oy < out_h; ++oy) {
              const std::int64_t iy = oy * strides[0] - pads[0] + i * dilations[0];
              for (std::int64_t ox = 0; ox < out_w; ++ox) {
                const std::int64_t ix = ox * strides[1] - pads[1] + j * dilations[1];
                const bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
                dst[oy * out_w + ox] =
                    inside ? static_cast<std::int16_t>(int_at(x, plane + iy * width + ix) - x_zero[0]) : 0;
              }
            }
          }
      }
      gemm_s16(weights.data() + g * out_per_group * reduction, patches.data(),
               py + (b * out_channels + g * out_per_group) * positions, out_per_group, positions, reduction);
    }
  }
  return {y};
}

std::vector<Tensor> matmul_integer_op(const Node&, const CpuInputs& inputs, int, BufferPool* pool) {
  const Tensor& a = in(inputs, 0);
  const Tensor& b = in(inputs, 1);
  require_8bit(a, "A");
  require_8bit(b, "B");
  if (a.shape.empty() || b.shape.empty()) fail("A and B must have at least one dimension");
  // NumPy matmul: a 1-D A is a row, a 1-D B a column; those dimensions leave the output.
  Shape as = a.shape.size() == 1 ? Shape{1, a.shape[0]} : a.shape;
  Shape bs = b.shape.size() == 1 ? Shape{b.shape[0], 1} : b.shape;
  const std::int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) fail("A " + shape_str(a.shape) + " and B " + shape_str(b.shape) + " do not multiply");
  if (k > kMaxReduction) fail("a reduction of " + std::to_string(k) + " terms is not supported");
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const Shape batch = broadcast_shapes(a_batch, b_batch);

  const auto a_zero = zero_points(optional_in(inputs, 2), a, m, "a_zero_point", "row of A");
  const auto b_zero = zero_points(optional_in(inputs, 3), b, n, "b_zero_point", "column of B");

  Shape out_shape = batch;
  if (a.shape.size() > 1) out_shape.push_back(m);
  if (b.shape.size() > 1) out_shape.push_back(n);
  Tensor y = Tensor::allocate(DType::Int32, out_shape, pool);

  // Offset of batch element `index` in a tensor of batch shape `own` broadcast to `batch`.
  auto batch_offset = [&](const Shape& own, std::int64_t index) {
    std::int64_t offset = 0, stride = 1;
    for (std::size_t d = 0; d < batch.size(); ++d) {
      const std::size_t from_end = batch.size() - 1 - d;
      const std::int64_t coord = index % batch[from_end];
      index /= batch[from_end];
      if (d < own.size()) {
        const std::int64_t dim = own[own.size() - 1 - d];
        if (dim != 1) offset += coord * stride;
        stride *= dim;
      }
    }
    return offset;
  };
  std::vector<std::int16_t> a16(static_cast<std::size_t>(m * k)), b16(static_cast<std::size_t>(k * n));
  const std::int64_t batches = shape_numel(batch);
  for (std::int64_t i = 0; i < batches; ++i) {
    const std::int64_t a_base = batch_offset(a_batch, i) * m * k, b_base = batch_offset(b_batch, i) * k * n;
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t p = 0; p < k; ++p)
        a16[r * k + p] = static_cast<std::int16_t>(int_at(a, a_base + r * k + p) - a_zero[r]);
    for (std::int64_t p = 0; p < k; ++p)
      for (std::int64_t c = 0; c < n; ++c)
        b16[p * n + c] = static_cast<std::int16_t>(int_at(b, b_base + p * n + c) - b_zero[c]);
    gemm_s16(a16.data(), b16.data(), y.data<std::int32_t>() + i * m * n, m, n, k);
  }
  return {y};
}

}  // namespace cpu_kernels
}  // namespace coughkit::model
