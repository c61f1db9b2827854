#include "dataset/cough_synth.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "dataset/mixing.h"

namespace coughkit::dataset {
namespace {

constexpr double kRate = kMixRate;

// A two-pole resonator at `hz` with bandwidth `bw_hz`, unit gain at its peak (approximately):
// the classic formant filter of source-filter speech synthesis.
class Resonator {
 public:
  Resonator(double hz, double bw_hz) {
    const double r = std::exp(-std::numbers::pi * bw_hz / kRate);
    a1_ = 2.0 * r * std::cos(2.0 * std::numbers::pi * hz / kRate);
    a2_ = -r * r;
    gain_ = 1.0 - r;  // keeps the peak near 1 for narrow bands
  }
  double operator()(double x) {
    const double y = gain_ * x + a1_ * y1_ + a2_ * y2_;
    y2_ = y1_;
    y1_ = y;
    return y;
  }

 private:
  double a1_ = 0, a2_ = 0, gain_ = 1, y1_ = 0, y2_ = 0;
};

// One-pole low-pass.
class LowPass {
 public:
  explicit LowPass(double hz) : a_(std::exp(-2.0 * std::numbers::pi * hz / kRate)) {}
  double operator()(double x) { return y_ = (1.0 - a_) * x + a_ * y_; }

 private:
  double a_, y_ = 0;
};

// The vocal tract: three formant resonators in parallel.
class Tract {
 public:
  explicit Tract(const CoughParams& p)
      : f_{Resonator(p.formants_hz[0], p.bandwidths_hz[0]), Resonator(p.formants_hz[1], p.bandwidths_hz[1]),
           Resonator(p.formants_hz[2], p.bandwidths_hz[2])} {}
  double operator()(double x) { return f_[0](x) + 0.6 * f_[1](x) + 0.3 * f_[2](x); }

 private:
  Resonator f_[3];
};

double db(double v) { return std::pow(10.0, v / 20.0); }

std::size_t samples_of(double seconds) { return static_cast<std::size_t>(std::lround(seconds * kRate)); }

}  // namespace

CoughParams draw_cough_params(Rng& rng) {
  CoughParams p;
  p.burst_s = rng.uniform(0.02, 0.06);
  p.attack_s = rng.uniform(0.001, 0.005);
  p.intermediate_s = rng.uniform(0.08, 0.30);
  p.voiced_s = rng.chance(0.6) ? rng.uniform(0.05, 0.25) : 0.0;
  // Formants of an open, "ah"-like tract, as coughs are (wide ranges for speaker variety).
  p.formants_hz[0] = rng.uniform(400, 900);
  p.formants_hz[1] = rng.uniform(1000, 2200);
  p.formants_hz[2] = rng.uniform(2300, 3400);
  for (double& bw : p.bandwidths_hz) bw = rng.uniform(80, 250);
  p.burst_cutoff_hz = rng.uniform(2500, 7000);
  p.intermediate_db = rng.uniform(-14, -4);
  p.voiced_db = rng.uniform(-14, -3);
  p.f0_hz = rng.log_uniform(90, 320);
  p.f0_end_ratio = rng.uniform(0.7, 1.0);
  p.aspiration = rng.uniform(0.05, 0.4);
  p.lead_s = rng.uniform(0.01, 0.05);
  p.tail_s = rng.uniform(0.02, 0.08);
  return p;
}

std::vector<float> synthesise_cough(const CoughParams& p, Rng& rng) {
  const std::size_t lead = samples_of(p.lead_s), burst = samples_of(p.burst_s), inter = samples_of(p.intermediate_s),
                    voiced = samples_of(p.voiced_s), tail = samples_of(p.tail_s),
                    attack = std::max<std::size_t>(1, samples_of(p.attack_s));
  std::vector<double> x(lead + burst + inter + voiced + tail, 0.0);
  Tract noise_tract(p), voice_tract(p);  // one per source: a filter's state belongs to one signal
  LowPass burst_tone(p.burst_cutoff_hz);
  const double tau_burst = p.burst_s / 3.0, tau_inter = p.intermediate_s / 2.5;
  const double inter_gain = db(p.intermediate_db), voiced_gain = db(p.voiced_db);
  double phase = 0;  // of the glottal pulse train, in cycles
  for (std::size_t i = 0; i < burst + inter + voiced; ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double noise = rng.normal();
    double v = 0;
    // 1. Explosive burst: broadband (low-passed) noise plus its tract colouring, rising over
    // the attack and decaying exponentially; it fades out across the intermediate phase.
    const double rise = std::min(1.0, static_cast<double>(i + 1) / static_cast<double>(attack));
    const double burst_env = rise * std::exp(-t / tau_burst);
    const double shaped = burst_tone(noise);
    const double coloured = noise_tract(noise);
    v += burst_env * (shaped + 0.5 * coloured);
    // 2. Intermediate phase: turbulent noise through the tract, decaying.
    if (i >= burst / 2) {
      const double ti = static_cast<double>(i - burst / 2) / kRate;
      const double inter_rise = std::min(1.0, ti / 0.01);
      v += inter_gain * inter_rise * std::exp(-ti / tau_inter) * 1.2 * coloured;
    }
    // 3. Voiced phase: a glottal pulse train (a raised-cosine pulse per cycle, open quotient
    // 0.6) at a pitch gliding from f0 to f0 * f0_end_ratio, with aspiration noise, through
    // the tract; it swells in and decays.
    if (voiced > 0 && i >= burst + inter) {
      const std::size_t k = i - burst - inter;
      const double u = static_cast<double>(k) / static_cast<double>(voiced);  // 0..1
      const double f0 = p.f0_hz * (1.0 + (p.f0_end_ratio - 1.0) * u);
      phase += f0 / kRate;
      const double cycle = phase - std::floor(phase);
      const double pulse = cycle < 0.6 ? 0.5 * (1.0 - std::cos(2.0 * std::numbers::pi * cycle / 0.6)) : 0.0;
      const double env = std::sin(std::numbers::pi * std::min(1.0, u * 4.0) / 2.0) * std::exp(-2.0 * u);
      const double source = (1.0 - p.aspiration) * (pulse - 0.3) + p.aspiration * 0.3 * noise;
      v += voiced_gain * env * 1.5 * voice_tract(source);
    }
    x[lead + i] = v;
  }
  double peak = 0;
  for (double v : x) peak = std::max(peak, std::abs(v));
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = peak > 0 ? static_cast<float>(x[i] / peak) : 0.0f;
  return out;
}

std::string describe(const CoughParams& p) {
  return fmt::format(
      "coughkit cough synthesiser: burst {:.0f} ms, intermediate {:.0f} ms, voiced {}, formants {:.0f}/{:.0f}/{:.0f} "
      "Hz",
      p.burst_s * 1000, p.intermediate_s * 1000,
      p.voiced() ? fmt::format("{:.0f} ms at {:.0f} Hz", p.voiced_s * 1000, p.f0_hz) : std::string("none"),
      p.formants_hz[0], p.formants_hz[1], p.formants_hz[2]);
}

}  // namespace coughkit::dataset
