#pragma once
// Decoded audio -> conditioned 16 kHz waveform -> segments -> log-mel images: the whole
// preprocessing of PIPELINE.md sections 2-4 behind one call, shared by every front end
// (features, detect, serve, precompute) so none can drift from the others.
//
// Thread safety: a pipeline is immutable after construction; run() is reentrant.
#include <string>
#include <vector>

#include "audio/conditioning.h"
#include "audio/decoder.h"
#include "features/log_mel_image.h"
#include "features/segmenter.h"

namespace coughkit::features {

struct PreprocessConfig {
  audio::ConditionOptions condition{};
  SegmentOptions segments{};
  MelImageOptions mel{};

  void Validate() const;
  std::string ToString() const;
};

struct ClipFeatures {
  double duration_s = 0.0;       // of the decoded input
  std::vector<float> wave;       // conditioned 16 kHz mono waveform (unpadded)
  SegmentPlan plan;              // which segments the images are
  std::vector<float> images;     // plan.starts.size() x 224 x 224, [-1, 1]
  std::size_t num_segments() const { return plan.starts.size(); }
};

class FeaturePipeline {
 public:
  explicit FeaturePipeline(const PreprocessConfig& config = {});
  const PreprocessConfig& config() const { return config_; }
  const LogMelImageComputer& images() const { return images_; }

  ClipFeatures run(const audio::DecodedAudio& audio) const;

 private:
  PreprocessConfig config_;
  LogMelImageComputer images_;
};

}  // namespace coughkit::features
