#pragma once
// The whole chain audio -> cough probabilities (docs/pipeline.md sections 2-7) behind one object,
// shared by every front end (`coughkit detect`, `coughkit serve`, `coughkit compare`).
//
//   auto detector = coughkit::detection::Detector::create({.model_path = "model.onnx"});
//   auto result = detector->detect(coughkit::audio::decode_file("clip.wav"));
//
// Thread safety: a Detector is immutable after create(); preprocess() runs concurrently on
// any number of threads, infer() calls are serialised inside the model runner (one inference
// uses all its threads). Per-request state lives in the values passed in and returned.
//
// The model is opened by the one factory (model_factory.h): ONNX file or checkpoint, on the
// engine or on LibTorch (DetectorConfig::backend).
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "audio/decoder.h"
#include "detection/model_factory.h"
#include "features/feature_pipeline.h"
#include "features/model_input_contract.h"
#include "model/model_runner.h"

namespace coughkit::detection {

// The threshold used when neither the caller nor the model's metadata (key "threshold")
// gives one (docs/pipeline.md section 7).
inline constexpr float kDefaultThreshold = features::kReferenceThreshold;

struct DetectorConfig {
  std::string model_path;  // .onnx, or a torch.save checkpoint (.pth/.pt/.ckpt)
  model::EngineOptions engine{};
  std::optional<float> threshold;    // overrides the model's own
  std::optional<float> highpass_hz;  // overrides the model's preprocessing config
  // The engine (default) or LibTorch (the reference backend; model_path must be a checkpoint).
  // Last, so designated initialisers written before it still compile.
  Backend backend = Backend::kEngine;

  void Validate() const;  // throws ConfigError naming the field
  std::string ToString() const;
};

struct Detection {
  std::string source;              // file name or request id, for reports
  double duration_s = 0.0;         // of the decoded audio
  std::size_t num_segments = 0;    // segments in the bag (at most 32)
  std::size_t total_segments = 0;  // full 2-s windows in the clip; > num_segments when truncated
  float bag_probability = 0.0f, bag_logit = 0.0f;
  std::vector<float> segment_probabilities, segment_logits;
  std::vector<std::pair<double, double>> segment_timestamps;  // [start, end] seconds
  float max_segment_probability = 0.0f, mean_segment_probability = 0.0f;
  float threshold = kDefaultThreshold;
  bool cough_detected = false;
  bool truncated() const { return total_segments > num_segments; }
};

class Detector {
 public:
  // Opens the model (open_model) and reads its preprocessing config and threshold. Throws
  // InputError for an unusable model file, ConfigError for bad options, std::runtime_error
  // when the LibTorch module is needed but missing.
  static std::unique_ptr<Detector> create(const DetectorConfig& config);

  const DetectorConfig& config() const { return config_; }
  const features::PreprocessConfig& preprocess_config() const { return pipeline_.config(); }
  // The model runner: coughkit's engine or the LibTorch backend.
  const model::ModelRunner& runner() const { return *runner_; }
  float default_threshold() const { return threshold_; }

  // Decoded audio -> bag features (images of the first 32 segments).
  features::ClipFeatures preprocess(const audio::DecodedAudio& audio) const;

  // Bags -> detections, run as one batch (bags with fewer segments are padded and masked).
  std::vector<Detection> infer(const std::vector<const features::ClipFeatures*>& bags,
                               std::optional<float> threshold = std::nullopt) const;

  // preprocess + infer for one clip.
  Detection detect(const audio::DecodedAudio& audio, std::optional<float> threshold = std::nullopt) const;

 private:
  Detector(DetectorConfig config, std::unique_ptr<model::ModelRunner> runner, features::PreprocessConfig preprocess,
           float threshold);
  DetectorConfig config_;
  std::unique_ptr<model::ModelRunner> runner_;
  features::FeaturePipeline pipeline_;
  float threshold_;
};

}  // namespace coughkit::detection
