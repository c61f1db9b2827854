#include "audio/sinc_resampler.h"

#include <algorithm>
#include <cmath>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
#include <numbers>
#include <numeric>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::audio {
namespace {
constexpr int kLowpassFilterWidth = 6;  // torchaudio default
constexpr double kRolloff = 0.99;       // torchaudio default

// 32 independent multiply-add chains, one per lane: acc[l] = fma(col[i * stride + l],
// taps[i], acc[l]) for i = 0..count-1, starting from 0 — each lane rounds exactly like a
// scalar std::fma chain, whatever instructions carry it. Four vectors of eight lanes are in
// flight at once so the chains' latency overlaps.
constexpr std::size_t kLanes = 32;
void fma_chains(const float* col, std::size_t stride, const float* taps, std::size_t count, float* acc) {
#if defined(__AVX2__) && defined(__FMA__)
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  for (std::size_t i = 0; i < count; ++i, col += stride) {
    const __m256 t = _mm256_set1_ps(taps[i]);
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(col), t, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 8), t, s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 16), t, s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(col + 24), t, s3);
  }
  _mm256_storeu_ps(acc, s0);
  _mm256_storeu_ps(acc + 8, s1);
  _mm256_storeu_ps(acc + 16, s2);
  _mm256_storeu_ps(acc + 24, s3);
#else
  for (std::size_t l = 0; l < kLanes; ++l) acc[l] = 0.0f;
  for (std::size_t i = 0; i < count; ++i, col += stride)
    for (std::size_t l = 0; l < kLanes; ++l) acc[l] = std::fma(col[l], taps[i], acc[l]);
#endif
}
}  // namespace

SincResampler::SincResampler(int orig_rate, int new_rate) {
  if (orig_rate < 1 || new_rate < 1)
    throw ConfigError(fmt::format("resampler rates must be >= 1 Hz (got {} -> {})", orig_rate, new_rate));
  const int g = std::gcd(orig_rate, new_rate);
  orig_ = orig_rate / g;
  new_ = new_rate / g;
  if (orig_ == new_) return;  // identity

  // Kernel as _get_sinc_resample_kernel with dtype=None: positions in float64, except that
  // the per-phase offset `arange(0, -new, -1) / new` is an int64 tensor divided in float32.
  double base_freq = std::min(orig_, new_) * kRolloff;
  width_ = static_cast<int>(std::ceil(kLowpassFilterWidth * static_cast<double>(orig_) / base_freq));
  const int taps = 2 * width_ + orig_;
  const double scale = base_freq / orig_;
  phases_.resize(new_);
  const double half_support = kLowpassFilterWidth / base_freq * orig_;  // in input samples
  for (int k = 0; k < new_; ++k) {
    const double phase_offset = static_cast<double>(static_cast<float>(-k) / static_cast<float>(new_));
    // Taps with |t| >= lowpass_filter_width are clamped there, where cos^2 * sinc is ~1e-49:
    // exactly 0 in float32. Evaluate only the window around the phase's centre (with a
    // margin) instead of all 2 * width + orig taps — for 16001 -> 16000 that is 16000 phases
    // x ~16000 taps of trigonometry otherwise.
    const double centre = width_ - phase_offset * orig_;
    const int lo = std::max(0, static_cast<int>(std::floor(centre - half_support)) - 2);
    const int hi = std::min(taps - 1, static_cast<int>(std::ceil(centre + half_support)) + 2);
    std::vector<float> row;
    for (int i = lo; i <= hi; ++i) {
      const double idx = static_cast<double>(i - width_) / orig_;
      double t = (phase_offset + idx) * base_freq;
      t = std::clamp(t, -static_cast<double>(kLowpassFilterWidth), static_cast<double>(kLowpassFilterWidth));
      const double c = std::cos(t * std::numbers::pi / kLowpassFilterWidth / 2);
      const double window = c * c;
      t *= std::numbers::pi;
      const double sinc = t == 0.0 ? 1.0 : std::sin(t) / t;
      row.push_back(static_cast<float>(sinc * (window * scale)));
    }
    std::size_t first = 0, last = row.size();
    while (first < last && row[first] == 0.0f) ++first;
    while (last > first && row[last - 1] == 0.0f) --last;
    phases_[k].first_tap = lo + static_cast<int>(first);
    phases_[k].taps.assign(row.begin() + first, row.begin() + last);
  }
}

std::size_t SincResampler::output_length(std::size_t input_length) const {
  // int(math.ceil(new * length / orig)) — computed exactly in integers.
  return (static_cast<std::size_t>(new_) * input_length + orig_ - 1) / orig_;
}

std::vector<float> SincResampler::process(std::span<const float> input) const {
  if (orig_ == new_) return {input.begin(), input.end()};
  // torchaudio pads `width` zeros before and `width + orig` after, then runs conv1d with
  // stride orig: output[p * new + k] = sum_i padded[p * orig + i] * kernel[k][i]. ATen gives
  // that convolution to oneDNN, which accumulates each output as one chain of fused
  // multiply-adds over the taps in order; doing the same makes the waveform bit-identical
  // to torchaudio's (and keeps the 50 Hz high-pass, which amplifies rounding ~100x, within
  // the contract).
  //
  // To vectorise a sequential chain, 32 outputs of the same phase (consecutive p) run in
  // separate lanes. Their inputs are `orig` samples apart, so the padded input is first laid
  // out polyphase, block by block: column[r][j] = padded[(p0 + j) * orig + r].
  // Block of p values: a multiple of kLanes, and not a power of two, so the column stores
  // do not all land in the same cache sets.
  constexpr std::size_t kBlock = 9 * kLanes;
  const std::size_t n = input.size();
  const std::size_t out_len = output_length(n);
  std::vector<float> out(out_len);
  if (out_len == 0) return out;
  const std::size_t rows = static_cast<std::size_t>(2 * width_ + orig_);
  const std::size_t num_p = (out_len - 1) / new_ + 1;
  std::vector<float> columns(rows * kBlock);
  float acc[kLanes];
  for (std::size_t p0 = 0; p0 < num_p; p0 += kBlock) {
    const std::size_t block = std::min(kBlock, num_p - p0);
    for (std::size_t j = 0; j < kBlock; ++j) {
      // padded index (p0 + j) * orig + r  ->  input index minus the `width` leading zeros
      const long long first = static_cast<long long>((p0 + j) * orig_) - width_;
      float* dst = columns.data() + j;
      if (j < block && first >= 0 && first + static_cast<long long>(rows) <= static_cast<long long>(n)) {
        const float* src = input.data() + first;
        for (std::size_t r = 0; r < rows; ++r) dst[r * kBlock] = src[r];
      } else {  // touches the zero padding (or lies past the last output)
        for (std::size_t r = 0; r < rows; ++r) {
          const long long at = first + static_cast<long long>(r);
          dst[r * kBlock] =
              j < block && at >= 0 && at < static_cast<long long>(n) ? input[static_cast<std::size_t>(at)] : 0.0f;
        }
      }
    }
    for (int k = 0; k < new_; ++k) {
      const Phase& phase = phases_[k];
      const float* taps = phase.taps.data();
      const std::size_t count = phase.taps.size();
      for (std::size_t j = 0; j < block; j += kLanes) {
        const float* col = columns.data() + static_cast<std::size_t>(phase.first_tap) * kBlock + j;
        fma_chains(col, kBlock, taps, count, acc);
        for (std::size_t l = 0; l < kLanes; ++l) {
          const std::size_t o = (p0 + j + l) * new_ + k;
          if (j + l < block && o < out_len) out[o] = acc[l];
        }
      }
    }
  }
  return out;
}

std::string SincResampler::ToString() const {
  return fmt::format("SincResampler(orig={}, new={}, lowpass_filter_width={}, rolloff={}, width={})", orig_, new_,
                     kLowpassFilterWidth, kRolloff, width_);
}

}  // namespace coughkit::audio
