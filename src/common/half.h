#pragma once
// IEEE 754 binary16 ("half") and bfloat16 conversions, bit-exact. float_to_half rounds to
// nearest, ties to even, like torch's `.half()` and numpy's astype(float16): values that
// round past 65504 become infinity, NaN stays NaN, subnormal halves are produced exactly.
#include <cstddef>
#include <cstdint>
#include <span>

namespace coughkit {

float half_to_float(std::uint16_t h);
float bfloat16_to_float(std::uint16_t b);
std::uint16_t float_to_half(float f);

// Element-wise over spans of equal size (throws std::invalid_argument otherwise).
void floats_to_halves(std::span<const float> in, std::span<std::uint16_t> out);
void halves_to_floats(std::span<const std::uint16_t> in, std::span<float> out);

}  // namespace coughkit
