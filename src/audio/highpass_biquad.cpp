#include "audio/highpass_biquad.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::audio {

std::vector<float> highpass_biquad(std::span<const float> x, int sample_rate, const HighpassOptions& options) {
  const float cutoff = options.cutoff_hz;
  if (!(cutoff > 0.0f) || !(cutoff < sample_rate / 2.0f))
    throw ConfigError(fmt::format("high-pass cutoff must be in (0, {}) Hz, got {}", sample_rate / 2.0, cutoff));
  if (!(options.q > 0.0f)) throw ConfigError(fmt::format("high-pass Q must be > 0, got {}", options.q));

  // torchaudio builds every coefficient as a float32 tensor: reproduce each rounding step.
  const float two_pi = static_cast<float>(2.0 * 3.141592653589793);
  const float w0 = two_pi * cutoff / static_cast<float>(sample_rate);
  const float cos_w0 = std::cos(w0);
  const float alpha = std::sin(w0) / 2.0f / options.q;
  const float b0 = (1.0f + cos_w0) / 2.0f;
  const float b1 = -1.0f - cos_w0;
  const float b2 = b0;
  const float a0 = 1.0f + alpha;
  const float a1 = -2.0f * cos_w0;
  const float a2 = 1.0f - alpha;
  // torchaudio's C++ lfilter normalises both coefficient sets by a0 before filtering
  // (DifferentiableFIR with b / a0, then DifferentiableIIR with a / a0).
  const float b0n = b0 / a0, b1n = b1 / a0, b2n = b2 / a0;
  const float a1n = a1 / a0, a2n = a2 / a0;

  // The FIR part is torch's conv1d over the input padded with 2 zeros. ATen hands that
  // convolution to oneDNN when the padded input has more than 20480 values
  // (Convolution.cpp, use_mkldnn), whose kernel accumulates the three taps oldest-first with
  // fused multiply-adds; below that, ATen's own kernel multiplies and adds separately. The
  // recursion amplifies a one-ulp difference here ~100x at a 50 Hz cutoff, so reproduce both.
  const bool onednn_convolution = x.size() + 2 > 20480;

  std::vector<float> y(x.size());
  float x1 = 0.0f, x2 = 0.0f, y1 = 0.0f, y2 = 0.0f;  // zero initial state, as lfilter pads
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float fir =
        onednn_convolution ? std::fma(x[i], b0n, std::fma(x1, b1n, x2 * b2n)) : x2 * b2n + x1 * b1n + x[i] * b0n;
    // Recursive part: _lfilter_core_loop subtracts y[i-2]*a2/a0, then y[i-1]*a1/a0.
    float out = fir - y2 * a2n;
    out -= y1 * a1n;
    x2 = x1;
    x1 = x[i];
    y2 = y1;
    y1 = out;
    y[i] = out;
  }
  // lfilter(clamp=True) clamps after the whole recursion: the recursion itself runs on the
  // unclamped values.
  for (float& v : y) v = std::clamp(v, -1.0f, 1.0f);
  return y;
}

}  // namespace coughkit::audio
