#pragma once
// Decoded audio -> conditioned 16 kHz waveform -> segments -> log-mel images: the whole
// preprocessing of docs/pipeline.md sections 2-4 behind one call, shared by every front end
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

  // The config as the JSON object a model carries in its metadata under "preprocessing"
  // (docs/pipeline.md section 6), one key per constant: sample_rate, highpass_hz,
  // segment_seconds, segment_hop_seconds, max_segments, n_fft, win_length, hop_length,
  // n_mels, f_min, f_max, top_db, image_size, mean, std.
  std::string to_json() const;
  // Reads what to_json() writes; absent keys keep their defaults. Throws InputError naming the
  // key when a value has the wrong type or is one coughkit cannot follow (a sample rate other
  // than 16000, an image size other than 224, normalisation other than ImageNet's, values
  // Validate() refuses).
  static PreprocessConfig from_json(const std::string& text);
};

struct ClipFeatures {
  double duration_s = 0.0;    // of the decoded input
  std::vector<float> wave;    // conditioned 16 kHz mono waveform (unpadded)
  SegmentPlan plan;           // which segments the images are
  std::vector<float> images;  // plan.starts.size() x 224 x 224, [-1, 1]
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
