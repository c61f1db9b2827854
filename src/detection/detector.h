#pragma once
// The whole chain audio -> cough probabilities (PIPELINE.md sections 2-7) behind one object,
// shared by every front end (`coughkit detect`, `coughkit serve`, `coughkit compare`).
//
//   auto detector = coughkit::detection::Detector::create({.model_path = "model.onnx"});
//   auto result = detector->detect(coughkit::audio::decode_file("clip.wav"));
//
// Thread safety: a Detector is immutable after create(); preprocess() runs concurrently on
// any number of threads, infer() calls are serialised inside the model runner (one inference
// uses all its threads). Per-request state lives in the values passed in and returned.
//
// Backends (DetectorConfig::backend): "engine", coughkit's oneDNN engine (ONNX files, or
// checkpoints built into ONNX in memory); "torch", a checkpoint run by LibTorch in the
// module libcoughkit_torch.so (training/torch_module.h), opened only then.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "audio/decoder.h"
#include "features/feature_pipeline.h"
#include "model/engine.h"
#include "model/model_runner.h"

namespace coughkit::detection {

// The reference HTTP API's default decision threshold, used when neither the caller nor
// the model's metadata (key "threshold") gives one.
inline constexpr float kDefaultThreshold = 0.61f;

struct DetectorConfig {
  std::string model_path;                    // .onnx, or a torch.save checkpoint (.pth/.pt/.ckpt)
  model::EngineOptions engine{};
  std::optional<float> threshold;            // overrides the model's own
  std::optional<float> highpass_hz;          // overrides the model's preprocessing config
  // "engine" (default) or "torch" (LibTorch reference backend; model_path must be a checkpoint).
  // Last, so designated initialisers written before it still compile.
  std::string backend = "engine";

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
  // Loads the model (static factory: config.backend picks the runner, the file's type how
  // the engine loads it). Throws InputError for an unusable model file, ConfigError for bad
  // options, std::runtime_error when the LibTorch module is needed but missing.
  static std::unique_ptr<Detector> create(const DetectorConfig& config);
  // The factory behind create(), for front ends that need only the engine (bench): an
  // ONNX file, or a checkpoint built into an ONNX model in memory (src/export/).
  static std::unique_ptr<model::Engine> load_model_engine(const std::string& path, const model::EngineOptions& options);

  const DetectorConfig& config() const { return config_; }
  const features::PreprocessConfig& preprocess_config() const { return pipeline_.config(); }
  // The model runner: model::Engine, or the LibTorch backend.
  const model::ModelRunner& engine() const { return *engine_; }
  float default_threshold() const { return threshold_; }

  // Decoded audio -> bag features (images of the first 32 segments).
  features::ClipFeatures preprocess(const audio::DecodedAudio& audio) const;

  // Bags -> detections, run as one batch (bags with fewer segments are padded and masked).
  std::vector<Detection> infer(const std::vector<const features::ClipFeatures*>& bags,
                               std::optional<float> threshold = std::nullopt) const;

  // preprocess + infer for one clip.
  Detection detect(const audio::DecodedAudio& audio, std::optional<float> threshold = std::nullopt) const;

 private:
  Detector(DetectorConfig config, std::unique_ptr<model::ModelRunner> engine, features::PreprocessConfig preprocess,
           float threshold);
  DetectorConfig config_;
  std::unique_ptr<model::ModelRunner> engine_;
  features::FeaturePipeline pipeline_;
  float threshold_;
};

}  // namespace coughkit::detection
