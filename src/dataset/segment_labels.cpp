#include "dataset/segment_labels.h"

#include <algorithm>
#include <cstddef>

#include "features/segmenter.h"

namespace coughkit::dataset {

std::vector<std::uint8_t> scene_segment_labels(const nlohmann::json& scene_record) {
  const features::SegmentOptions segments;  // the pipeline's geometry
  const auto frames = scene_record.at("frames").get<std::uint64_t>();
  const auto rate = scene_record.at("sample_rate").get<std::uint64_t>();
  // The resampler's output length, ceil(16000 * frames / rate) (docs/pipeline.md section 2).
  const auto sr16 = static_cast<std::uint64_t>(segments.sample_rate);
  const std::uint64_t samples = rate == sr16 ? frames : (sr16 * frames + rate - 1) / rate;
  const features::SegmentPlan plan = features::plan_segments(static_cast<std::size_t>(samples), segments);

  std::vector<std::uint8_t> labels(plan.starts.size(), 0);
  for (const auto& event : scene_record.at("events")) {
    if (event.at("kind").get<std::string>() != "cough") continue;
    const double begin = event.at("offset_s").get<double>();
    const double duration = event.at("duration_s").get<double>();
    if (!(duration > 0)) continue;
    for (std::size_t i = 0; i < plan.starts.size(); ++i) {
      const double seg_begin = static_cast<double>(plan.starts[i]) / segments.sample_rate;
      const double seg_end = seg_begin + static_cast<double>(segments.window_samples) / segments.sample_rate;
      const double overlap = std::min(seg_end, begin + duration) - std::max(seg_begin, begin);
      if (overlap >= kCoughShareOfPositiveSegment * duration) labels[i] = 1;
    }
  }
  return labels;
}

std::string segment_labels_text(const std::vector<std::uint8_t>& labels) {
  std::string text;
  text.reserve(labels.size());
  for (const std::uint8_t v : labels) text += v ? '1' : '0';
  return text;
}

}  // namespace coughkit::dataset
