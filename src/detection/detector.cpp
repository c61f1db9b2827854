#include "detection/detector.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::detection {
namespace {

// A float from the model's metadata_props, e.g. "threshold" -> 0.61.
std::optional<float> metadata_float(const model::ModelRunner& runner, const std::string& key,
                                    const std::string& model_path) {
  const auto& meta = runner.metadata();
  const auto it = meta.find(key);
  if (it == meta.end()) return std::nullopt;
  float value = 0.0f;
  const auto& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    throw InputError(fmt::format("{}: metadata '{}' is not a number: '{}'", model_path, key, text));
  return value;
}

void check_threshold(float t, const std::string& what) {
  if (!(t >= 0.0f && t <= 1.0f)) throw ConfigError(fmt::format("{} must be in [0, 1], got {}", what, t));
}

}  // namespace

void DetectorConfig::Validate() const {
  ModelSpec{model_path, backend, engine}.Validate();
  if (threshold) check_threshold(*threshold, "threshold");
  if (highpass_hz && (*highpass_hz < 0.0f || *highpass_hz >= 8000.0f))
    throw ConfigError(fmt::format("highpass_hz must be 0 (off) or in (0, 8000) Hz, got {}", *highpass_hz));
}

std::string DetectorConfig::ToString() const {
  return fmt::format("DetectorConfig(model_path={}, backend={}, {}, threshold={}, highpass_hz={})", model_path,
                     backend_name(backend), engine.ToString(), threshold ? fmt::format("{}", *threshold) : "model",
                     highpass_hz ? fmt::format("{}", *highpass_hz) : "model");
}

Detector::Detector(DetectorConfig config, std::unique_ptr<model::ModelRunner> runner,
                   features::PreprocessConfig preprocess, float threshold)
    : config_(std::move(config)), runner_(std::move(runner)), pipeline_(preprocess), threshold_(threshold) {}

std::unique_ptr<Detector> Detector::create(const DetectorConfig& config) {
  config.Validate();
  std::unique_ptr<model::ModelRunner> runner =
      open_model({.path = config.model_path, .backend = config.backend, .engine = config.engine});

  // A model's preprocessing config and threshold travel in its metadata (docs/pipeline.md
  // section 6); flags override.
  features::PreprocessConfig preprocess;
  if (const auto it = runner->metadata().find("preprocessing"); it != runner->metadata().end()) {
    try {
      preprocess = features::PreprocessConfig::from_json(it->second);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: metadata {}", config.model_path, e.what()));
    }
  }
  if (auto hz = metadata_float(*runner, "highpass_hz", config.model_path)) preprocess.condition.highpass_hz = *hz;
  if (config.highpass_hz) preprocess.condition.highpass_hz = *config.highpass_hz;
  float threshold = kDefaultThreshold;
  if (auto t = metadata_float(*runner, "threshold", config.model_path)) {
    check_threshold(*t, config.model_path + ": metadata threshold");
    threshold = *t;
  }
  if (config.threshold) threshold = *config.threshold;
  return std::unique_ptr<Detector>(new Detector(config, std::move(runner), preprocess, threshold));
}

features::ClipFeatures Detector::preprocess(const audio::DecodedAudio& audio) const { return pipeline_.run(audio); }

std::vector<Detection> Detector::infer(const std::vector<const features::ClipFeatures*>& bags,
                                       std::optional<float> threshold) const {
  const float t = threshold.value_or(threshold_);
  check_threshold(t, "threshold");
  std::vector<Detection> results;
  if (bags.empty()) return results;

  // One batch: (B, S_max, 3, 224, 224), shorter bags zero-padded and masked out.
  const int batch = static_cast<int>(bags.size());
  std::size_t max_segments = 0;
  for (const auto* bag : bags) max_segments = std::max(max_segments, bag->num_segments());
  const int segments = static_cast<int>(max_segments);
  std::vector<float> input(static_cast<std::size_t>(batch) * segments * model::kSegmentValues, 0.0f);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(batch) * segments, 0);
  for (int b = 0; b < batch; ++b) {
    const auto& bag = *bags[b];
    const std::size_t n = bag.num_segments();
    float* dst = input.data() + static_cast<std::size_t>(b) * segments * model::kSegmentValues;
    model::images_to_model_input(bag.images, static_cast<int>(n), std::span<float>(dst, n * model::kSegmentValues));
    std::fill_n(mask.begin() + static_cast<std::ptrdiff_t>(b) * segments, n, std::uint8_t{1});
  }
  const model::ModelOutputs out = runner_->run(batch, segments, input, mask);

  for (int b = 0; b < batch; ++b) {
    const auto& bag = *bags[b];
    Detection d;
    d.duration_s = bag.duration_s;
    d.num_segments = bag.num_segments();
    d.total_segments = bag.plan.total_segments;
    d.bag_probability = out.bag_probability[b];
    d.bag_logit = out.bag_logit[b];
    const auto row = static_cast<std::ptrdiff_t>(b) * segments;
    d.segment_probabilities.assign(
        out.segment_probabilities.begin() + row,
        out.segment_probabilities.begin() + row + static_cast<std::ptrdiff_t>(d.num_segments));
    d.segment_logits.assign(out.segment_logits.begin() + row,
                            out.segment_logits.begin() + row + static_cast<std::ptrdiff_t>(d.num_segments));
    for (std::size_t i = 0; i < d.num_segments; ++i)
      d.segment_timestamps.push_back(features::segment_time_range(i, pipeline_.config().segments));
    if (!d.segment_probabilities.empty()) {
      d.max_segment_probability = *std::max_element(d.segment_probabilities.begin(), d.segment_probabilities.end());
      d.mean_segment_probability =
          std::accumulate(d.segment_probabilities.begin(), d.segment_probabilities.end(), 0.0f) /
          static_cast<float>(d.num_segments);
    }
    d.threshold = t;
    d.cough_detected = d.bag_probability > t;  // docs/pipeline.md section 7: strictly greater
    results.push_back(std::move(d));
  }
  return results;
}

Detection Detector::detect(const audio::DecodedAudio& audio, std::optional<float> threshold) const {
  const auto features = preprocess(audio);
  return std::move(infer({&features}, threshold).front());
}

}  // namespace coughkit::detection
