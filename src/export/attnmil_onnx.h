#pragma once
// AttnMILResNet (docs/pipeline.md section 6) as an ONNX graph, built directly from a checkpoint's
// StateDict: the same network torch.onnx.export produces, with every BatchNorm folded into
// the convolution (backbone) or Linear (bag head) next to it, the inputs/outputs and
// dynamic batch/segment axes of docs/pipeline.md, and metadata_props for the Detector.
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/state_dict.h"

namespace coughkit::exporter {

struct ExportOptions {
  int opset = 14;     // model::kMinOpset..kMaxOpset (model/op_specs.h), the opsets the engine accepts
  bool fp16 = false;  // store weights as float16 (Cast to float32 in the graph): half the file size
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props, in order
  void Validate() const;                                      // throws ConfigError; the one check of the opset bounds
};

// The serialised ONNX ModelProto (the bytes of a .onnx file). Throws InputError (naming the
// checkpoint and key) for a missing key or a wrong shape, or when the model cannot be serialised.
std::string build_attnmil_onnx(const checkpoint::StateDict& state, const ExportOptions& options);

}  // namespace coughkit::exporter
