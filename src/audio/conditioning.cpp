#include "audio/conditioning.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "audio/highpass_biquad.h"
#include "audio/sinc_resampler.h"
#include "common/error.h"

namespace coughkit::audio {

void ConditionOptions::Validate() const {
  if (target_rate != 16000)
    throw ConfigError(fmt::format("target_rate must be 16000 (the model's rate), got {}", target_rate));
  if (highpass_hz < 0.0f || !(highpass_hz < target_rate / 2.0f) || std::isnan(highpass_hz))
    throw ConfigError(
        fmt::format("highpass_hz must be 0 (off) or in (0, {}) Hz, got {}", target_rate / 2, highpass_hz));
}

std::string ConditionOptions::ToString() const {
  return fmt::format("ConditionOptions(target_rate={}, highpass_hz={})", target_rate, highpass_hz);
}

std::vector<float> condition(const DecodedAudio& audio, const ConditionOptions& options) {
  options.Validate();
  const std::size_t frames = audio.frames();
  const std::size_t channels = audio.planes.size();
  if (channels == 0 || frames == 0) throw InputError("audio holds no samples");
  if (audio.sample_rate < 1) throw InputError(fmt::format("invalid sample rate {}", audio.sample_rate));

  // Peak and finiteness in one pass over the bit patterns: for non-NaN floats, |x| orders
  // like its bits with the sign cleared, and NaN/Inf are the patterns at or above the
  // infinity's. Integer max reductions vectorise; float ones would not without -ffast-math.
  std::uint32_t max_bits = 0;
  for (const auto& plane : audio.planes) {
    if (plane.size() != frames) throw InputError("channels have different lengths");
    const float* src = plane.data();
    for (std::size_t i = 0; i < frames; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, src + i, sizeof bits);
      bits &= 0x7fffffffu;
      max_bits = bits > max_bits ? bits : max_bits;
    }
  }
  const bool finite = max_bits < 0x7f800000u;
  const float peak = std::bit_cast<float>(max_bits);
  if (!finite) throw InputError("audio contains NaN or Inf samples");

  // torch: x = x / peak (element-wise division), then x.mean(dim=0): channels summed in order
  // in float32, then divided by the channel count.
  std::vector<float> mono(frames, 0.0f);
  const float divisor = static_cast<float>(channels);
  for (const auto& plane : audio.planes) {
    const float* src = plane.data();
    if (peak > 0.0f)
      for (std::size_t i = 0; i < frames; ++i) mono[i] += src[i] / peak;
    else
      for (std::size_t i = 0; i < frames; ++i) mono[i] += src[i];
  }
  for (float& v : mono) v /= divisor;

  if (audio.sample_rate != options.target_rate)
    mono = SincResampler(audio.sample_rate, options.target_rate).process(mono);
  if (options.highpass_hz > 0.0f) mono = highpass_biquad(mono, options.target_rate, {.cutoff_hz = options.highpass_hz});
  return mono;
}

}  // namespace coughkit::audio
