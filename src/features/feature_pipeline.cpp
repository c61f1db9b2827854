#include "features/feature_pipeline.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "features/model_input_contract.h"

namespace coughkit::features {

void PreprocessConfig::Validate() const {
  condition.Validate();
  segments.Validate();
  mel.Validate();
}

std::string PreprocessConfig::ToString() const {
  return fmt::format("PreprocessConfig({}, {}, {})", condition.ToString(), segments.ToString(), mel.ToString());
}

std::string PreprocessConfig::to_json() const {
  const double rate = segments.sample_rate;
  nlohmann::ordered_json j;
  j["sample_rate"] = condition.target_rate;
  j["highpass_hz"] = condition.highpass_hz;
  j["segment_seconds"] = segments.window_samples / rate;
  j["segment_hop_seconds"] = segments.hop_samples / rate;
  j["max_segments"] = segments.max_segments;
  j["n_fft"] = mel.n_fft;
  j["win_length"] = mel.win_length;
  j["hop_length"] = mel.hop_length;
  j["n_mels"] = mel.mel.n_mels;
  j["f_min"] = mel.mel.f_min;
  j["f_max"] = mel.mel.f_max;
  j["top_db"] = mel.top_db;
  j["image_size"] = mel.image_size;
  j["mean"] = kImageNetMean;
  j["std"] = kImageNetStd;
  return j.dump();
}

PreprocessConfig PreprocessConfig::from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) throw InputError("preprocessing config is not a JSON object: " + text.substr(0, 80));
  auto number = [&](const char* key, double fallback) {
    const auto it = j.find(key);
    if (it == j.end()) return fallback;
    if (!it->is_number() || !std::isfinite(it->get<double>()))
      throw InputError(fmt::format("preprocessing config: '{}' must be a number, got {}", key, it->dump()));
    return it->get<double>();
  };
  auto integer = [&](const char* key, int fallback) {
    const double v = number(key, fallback);
    if (v != std::floor(v) || std::abs(v) > 1e9)
      throw InputError(fmt::format("preprocessing config: '{}' must be an integer, got {}", key, v));
    return static_cast<int>(v);
  };
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) throw InputError("preprocessing config: " + what + " (coughkit computes docs/pipeline.md's pipeline)");
  };
  PreprocessConfig c;
  c.condition.target_rate = integer("sample_rate", c.condition.target_rate);
  require(c.condition.target_rate == 16000, fmt::format("sample_rate {} is not 16000", c.condition.target_rate));
  c.condition.highpass_hz = static_cast<float>(number("highpass_hz", c.condition.highpass_hz));
  const double rate = c.segments.sample_rate;
  c.segments.window_samples =
      static_cast<int>(std::lround(number("segment_seconds", c.segments.window_samples / rate) * rate));
  c.segments.hop_samples =
      static_cast<int>(std::lround(number("segment_hop_seconds", c.segments.hop_samples / rate) * rate));
  c.segments.max_segments = integer("max_segments", c.segments.max_segments);
  c.mel.n_fft = c.mel.mel.n_fft = integer("n_fft", c.mel.n_fft);
  c.mel.win_length = integer("win_length", c.mel.win_length);
  c.mel.hop_length = integer("hop_length", c.mel.hop_length);
  c.mel.mel.n_mels = integer("n_mels", c.mel.mel.n_mels);
  c.mel.mel.f_min = static_cast<float>(number("f_min", c.mel.mel.f_min));
  c.mel.mel.f_max = static_cast<float>(number("f_max", c.mel.mel.f_max));
  c.mel.top_db = static_cast<float>(number("top_db", c.mel.top_db));
  c.mel.image_size = integer("image_size", c.mel.image_size);
  require(c.mel.image_size == kModelImageSize,
          fmt::format("image_size {} is not {}", c.mel.image_size, kModelImageSize));
  for (const auto& [key, want] : {std::pair{"mean", kImageNetMean}, std::pair{"std", kImageNetStd}}) {
    const auto it = j.find(key);
    if (it == j.end()) continue;
    bool same = it->is_array() && it->size() == want.size();
    for (std::size_t i = 0; same && i < want.size(); ++i)
      same = (*it)[i].is_number() && static_cast<float>((*it)[i].get<double>()) == want[i];
    require(same, fmt::format("'{}' {} is not ImageNet's", key, it->dump()));
  }
  try {
    c.Validate();
  } catch (const ConfigError& e) {
    throw InputError(std::string("preprocessing config: ") + e.what());
  }
  return c;
}

FeaturePipeline::FeaturePipeline(const PreprocessConfig& config)
    : config_(config), images_(config.mel, config.segments) {
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
