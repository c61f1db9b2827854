#include "training/augment.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace coughkit::training {

std::string AugmentOptions::ToString() const {
  return fmt::format(
      "AugmentOptions(probability={}, noise_std={}, gain=[{}, {}], freq_mask_rows={}, time_mask_cols={})", probability,
      noise_std, gain_min, gain_max, freq_mask_rows, time_mask_cols);
}

AugmentTrace augment_bag(std::span<float> images, int segments, int height, int width, const AugmentOptions& options,
                         std::mt19937_64& rng) {
  if (segments < 0 || height <= 0 || width <= 0 ||
      images.size() !=
          static_cast<std::size_t>(segments) * static_cast<std::size_t>(height) * static_cast<std::size_t>(width)) {
    throw std::invalid_argument("augment_bag: image buffer does not match segments x height x width");
  }
  if (options.freq_mask_rows > height || options.time_mask_cols > width) {
    throw std::invalid_argument("augment_bag: mask larger than the image");
  }
  AugmentTrace trace;
  if (options.probability <= 0) return trace;
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  // All four decisions first, so one augmentation's draws never shift another's decision.
  trace.noise = coin(rng) < options.probability;
  trace.gain = coin(rng) < options.probability;
  trace.freq_mask = coin(rng) < options.probability;
  trace.time_mask = coin(rng) < options.probability;

  if (trace.noise) {
    std::normal_distribution<float> noise(0.0f, options.noise_std);
    for (float& v : images) v += noise(rng);
  }
  if (trace.gain) {
    trace.gain_factor = std::uniform_real_distribution<float>(options.gain_min, options.gain_max)(rng);
    for (float& v : images) v = std::clamp(v * trace.gain_factor, -1.0f, 1.0f);
  }
  const std::size_t plane = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  if (trace.freq_mask && options.freq_mask_rows > 0) {
    trace.freq_start = std::uniform_int_distribution<int>(0, height - options.freq_mask_rows)(rng);
    for (int s = 0; s < segments; ++s) {
      float* first = images.data() + s * plane + static_cast<std::size_t>(trace.freq_start) * width;
      std::fill(first, first + static_cast<std::size_t>(options.freq_mask_rows) * width, 0.0f);
    }
  }
  if (trace.time_mask && options.time_mask_cols > 0) {
    trace.time_start = std::uniform_int_distribution<int>(0, width - options.time_mask_cols)(rng);
    for (int s = 0; s < segments; ++s) {
      for (int r = 0; r < height; ++r) {
        float* row = images.data() + s * plane + static_cast<std::size_t>(r) * width;
        std::fill(row + trace.time_start, row + trace.time_start + options.time_mask_cols, 0.0f);
      }
    }
  }
  return trace;
}

}  // namespace coughkit::training
