#pragma once
// Second-order high-pass filter with the semantics of
// torchaudio.functional.highpass_biquad(x, sample_rate, cutoff, Q=0.707) (torchaudio 0.13):
// coefficients computed in float32 from the RBJ cookbook formulas and normalised by a0, the FIR
// part evaluated first, then the recursive part, and the output clamped to [-1, 1] as
// lfilter(clamp=True) does. Off by default in the pipeline (docs/pipeline.md section 2.4).
#include <span>
#include <vector>

namespace coughkit::audio {

struct HighpassOptions {
  float cutoff_hz = 0.0f;  // 0 = off
  float q = 0.707f;        // torchaudio's default Q
};

// Throws ConfigError when cutoff is not in (0, sample_rate / 2).
std::vector<float> highpass_biquad(std::span<const float> x, int sample_rate, const HighpassOptions& options);

}  // namespace coughkit::audio
