#include "features/segmenter.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::features {

void SegmentOptions::Validate() const {
  if (window_samples < 1 || hop_samples < 1 || max_segments < 0 || sample_rate < 1)
    throw ConfigError(fmt::format("invalid segmentation: {}", ToString()));
}

std::string SegmentOptions::ToString() const {
  return fmt::format("SegmentOptions(window_samples={}, hop_samples={}, max_segments={}, sample_rate={})",
                     window_samples, hop_samples, max_segments, sample_rate);
}

SegmentPlan plan_segments(std::size_t num_samples, const SegmentOptions& options) {
  options.Validate();
  SegmentPlan plan;
  const auto window = static_cast<std::size_t>(options.window_samples);
  const auto hop = static_cast<std::size_t>(options.hop_samples);
  plan.padded_length = std::max(num_samples, window);
  plan.total_segments = (plan.padded_length - window) / hop + 1;
  const std::size_t kept =
      options.max_segments > 0 ? std::min<std::size_t>(plan.total_segments, options.max_segments) : plan.total_segments;
  plan.starts.reserve(kept);
  for (std::size_t i = 0; i < kept; ++i) plan.starts.push_back(i * hop);
  return plan;
}

std::pair<double, double> segment_time_range(std::size_t index, const SegmentOptions& options) {
  const double start = static_cast<double>(index) * options.hop_samples / options.sample_rate;
  return {start, start + static_cast<double>(options.window_samples) / options.sample_rate};
}

}  // namespace coughkit::features
