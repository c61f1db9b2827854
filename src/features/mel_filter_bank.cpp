#include "features/mel_filter_bank.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::features {
namespace {

// torch.linspace for float32 as ATen's CPU kernel (RangeFactoriesKernel.cpp) computes it with
// its AVX2 kernels — the capability torch 1.13 reports on this project's machines:
//  - step = (end - start) / (steps - 1) in float; the first half counts up from `start`, the
//    second half down from `end`;
//  - the first floor(steps / 16) * 16 values are produced 8 at a time
//    (Vectorized<float>::arange): a chunk's base value is start + step * i0 (or end - step *
//    (steps - 1 - i0) when i0 is past halfway), which the compiler contracts into an FMA, and
//    the chunk's lanes are base + step * lane;
//  - the rest are computed one by one without FMA.
// Reproducing this rather than a plain linspace matters: the filter-bank edges move by up to
// 2e-5 otherwise (tests/features/features_unit_test.cpp compares with torchaudio's matrix).
std::vector<float> torch_linspace(float start, float end, int steps) {
  std::vector<float> out(steps);
  if (steps == 1) {
    out[0] = start;
    return out;
  }
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int halfway = steps / 2;
  constexpr int kLanes = 8;
  const int vectorised = steps / (2 * kLanes) * (2 * kLanes);
  for (int i0 = 0; i0 < vectorised; i0 += kLanes) {
    const float base = i0 < halfway ? std::fma(step, static_cast<float>(i0), start)
                                    : std::fma(-step, static_cast<float>(steps - i0 - 1), end);
    for (int lane = 0; lane < kLanes; ++lane) {
      const float offset = step * static_cast<float>(lane);
      out[i0 + lane] = base + offset;
    }
  }
  for (int i = vectorised; i < steps; ++i) {
    const float offset = step * static_cast<float>(i < halfway ? i : steps - i - 1);
    out[i] = i < halfway ? start + offset : end - offset;
  }
  return out;
}

// HTK mel scale. _hz_to_mel works on Python floats (double); _mel_to_hz on float32 tensors.
double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
float mel_to_hz(float mel) { return 700.0f * (std::pow(10.0f, mel / 2595.0f) - 1.0f); }

}  // namespace

void MelBanksOptions::Validate() const {
  if (sample_rate <= 0) throw ConfigError(fmt::format("sample_rate must be > 0, got {}", sample_rate));
  if (n_fft < 2 || n_fft % 2) throw ConfigError(fmt::format("n_fft must be even and >= 2, got {}", n_fft));
  if (n_mels < 1) throw ConfigError(fmt::format("n_mels must be >= 1, got {}", n_mels));
  if (!(f_min >= 0.0f && f_min < f_max && f_max <= sample_rate / 2.0f))
    throw ConfigError(fmt::format("need 0 <= f_min < f_max <= sample_rate/2, got f_min={} f_max={}", f_min, f_max));
}

std::string MelBanksOptions::ToString() const {
  return fmt::format(
      "MelBanksOptions(sample_rate={}, n_fft={}, n_mels={}, f_min={}, f_max={}, mel_scale=htk, norm=None)", sample_rate,
      n_fft, n_mels, f_min, f_max);
}

MelFilterBank::MelFilterBank(const MelBanksOptions& options) {
  options.Validate();
  num_bins_ = options.n_fft / 2 + 1;
  // all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
  const std::vector<float> all_freqs = torch_linspace(0.0f, static_cast<float>(options.sample_rate / 2), num_bins_);
  const auto m_min = static_cast<float>(hz_to_mel(options.f_min));
  const auto m_max = static_cast<float>(hz_to_mel(options.f_max));
  const std::vector<float> m_pts = torch_linspace(m_min, m_max, options.n_mels + 2);
  std::vector<float> f_pts(m_pts.size());
  std::transform(m_pts.begin(), m_pts.end(), f_pts.begin(), mel_to_hz);

  // _create_triangular_filterbank: fb[k][m] = max(0, min(down, up)) with
  // down = -(f_pts[m] - f_k) / (f_pts[m+1] - f_pts[m]), up = (f_pts[m+2] - f_k) / (f_pts[m+2] - f_pts[m+1]).
  filters_.resize(options.n_mels);
  for (int m = 0; m < options.n_mels; ++m) {
    const float diff_lo = f_pts[m + 1] - f_pts[m];
    const float diff_hi = f_pts[m + 2] - f_pts[m + 1];
    std::vector<float> dense(num_bins_);
    for (int k = 0; k < num_bins_; ++k) {
      const float down = (-1.0f * (f_pts[m] - all_freqs[k])) / diff_lo;
      const float up = (f_pts[m + 2] - all_freqs[k]) / diff_hi;
      dense[k] = std::max(0.0f, std::min(down, up));
    }
    int first = 0, last = num_bins_ - 1;
    while (first < num_bins_ && dense[first] == 0.0f) ++first;
    while (last >= first && dense[last] == 0.0f) --last;
    filters_[m].first_bin = first;
    if (first <= last) filters_[m].weights.assign(dense.begin() + first, dense.begin() + last + 1);
  }
}

void MelFilterBank::apply(const float* power, float* mel) const {
  for (std::size_t m = 0; m < filters_.size(); ++m) {
    const Filter& f = filters_[m];
    const float* p = power + f.first_bin;
    float acc = 0.0f;
    for (std::size_t i = 0; i < f.weights.size(); ++i) acc += p[i] * f.weights[i];
    mel[m] = acc;
  }
}

float MelFilterBank::weight(int bin, int mel) const {
  const Filter& f = filters_.at(static_cast<std::size_t>(mel));
  const int i = bin - f.first_bin;
  return i >= 0 && i < static_cast<int>(f.weights.size()) ? f.weights[i] : 0.0f;
}

}  // namespace coughkit::features
