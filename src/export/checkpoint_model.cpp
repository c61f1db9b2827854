#include "export/checkpoint_model.h"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "export/attnmil_onnx.h"
#include "features/feature_pipeline.h"

namespace coughkit::exporter {
namespace {

// Shortest text that reads back as the same value (fmt's default); threshold and cut-off
// are float32 in the Detector, so they are written as float32.
std::string num(double v) { return fmt::format("{}", v); }
std::string num32(double v) { return fmt::format("{}", static_cast<float>(v)); }

}  // namespace

std::vector<std::pair<std::string, std::string>> checkpoint_metadata(const checkpoint::Checkpoint& ckpt,
                                                                     const MetadataOverrides& overrides) {
  const auto cfg = nlohmann::json::parse(ckpt.config_json);
  const double threshold =
      overrides.threshold ? *overrides.threshold : ckpt.config_number("threshold").value_or(kReferenceThreshold);
  const double highpass =
      overrides.highpass_hz ? *overrides.highpass_hz : ckpt.config_number("highpass_hz").value_or(0.0);
  if (!(threshold >= 0.0 && threshold <= 1.0))
    throw InputError(fmt::format("{}: config threshold {} is not in [0, 1]", ckpt.path, threshold));
  // The preprocessing the model was trained with: docs/pipeline.md sections 2-5, with any of
  // the config's keys of the same name and type taking precedence (highpass_hz above).
  features::PreprocessConfig defaults;
  defaults.condition.highpass_hz = static_cast<float>(highpass);
  auto pre = nlohmann::json::parse(defaults.to_json());
  for (auto& [key, value] : pre.items())
    if (key != "highpass_hz" && cfg.contains(key) && cfg.at(key).is_number() == value.is_number() &&
        cfg.at(key).is_array() == value.is_array())
      value = cfg.at(key);
  std::string preprocessing;
  try {
    preprocessing = features::PreprocessConfig::from_json(pre.dump()).to_json();
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: config: {}", ckpt.path, e.what()));
  }
  std::vector<std::pair<std::string, std::string>> meta = {
      {"threshold", num32(threshold)},
      {"highpass_hz", num32(highpass)},
      {"preprocessing", preprocessing},
      {"source_file", std::filesystem::path(ckpt.path).filename().string()},
      {"source_sha256", ckpt.sha256},
      {"source_format", ckpt.format + (ckpt.bare_state_dict ? " (bare state dict)" : "")},
      {"source_dtype", ckpt.state.source_types()},
  };
  if (ckpt.epoch) meta.emplace_back("epoch", std::to_string(*ckpt.epoch));
  if (ckpt.val_auc) meta.emplace_back("val_auc", num(*ckpt.val_auc));
  if (ckpt.val_ap) meta.emplace_back("val_ap", num(*ckpt.val_ap));
  if (ckpt.has_config()) meta.emplace_back("training_config", ckpt.config_json);
  return meta;
}

std::string checkpoint_onnx_bytes(const checkpoint::Checkpoint& ckpt, int opset, bool fp16,
                                  const MetadataOverrides& overrides) {
  ExportOptions options{.opset = opset, .fp16 = fp16, .metadata = checkpoint_metadata(ckpt, overrides)};
  return build_attnmil_onnx(ckpt.state, options);
}

}  // namespace coughkit::exporter
