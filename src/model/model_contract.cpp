#include "model/model_contract.h"

#include <algorithm>

#include <onnx/onnx_pb.h>

#include "common/error.h"

namespace coughkit::model {
namespace {

std::string names_of(const std::vector<IoInfo>& ios) {
  std::string s;
  for (const auto& io : ios) s += (s.empty() ? "'" : ", '") + io.name + "'";
  return s.empty() ? "none" : s;
}

std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i)
    s += (i ? "," : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
  return s + ")";
}

// Expected dims: -1 = any (dynamic or not).
void check_io(const Graph& g, const IoInfo& io, int elem_type, const char* type_name,
              const std::vector<std::int64_t>& want, const std::string& what) {
  auto fail = [&](const std::string& why) {
    throw InputError("model " + g.source + ": " + what + " '" + io.name + "' " + why + " (docs/pipeline.md section 6)");
  };
  if (io.elem_type != elem_type)
    fail(std::string("must be ") + type_name + ", has ONNX type " + std::to_string(io.elem_type));
  if (!io.dims) return;  // no shape declared: checked at run time
  if (io.dims->size() != want.size())
    fail("must have rank " + std::to_string(want.size()) + " " + dims_str(want) + ", has rank " +
         std::to_string(io.dims->size()) + " " + dims_str(*io.dims));
  for (std::size_t i = 0; i < want.size(); ++i)
    if (want[i] >= 0 && (*io.dims)[i] >= 0 && (*io.dims)[i] != want[i])
      fail("must have shape " + dims_str(want) + ", has " + dims_str(*io.dims));
}

}  // namespace

void check_model_contract(Graph& g) {
  std::vector<IoInfo> inputs;
  for (const auto& name : kInputNames) {
    auto it = std::find_if(g.inputs.begin(), g.inputs.end(), [&](const IoInfo& io) { return io.name == name; });
    if (it == g.inputs.end() || g.inputs.size() != kInputNames.size())
      throw InputError("model " + g.source +
                       ": expected inputs 'spectrograms' and 'segment_mask' (docs/pipeline.md section 6), found " +
                       names_of(g.inputs) + "; is this an AttnMILResNet cough model?");
    inputs.push_back(*it);
  }
  check_io(g, inputs[0], onnx::TensorProto_DataType_FLOAT, "float32", {-1, -1, 3, 224, 224}, "input");
  check_io(g, inputs[1], onnx::TensorProto_DataType_BOOL, "bool", {-1, -1}, "input");
  std::vector<IoInfo> outputs;
  for (const auto& name : kOutputNames) {
    auto it = std::find_if(g.outputs.begin(), g.outputs.end(), [&](const IoInfo& io) { return io.name == name; });
    if (it == g.outputs.end())
      throw InputError("model " + g.source + ": output '" + name + "' is missing (docs/pipeline.md section 6 names " +
                       "bag_probability, segment_probabilities, segment_logits, bag_logit); found " +
                       names_of(g.outputs));
    outputs.push_back(*it);
  }
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    bool per_bag = k == 0 || k == 3;
    check_io(g, outputs[k], onnx::TensorProto_DataType_FLOAT, "float32",
             per_bag ? std::vector<std::int64_t>{-1} : std::vector<std::int64_t>{-1, -1}, "output");
  }
  g.inputs = std::move(inputs);
  g.outputs = std::move(outputs);
}

}  // namespace coughkit::model
