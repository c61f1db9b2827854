#pragma once
// A checkpoint as a runnable model: the ONNX graph built from its weights (attnmil_onnx.h)
// plus the metadata_props a coughkit model carries, and the one factory every front end
// uses to load `--model FILE`, whether FILE is an ONNX file or a torch.save checkpoint.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "model/engine.h"

namespace coughkit::exporter {

// The reference HTTP API's default threshold (PIPELINE.md section 7), written when the
// checkpoint's config has none so an exported model always states its threshold.
inline constexpr float kReferenceThreshold = 0.61f;

struct MetadataOverrides {
  std::optional<float> threshold;    // else config["threshold"], else kReferenceThreshold
  std::optional<float> highpass_hz;  // else config["highpass_hz"], else 0 (off)
};

// metadata_props for a model built from `ckpt`: threshold, highpass_hz (the keys the
// Detector reads), epoch, val_auc, val_ap, source_sha256, source_file, source_format and
// preprocessing (JSON: PIPELINE.md sections 2-5 constants, updated by the config's values).
std::vector<std::pair<std::string, std::string>> checkpoint_metadata(const checkpoint::Checkpoint& ckpt,
                                                                     const MetadataOverrides& overrides = {});

// The serialised ONNX model of a checkpoint (opset 14, fp32 weights, metadata included).
std::string checkpoint_onnx_bytes(const checkpoint::Checkpoint& ckpt, int opset = 14, bool fp16 = false,
                                  const MetadataOverrides& overrides = {});

// `--model FILE`: .pth/.pt/.ckpt files are read as checkpoints and built into an ONNX model
// in memory; anything else is loaded as an ONNX file. Throws InputError / ConfigError.
std::unique_ptr<model::Engine> load_model(const std::string& path, const model::EngineOptions& options);

}  // namespace coughkit::exporter
