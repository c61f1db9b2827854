#include "dataset/mixing.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

#include <fmt/format.h>

#include "audio/sinc_resampler.h"
#include "common/error.h"

namespace coughkit::dataset {
namespace {

void scale_to_unit_rms(std::vector<float>& x) {
  const double p = mean_power(x);
  if (p <= 0) return;
  const double g = 1.0 / std::sqrt(p);
  for (float& v : x) v = static_cast<float>(v * g);
}

// RBJ cookbook band-pass (constant 0 dB peak gain), direct form I in double.
void bandpass_inplace(std::vector<double>& x, double center_hz, double q) {
  const double w0 = 2.0 * std::numbers::pi * center_hz / kMixRate;
  const double alpha = std::sin(w0) / (2.0 * q);
  const double a0 = 1.0 + alpha;
  const double b0 = alpha / a0, b2 = -alpha / a0, a1 = -2.0 * std::cos(w0) / a0, a2 = (1.0 - alpha) / a0;
  double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (double& v : x) {
    const double y = b0 * v + b2 * x2 - a1 * y1 - a2 * y2;
    x2 = x1;
    x1 = v;
    y2 = y1;
    y1 = y;
    v = y;
  }
}

void fft(std::vector<std::complex<double>>& a, bool inverse) {
  const std::size_t n = a.size();
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (std::size_t len = 2; len <= n; len <<= 1) {
    const double ang = 2.0 * std::numbers::pi / static_cast<double>(len) * (inverse ? 1 : -1);
    const std::size_t half = len / 2;
    std::vector<std::complex<double>> w(half);
    for (std::size_t k = 0; k < half; ++k) w[k] = std::polar(1.0, ang * static_cast<double>(k));
    for (std::size_t i = 0; i < n; i += len)
      for (std::size_t k = 0; k < half; ++k) {
        const auto u = a[i + k], v = a[i + k + half] * w[k];
        a[i + k] = u + v;
        a[i + k + half] = u - v;
      }
  }
  if (inverse)
    for (auto& v : a) v /= static_cast<double>(n);
}

}  // namespace

double mean_power(std::span<const float> x) {
  if (x.empty()) return 0.0;
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return s / static_cast<double>(x.size());
}

double snr_db(std::span<const float> event, std::span<const float> background) {
  return 10.0 * std::log10(mean_power(event) / mean_power(background));
}

double gain_for_snr(double event_power, double background_power, double target_snr_db) {
  if (!(event_power > 0) || !(background_power > 0))
    throw ConfigError(
        fmt::format("gain_for_snr: powers must be > 0 (event {}, background {})", event_power, background_power));
  return std::sqrt(background_power * std::pow(10.0, target_snr_db / 10.0) / event_power);
}

std::vector<float> trim_silence(std::span<const float> x, double threshold_db, std::size_t margin) {
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  if (peak <= 0) return {};
  const float thr = static_cast<float>(peak * std::pow(10.0, threshold_db / 20.0));
  std::size_t first = 0, last = x.size();
  while (first < x.size() && std::fabs(x[first]) < thr) ++first;
  while (last > first && std::fabs(x[last - 1]) < thr) --last;
  first = first > margin ? first - margin : 0;
  last = std::min(x.size(), last + margin);
  return {x.begin() + static_cast<std::ptrdiff_t>(first), x.begin() + static_cast<std::ptrdiff_t>(last)};
}

int speed_change_rate(double factor) {
  if (!(factor >= 0.25 && factor <= 4.0))
    throw ConfigError(fmt::format("speed factor must be in [0.25, 4], got {}", factor));
  return static_cast<int>(std::lround(kMixRate / factor / 100.0)) * 100;
}

std::vector<float> resample(std::span<const float> x, int from_rate, int to_rate) {
  if (from_rate == to_rate) return {x.begin(), x.end()};
  return audio::SincResampler(from_rate, to_rate).process(x);
}

std::vector<float> change_speed(std::span<const float> x, double factor) {
  return resample(x, kMixRate, speed_change_rate(factor));
}

std::vector<std::size_t> place_non_overlapping(const std::vector<std::size_t>& lengths, std::size_t total, Rng& rng) {
  std::size_t used = 0;
  for (auto l : lengths) used += l;
  if (used > total)
    throw ConfigError(fmt::format("place_non_overlapping: events of {} samples do not fit in {}", used, total));
  const std::size_t free = total - used;
  std::vector<double> w(lengths.size() + 1);
  double sum = 0;
  for (auto& v : w) sum += (v = rng.uniform() + 1e-9);
  std::vector<std::size_t> offsets;
  double acc = 0;
  std::size_t pos_used = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    acc += w[i];
    const auto gap_total = static_cast<std::size_t>(std::floor(free * (acc / sum)));
    offsets.push_back(std::min(gap_total, free) + pos_used);
    pos_used += lengths[i];
  }
  return offsets;
}

float peak_abs(const std::vector<std::vector<float>>& channels) {
  float peak = 0;
  for (const auto& c : channels)
    for (float v : c) peak = std::max(peak, std::fabs(v));
  return peak;
}

double normalize_peak(std::vector<std::vector<float>>& channels, double target_peak) {
  const float peak = peak_abs(channels);
  if (!(peak > 0)) return 1.0;
  const double g = target_peak / peak;
  for (auto& c : channels)
    for (float& v : c) v = static_cast<float>(v * g);
  // Rounding may leave the peak one ulp above the target; never above 1.
  if (peak_abs(channels) > 1.0f)
    for (auto& c : channels)
      for (float& v : c) v = std::clamp(v, -1.0f, 1.0f);
  return g;
}

const char* noise_name(NoiseKind kind) {
  switch (kind) {
    case NoiseKind::kWhite: return "white";
    case NoiseKind::kPink: return "pink";
    case NoiseKind::kBrown: return "brown";
    case NoiseKind::kHum50: return "hum50";
    case NoiseKind::kHum60: return "hum60";
    case NoiseKind::kFan: return "fan";
    case NoiseKind::kClicks: return "clicks";
  }
  return "?";
}

std::vector<float> synth_noise(NoiseKind kind, std::size_t n, Rng& rng) {
  std::vector<float> out(n);
  switch (kind) {
    case NoiseKind::kWhite:
      for (auto& v : out) v = static_cast<float>(rng.normal());
      break;
    case NoiseKind::kPink: {  // Paul Kellett's refined pink filter
      double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
      for (auto& v : out) {
        const double w = rng.normal();
        b0 = 0.99886 * b0 + w * 0.0555179;
        b1 = 0.99332 * b1 + w * 0.0750759;
        b2 = 0.96900 * b2 + w * 0.1538520;
        b3 = 0.86650 * b3 + w * 0.3104856;
        b4 = 0.55000 * b4 + w * 0.5329522;
        b5 = -0.7616 * b5 - w * 0.0168980;
        v = static_cast<float>(b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362);
        b6 = w * 0.115926;
      }
      break;
    }
    case NoiseKind::kBrown: {  // leaky integrator (-6 dB/octave above ~5 Hz)
      double y = 0;
      for (auto& v : out) {
        y = 0.998 * y + 0.05 * rng.normal();
        v = static_cast<float>(y);
      }
      break;
    }
    case NoiseKind::kHum50:
    case NoiseKind::kHum60: {  // mains hum: fundamental + decaying harmonics, odd ones stronger
      const double f0 = (kind == NoiseKind::kHum50 ? 50.0 : 60.0) * rng.uniform(0.997, 1.003);
      const int harmonics = static_cast<int>(rng.integer(3, 12));
      std::vector<double> amp(harmonics + 1), phase(harmonics + 1);
      for (int k = 1; k <= harmonics; ++k) {
        amp[k] = rng.uniform(0.2, 1.0) * std::pow(k, -rng.uniform(0.5, 1.5)) * (k % 2 ? 1.0 : 0.5);
        phase[k] = rng.uniform(0, 2 * std::numbers::pi);
      }
      const double floor = rng.uniform(0.01, 0.05);
      for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / kMixRate;
        double s = 0;
        for (int k = 1; k <= harmonics; ++k) s += amp[k] * std::sin(2 * std::numbers::pi * f0 * k * t + phase[k]);
        out[i] = static_cast<float>(s + floor * rng.normal());
      }
      break;
    }
    case NoiseKind::kFan: {  // band-limited noise, slow modulation, a blade-pass tone
      std::vector<double> x(n);
      for (auto& v : x) v = rng.normal();
      const double center = rng.log_uniform(120.0, 1500.0), q = rng.uniform(0.4, 1.2);
      bandpass_inplace(x, center, q);
      bandpass_inplace(x, center, q);
      const double blade = rng.uniform(40.0, 240.0), blade_amp = rng.uniform(0.0, 0.3);
      const double mod_hz = rng.uniform(0.2, 3.0), mod_depth = rng.uniform(0.0, 0.2);
      double p = 0;
      for (double v : x) p += v * v;
      const double norm = n ? 1.0 / std::sqrt(p / static_cast<double>(n) + 1e-30) : 1.0;
      for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / kMixRate;
        out[i] = static_cast<float>(x[i] * norm * (1.0 + mod_depth * std::sin(2 * std::numbers::pi * mod_hz * t)) +
                                    blade_amp * std::sin(2 * std::numbers::pi * blade * t));
      }
      break;
    }
    case NoiseKind::kClicks: {  // sparse short decaying bursts over a quiet white floor
      const double floor = rng.uniform(0.003, 0.03);
      for (auto& v : out) v = static_cast<float>(floor * rng.normal());
      const double rate_hz = rng.uniform(0.5, 6.0);
      double t = -std::log(1.0 - rng.uniform()) / rate_hz;
      while (n && t * kMixRate < static_cast<double>(n)) {
        const auto start = static_cast<std::size_t>(t * kMixRate);
        const double amp = rng.uniform(0.2, 1.0) * (rng.chance(0.5) ? 1 : -1);
        const double tau = rng.uniform(0.0003, 0.003) * kMixRate;
        const auto len = static_cast<std::size_t>(tau * 5);
        for (std::size_t k = 0; k < len && start + k < n; ++k)
          out[start + k] +=
              static_cast<float>(amp * std::exp(-static_cast<double>(k) / tau) * (k == 0 ? 1.0 : rng.normal()));
        t += -std::log(1.0 - rng.uniform()) / rate_hz;
      }
      break;
    }
  }
  scale_to_unit_rms(out);
  return out;
}

std::vector<float> room_impulse_response(double rt60_s, double wet_db, Rng& rng) {
  if (!(rt60_s > 0.01 && rt60_s <= 3.0)) throw ConfigError(fmt::format("rt60 must be in (0.01, 3] s, got {}", rt60_s));
  const auto len = static_cast<std::size_t>(rt60_s * kMixRate);
  const auto predelay = static_cast<std::size_t>(rng.uniform(0.002, 0.015) * kMixRate);
  std::vector<double> tail(len, 0.0);
  double energy = 0;
  for (std::size_t i = predelay; i < len; ++i) {
    // 60 dB of decay over rt60: exp(-ln(1000) * t / rt60) in amplitude.
    const double env = std::exp(-6.907755278982137 * static_cast<double>(i) / (rt60_s * kMixRate));
    tail[i] = rng.normal() * env;
    energy += tail[i] * tail[i];
  }
  const double g = energy > 0 ? std::sqrt(std::pow(10.0, wet_db / 10.0) / energy) : 0.0;
  std::vector<float> h(len);
  for (std::size_t i = 0; i < len; ++i) h[i] = static_cast<float>(tail[i] * g);
  h[0] = 1.0f;
  return h;
}

std::vector<float> convolve(std::span<const float> x, std::span<const float> h) {
  if (x.empty() || h.empty()) return {};
  const std::size_t out_len = x.size() + h.size() - 1;
  if (std::min(x.size(), h.size()) <= 32) {
    std::vector<double> acc(out_len, 0.0);
    for (std::size_t i = 0; i < x.size(); ++i)
      for (std::size_t j = 0; j < h.size(); ++j) acc[i + j] += static_cast<double>(x[i]) * h[j];
    return {acc.begin(), acc.end()};
  }
  std::size_t n = 1;
  while (n < out_len) n <<= 1;
  std::vector<std::complex<double>> a(n), b(n);
  for (std::size_t i = 0; i < x.size(); ++i) a[i] = x[i];
  for (std::size_t i = 0; i < h.size(); ++i) b[i] = h[i];
  fft(a, false);
  fft(b, false);
  for (std::size_t i = 0; i < n; ++i) a[i] *= b[i];
  fft(a, true);
  std::vector<float> out(out_len);
  for (std::size_t i = 0; i < out_len; ++i) out[i] = static_cast<float>(a[i].real());
  return out;
}

}  // namespace coughkit::dataset
