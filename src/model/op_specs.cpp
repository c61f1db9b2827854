#include "model/op_specs.h"

#include <algorithm>
#include <set>
#include <vector>

#include "common/error.h"

namespace coughkit::model {
namespace {

struct OpSpec {
  const char* op;
  int min_in, max_in, min_out, max_out;
  std::vector<std::string> attrs;
};

// Attribute lists are the ONNX ones for opsets 11-17. Attributes whose values the engine
// restricts are checked in check_values() below.
const std::vector<OpSpec>& specs() {
  static const std::vector<OpSpec> table = {
      {"Conv", 2, 3, 1, 1, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}},
      {"MaxPool", 1, 1, 1, 1, {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"}},
      {"AveragePool", 1, 1, 1, 1, {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}},
      {"GlobalAveragePool", 1, 1, 1, 1, {}},
      {"Gemm", 2, 3, 1, 1, {"alpha", "beta", "transA", "transB"}},
      {"MatMul", 2, 2, 1, 1, {}},
      {"BatchNormalization", 5, 5, 1, 1, {"epsilon", "momentum", "training_mode"}},
      {"Relu", 1, 1, 1, 1, {}},
      {"Tanh", 1, 1, 1, 1, {}},
      {"Sigmoid", 1, 1, 1, 1, {}},
      {"Neg", 1, 1, 1, 1, {}},
      {"Exp", 1, 1, 1, 1, {}},
      {"Sqrt", 1, 1, 1, 1, {}},
      {"Abs", 1, 1, 1, 1, {}},
      {"Add", 2, 2, 1, 1, {}},
      {"Sub", 2, 2, 1, 1, {}},
      {"Mul", 2, 2, 1, 1, {}},
      {"Div", 2, 2, 1, 1, {}},
      {"Equal", 2, 2, 1, 1, {}},
      {"Not", 1, 1, 1, 1, {}},
      {"Where", 3, 3, 1, 1, {}},
      {"Softmax", 1, 1, 1, 1, {"axis"}},
      {"ReduceSum", 1, 2, 1, 1, {"axes", "keepdims", "noop_with_empty_axes"}},
      {"ReduceMean", 1, 1, 1, 1, {"axes", "keepdims"}},
      {"Shape", 1, 1, 1, 1, {"start", "end"}},
      {"Gather", 2, 2, 1, 1, {"axis"}},
      {"Concat", 1, 1 << 20, 1, 1, {"axis"}},
      {"Reshape", 2, 2, 1, 1, {"allowzero"}},
      {"Unsqueeze", 1, 2, 1, 1, {"axes"}},
      {"Squeeze", 1, 2, 1, 1, {"axes"}},
      {"Flatten", 1, 1, 1, 1, {"axis"}},
      {"Identity", 1, 1, 1, 1, {}},
      {"Dropout", 1, 3, 1, 2, {"ratio", "seed"}},
      {"Cast", 1, 1, 1, 1, {"to"}},
      {"Constant", 0, 0, 1, 1, {"value", "value_float", "value_floats", "value_int", "value_ints"}},
      {"ConstantOfShape", 1, 1, 1, 1, {"value"}},
      {"Expand", 2, 2, 1, 1, {}},
      {"Transpose", 1, 1, 1, 1, {"perm"}},
      {"Slice", 3, 5, 1, 1, {}},
  };
  return table;
}

const OpSpec* find(const std::string& op) {
  for (const auto& s : specs())
    if (op == s.op) return &s;
  return nullptr;
}

[[noreturn]] void fail(const std::string& why) { throw InputError(why); }

void require_ones(const Node& n, const char* attr) {
  for (auto v : n.attr_ints(attr))
    if (v != 1) fail(std::string("attribute ") + attr + " other than 1 is not supported");
}

void check_values(const Node& n, int opset) {
  const std::string& op = n.op;
  if (op == "Conv" || op == "MaxPool" || op == "AveragePool") {
    std::string pad = n.attr_string("auto_pad", "NOTSET");
    if (pad != "NOTSET" && pad != "VALID") fail("attribute auto_pad=" + pad + " is not supported");
    if (n.has("kernel_shape") && n.attr_ints("kernel_shape").size() != 2)
      fail("only 2-D kernels are supported (kernel_shape has " +
           std::to_string(n.attr_ints("kernel_shape").size()) + " entries)");
    if (op != "Conv" && !n.has("kernel_shape")) fail("attribute kernel_shape is required");
    if (n.attr_int("ceil_mode", 0) != 0) fail("attribute ceil_mode=1 is not supported");
    if (op == "MaxPool") require_ones(n, "dilations");
    for (const char* a : {"strides", "dilations"})
      for (auto v : n.attr_ints(a))
        if (v < 1) fail(std::string("attribute ") + a + " must be >= 1");
    for (auto v : n.attr_ints("pads"))
      if (v < 0) fail("negative pads are not supported");
    if (n.has("pads") && n.attr_ints("pads").size() != 4) fail("attribute pads must have 4 entries (2-D)");
    if (n.attr_int("group", 1) < 1) fail("attribute group must be >= 1");
  } else if (op == "BatchNormalization") {
    if (n.attr_int("training_mode", 0) != 0) fail("attribute training_mode=1 is not supported (inference only)");
  } else if (op == "Cast") {
    auto to = n.attr_int("to", 0);
    // FLOAT=1, INT32=6, INT64=7, BOOL=9, FLOAT16=10
    if (to != 1 && to != 6 && to != 7 && to != 9 && to != 10)
      fail("Cast to ONNX type " + std::to_string(to) + " is not supported");
  } else if (op == "Unsqueeze" || op == "Squeeze" || op == "ReduceSum") {
    bool axes_input = opset >= 13;
    if (axes_input && n.has("axes")) fail("attribute axes is not valid at opset " + std::to_string(opset));
    if (!axes_input && n.inputs.size() > 1) fail("axes as an input needs opset >= 13");
    if (op == "Unsqueeze" && !axes_input && !n.has("axes")) fail("attribute axes is required");
    if (op == "Unsqueeze" && axes_input && n.input(1) < 0) fail("input axes is required");
  } else if (op == "Softmax" || op == "ReduceMean") {
    // Both handled for every opset in range (Softmax's 2-D coercion before 13).
  } else if (op == "Shape") {
    if (opset < 15 && (n.has("start") || n.has("end"))) fail("attributes start/end need opset >= 15");
  } else if (op == "Constant") {
    if (n.attrs.size() != 1) fail("exactly one value attribute is required");
  }
}

}  // namespace

bool is_supported_op(const std::string& op) { return find(op) != nullptr; }

std::string supported_ops_list() {
  std::vector<std::string> names;
  for (const auto& s : specs()) names.emplace_back(s.op);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void check_node(const Node& node, int opset) {
  const OpSpec* spec = find(node.op);
  if (!spec) fail("unsupported operator '" + node.op + "'");
  int nin = static_cast<int>(node.inputs.size()), nout = static_cast<int>(node.outputs.size());
  if (nin < spec->min_in || nin > spec->max_in)
    fail(std::to_string(nin) + " inputs (expected " + std::to_string(spec->min_in) + ".." +
         std::to_string(spec->max_in) + ")");
  if (nout < spec->min_out || nout > spec->max_out)
    fail(std::to_string(nout) + " outputs (expected " + std::to_string(spec->min_out) + ".." +
         std::to_string(spec->max_out) + ")");
  for (const auto& [name, attr] : node.attrs)
    if (std::find(spec->attrs.begin(), spec->attrs.end(), name) == spec->attrs.end())
      fail("attribute '" + name + "' is not supported");
  check_values(node, opset);
}

}  // namespace coughkit::model
