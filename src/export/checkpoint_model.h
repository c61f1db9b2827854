#pragma once
// A checkpoint as a runnable model: the ONNX graph built from its weights (attnmil_onnx.h)
// plus the metadata_props a coughkit model carries (opened by detection/model_factory.h).
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/checkpoint_reader.h"
#include "features/model_input_contract.h"
#include "model/engine.h"

namespace coughkit::exporter {

// The threshold written when the checkpoint's config has none, so an exported model always
// states its threshold (docs/pipeline.md section 7).
using features::kReferenceThreshold;

struct MetadataOverrides {
  std::optional<float> threshold;    // else config["threshold"], else kReferenceThreshold
  std::optional<float> highpass_hz;  // else config["highpass_hz"], else 0 (off)
};

// metadata_props for a model built from `ckpt`: threshold, highpass_hz (the keys the
// Detector reads), epoch, val_auc, val_ap, source_sha256, source_file, source_format and
// preprocessing (JSON: docs/pipeline.md sections 2-5 constants, updated by the config's values).
std::vector<std::pair<std::string, std::string>> checkpoint_metadata(const checkpoint::Checkpoint& ckpt,
                                                                     const MetadataOverrides& overrides = {});

// The serialised ONNX model of a checkpoint (opset 14, fp32 weights, metadata included).
std::string checkpoint_onnx_bytes(const checkpoint::Checkpoint& ckpt, int opset = 14, bool fp16 = false,
                                  const MetadataOverrides& overrides = {});

}  // namespace coughkit::exporter
