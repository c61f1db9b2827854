#pragma once
// The integer operators ONNX Runtime's dynamic quantiser writes (quantize_dynamic):
// DynamicQuantizeLinear (float -> uint8 with a scale and zero point computed from the data),
// ConvInteger and MatMulInteger (8-bit inputs, int32 sums). Integer arithmetic is exact, so
// these kernels give ONNX Runtime's results bit for bit; the float steps around them (Cast,
// Mul, Add) are the ordinary ops. Plain C++ with int32 accumulation: correct first, and the
// reference the faster paths are tested against.
#include <vector>

#include "model/cpu_ops.h"

namespace coughkit::model {

// Scale and zero point DynamicQuantizeLinear uses for data in [lo, hi], exactly as ONNX
// Runtime computes them: the range is widened to hold 0, scale = (hi - lo) / 255 (1 when the
// range is empty), zero point = round_half_even(clamp(-lo / scale, 0, 255)).
struct DynamicQuantization {
  float scale = 1.f;
  std::uint8_t zero_point = 0;
};
DynamicQuantization dynamic_quantization(float lo, float hi);

// round_half_even(x / scale) + zero_point, saturated to [0, 255]; NaN maps to the zero point.
std::uint8_t quantize_to_uint8(float x, float scale, std::uint8_t zero_point);

namespace cpu_kernels {
std::vector<Tensor> dynamic_quantize_linear_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> conv_integer_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> matmul_integer_op(const Node&, const CpuInputs&, int, BufferPool*);
}  // namespace cpu_kernels

}  // namespace coughkit::model
