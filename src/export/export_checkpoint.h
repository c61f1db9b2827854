#pragma once
// `coughkit export` as a library call: checkpoint -> ONNX file that passes onnx::checker,
// then a parity gate: the written file and the checkpoint run on the same probe input and
// must agree within `tolerance`, or the file is removed and the export fails.
#include <cstdint>
#include <string>

#include "export/checkpoint_model.h"
#include "model/engine.h"

namespace coughkit::exporter {

struct ExportRequest {
  std::string checkpoint;  // .pth
  std::string out;         // .onnx
  int opset = 14;
  bool fp16 = false;
  MetadataOverrides overrides;
  double tolerance = 1e-4;
  model::EngineOptions engine;
  void Validate() const;  // throws ConfigError naming the field
};

struct ExportReport {
  std::string out;
  std::uint64_t bytes = 0;
  int opset = 14;
  bool fp16 = false;
  checkpoint::Checkpoint source;  // metadata only matters; weights kept for the caller's use
  // Max |difference| over the four outputs on the probe input: the written file against
  // the checkpoint with the same weight precision (the gate), and against the fp32
  // checkpoint (equal to the former unless fp16).
  double max_diff = 0.0, max_diff_vs_fp32 = 0.0;
  std::string ToJson() const;
};

// Throws InputError for an unusable checkpoint or an unwritable output, std::runtime_error
// when the written model fails onnx::checker or the parity gate (a converter bug).
ExportReport export_checkpoint(const ExportRequest& request);

// onnx::checker::check_model (libonnx); throws std::runtime_error with its message.
void check_onnx_model(const std::string& serialized, const std::string& what);

// Max |a - b| over the four outputs; infinity when their sizes differ or a value is NaN.
double max_output_difference(const model::ModelOutputs& a, const model::ModelOutputs& b);

}  // namespace coughkit::exporter
