#pragma once
// Band-limited resampling that reproduces torchaudio.transforms.Resample(orig, new) with its
// defaults (torchaudio 0.13 functional._get_sinc_resample_kernel and
// _apply_sinc_resample_kernel): windowed sinc, Hann window (cos^2), lowpass_filter_width 6,
// rolloff 0.99, rates reduced by their gcd, kernel built in float64 and applied in float32,
// output length ceil(new * len / orig).
//
// Written by hand rather than taken from a resampling library (libswresample, libsamplerate)
// because parity with the training pipeline is the point: any other filter changes the
// waveform by far more than the 1e-5 the contract allows. tests/audio/resampler_test.cpp and
// the reference-set parity tests prove it.
//
// Thread safety: a constructed resampler is immutable; process() may run concurrently.
#include <span>
#include <string>
#include <vector>

namespace coughkit::audio {

class SincResampler {
 public:
  // Rates in Hz, both >= 1. Throws ConfigError otherwise.
  SincResampler(int orig_rate, int new_rate);

  std::vector<float> process(std::span<const float> input) const;

  // Number of output samples for `input_length` input samples: ceil(new * len / orig).
  std::size_t output_length(std::size_t input_length) const;

  int orig_rate() const { return orig_; }  // after gcd reduction
  int new_rate() const { return new_; }    // after gcd reduction
  int width() const { return width_; }
  std::string ToString() const;

 private:
  // One polyphase filter per output phase, trimmed to its non-zero taps: torchaudio's kernel
  // has 2*width + orig taps per phase but only ~2*width around the phase's centre are
  // non-zero (beyond +-lowpass_filter_width zero crossings the window is 0 in float32), so
  // skipping the zeros is exact and saves most of the work for ratios like 441:160.
  struct Phase {
    int first_tap = 0;  // index of taps[0] within torchaudio's kernel row
    std::vector<float> taps;
  };
  int orig_ = 1, new_ = 1, width_ = 0;
  std::vector<Phase> phases_;
};

}  // namespace coughkit::audio
