#pragma once
// Element-wise math over arrays, vectorised through glibc's libmvec.
#include <cstddef>

namespace coughkit::features {

// out[i] = 10 * log10(max(in[i], amin)) — AmplitudeToDB's power-to-dB step. in == out allowed.
// libmvec's log10f is accurate to a few ulp (~1e-6 dB here), far inside the 1e-4 image
// tolerance, and ~5x faster than calling log10f per value.
void power_to_db(const float* in, float* out, std::size_t n, float amin);

}  // namespace coughkit::features
