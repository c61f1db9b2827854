#include "features/feature_pipeline.h"

#include <fmt/format.h>

namespace coughkit::features {

void PreprocessConfig::Validate() const {
  condition.Validate();
  segments.Validate();
  mel.Validate();
}

std::string PreprocessConfig::ToString() const {
  return fmt::format("PreprocessConfig({}, {}, {})", condition.ToString(), segments.ToString(), mel.ToString());
}

FeaturePipeline::FeaturePipeline(const PreprocessConfig& config) : config_(config), images_(config.mel, config.segments) {
  config_.Validate();
}

ClipFeatures FeaturePipeline::run(const audio::DecodedAudio& audio) const {
  ClipFeatures out;
  out.duration_s = audio.duration_seconds();
  out.wave = audio::condition(audio, config_.condition);
  out.plan = plan_segments(out.wave.size(), config_.segments);
  out.images = images_.compute(out.wave, out.plan);
  return out;
}

}  // namespace coughkit::features
