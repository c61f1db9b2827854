#pragma once
// The output length of a sliding window along one axis (convolutions and pooling, own
// kernels and oneDNN's alike), as ONNX defines it for explicit pads and floor rounding:
//   span = dilation * (kernel - 1) + 1,   out = (in + pad_begin + pad_end - span) / stride + 1.
// One definition, so every kernel agrees on every shape.
#include <cstdint>
#include <optional>
#include <string>

#include "common/error.h"

namespace coughkit::model {

// nullopt when the window is larger than the padded input. Throws InputError for a stride or
// dilation below 1 (a division by zero, or a window that does not move).
inline std::optional<std::int64_t> window_output_length(std::int64_t in, std::int64_t pad_begin, std::int64_t pad_end,
                                                        std::int64_t kernel, std::int64_t stride,
                                                        std::int64_t dilation = 1) {
  if (stride < 1 || dilation < 1 || kernel < 1)
    throw InputError("window with kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) +
                     ", dilation " + std::to_string(dilation) + ": each must be at least 1");
  const std::int64_t span = dilation * (kernel - 1) + 1, padded = in + pad_begin + pad_end;
  if (padded < span) return std::nullopt;
  return (padded - span) / stride + 1;
}

}  // namespace coughkit::model
