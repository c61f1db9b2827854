#pragma once
// Signal building blocks of the scene mixer, all on 16 kHz mono float signals: power and
// SNR, speed change by resampling, event placement, peak normalisation, synthetic noise
// backgrounds and a simple room reverb. Pure functions; random ones take the Rng to draw from.
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "dataset/rng.h"

namespace coughkit::dataset {

inline constexpr int kMixRate = 16000;  // everything is mixed at the model's rate

// Mean of x^2 in double; 0 for an empty span.
double mean_power(std::span<const float> x);
// 10 log10(P_event / P_background); +inf/-inf/nan at the edges as the division gives.
double snr_db(std::span<const float> event, std::span<const float> background);
// The linear gain g such that snr_db(g * event, background) == snr_db when the event and
// background powers are `event_power` and `background_power` (both > 0).
double gain_for_snr(double event_power, double background_power, double target_snr_db);

// Drops leading and trailing samples quieter than `threshold_db` relative to the peak,
// keeping `margin` samples on each side. All-zero input gives an empty result.
std::vector<float> trim_silence(std::span<const float> x, double threshold_db = -40.0, std::size_t margin = 160);

// Speed change by resampling (pitch moves with it, like a tape played faster): the signal is
// resampled from kMixRate to speed_change_rate(factor) and played back at kMixRate.
// factor > 1 is faster/shorter. The rate is quantised to 100 Hz so the polyphase filter stays
// small; the factor actually applied is kMixRate / speed_change_rate(factor).
int speed_change_rate(double factor);
std::vector<float> change_speed(std::span<const float> x, double factor);
// Plain resampling with the project's torchaudio-compatible resampler (no-op when equal).
std::vector<float> resample(std::span<const float> x, int from_rate, int to_rate);

// Start offsets for events of the given lengths, in order, non-overlapping and all inside
// [0, total): the free space total - sum(lengths) is split into len+1 random gaps.
// Throws ConfigError when sum(lengths) > total.
std::vector<std::size_t> place_non_overlapping(const std::vector<std::size_t>& lengths, std::size_t total, Rng& rng);

// Peak over all channels.
float peak_abs(const std::vector<std::vector<float>>& channels);
// Scales every channel so the peak over all channels equals `target_peak` (linear, (0, 1]);
// returns the gain applied (1 when the input is silent).
double normalize_peak(std::vector<std::vector<float>>& channels, double target_peak);

// Synthetic backgrounds, deterministic from the Rng. Babble needs speech and is built by the
// scene renderer from the split's own clips.
enum class NoiseKind { kWhite, kPink, kBrown, kHum50, kHum60, kFan, kClicks };
const char* noise_name(NoiseKind kind);
// n samples at kMixRate with RMS 1 (clicks: RMS 1 including its quiet noise floor).
std::vector<float> synth_noise(NoiseKind kind, std::size_t n, Rng& rng);

// Room impulse response: a unit direct path at t=0 followed by exponentially decaying
// Gaussian noise (decay 60 dB over rt60_s) starting after a short pre-delay, scaled so the
// reverberant energy is `wet_db` relative to the direct path. Length rt60_s.
std::vector<float> room_impulse_response(double rt60_s, double wet_db, Rng& rng);
// Full linear convolution (length x + h - 1) by FFT in double precision.
std::vector<float> convolve(std::span<const float> x, std::span<const float> h);

}  // namespace coughkit::dataset
