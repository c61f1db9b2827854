#include "model/op_specs.h"

#include <algorithm>

#include "common/error.h"
#include "model/quantized_ops.h"

namespace coughkit::model {
namespace {

[[noreturn]] void fail(const std::string& why) { throw InputError(why); }

void require_ones(const Node& n, const char* attr) {
  for (auto v : n.attr_ints(attr))
    if (v != 1) fail(std::string("attribute ") + attr + " other than 1 is not supported");
}

// Conv, ConvInteger, MaxPool, AveragePool: 2-D, explicit or no padding, floor rounding.
void check_window_op(const Node& n, int) {
  const bool conv = n.op == "Conv" || n.op == "ConvInteger";
  std::string pad = n.attr_string("auto_pad", "NOTSET");
  if (pad != "NOTSET" && pad != "VALID") fail("attribute auto_pad=" + pad + " is not supported");
  if (n.has("kernel_shape") && n.attr_ints("kernel_shape").size() != 2)
    fail("only 2-D kernels are supported (kernel_shape has " + std::to_string(n.attr_ints("kernel_shape").size()) +
         " entries)");
  if (!conv && !n.has("kernel_shape")) fail("attribute kernel_shape is required");
  if (n.attr_int("ceil_mode", 0) != 0) fail("attribute ceil_mode=1 is not supported");
  if (n.op == "MaxPool") {
    require_ones(n, "dilations");
    if (n.attr_int("storage_order", 0) != 0) fail("attribute storage_order=1 is not supported");
  }
  for (const char* a : {"strides", "dilations"}) {
    if (n.has(a) && n.attr_ints(a).size() != 2) fail(std::string("attribute ") + a + " must have 2 entries (2-D)");
    for (auto v : n.attr_ints(a))
      if (v < 1) fail(std::string("attribute ") + a + " must be >= 1");
  }
  for (auto v : n.attr_ints("pads"))
    if (v < 0) fail("negative pads are not supported");
  if (n.has("pads") && n.attr_ints("pads").size() != 4) fail("attribute pads must have 4 entries (2-D)");
  if (n.attr_int("group", 1) < 1) fail("attribute group must be >= 1");
}

void check_batchnorm(const Node& n, int) {
  if (n.attr_int("training_mode", 0) != 0) fail("attribute training_mode=1 is not supported (inference only)");
}

// Inference only: Dropout is the identity, so a training_mode input (which could turn it on)
// is refused rather than ignored.
void check_dropout(const Node& n, int) {
  if (n.input(2) >= 0) fail("the training_mode input is not supported (inference only)");
}

void check_cast(const Node& n, int) {
  const auto to = n.attr_int("to", 0);
  // FLOAT=1, INT32=6, INT64=7, BOOL=9 (FLOAT16=10 exists in files only as stored weights).
  if (to != 1 && to != 6 && to != 7 && to != 9) fail("Cast to ONNX type " + std::to_string(to) + " is not supported");
}

// Unsqueeze, Squeeze, ReduceSum took `axes` as an attribute before opset 13, as an input since.
void check_axes_input(const Node& n, int opset) {
  const bool axes_input = opset >= 13;
  if (axes_input && n.has("axes")) fail("attribute axes is not valid at opset " + std::to_string(opset));
  if (!axes_input && n.inputs.size() > 1) fail("axes as an input needs opset >= 13");
  if (n.op == "Unsqueeze" && !axes_input && !n.has("axes")) fail("attribute axes is required");
  if (n.op == "Unsqueeze" && axes_input && n.input(1) < 0) fail("input axes is required");
}

void check_shape(const Node& n, int opset) {
  if (opset < 15 && (n.has("start") || n.has("end"))) fail("attributes start/end need opset >= 15");
}

void check_constant(const Node& n, int) {
  if (n.attrs.size() != 1) fail("exactly one value attribute is required");
}

using K = KernelKind;
namespace ck = cpu_kernels;

const std::vector<OpSpec>& table() {
  static const std::vector<OpSpec> specs = {
      // op, inputs, outputs, attributes, kernel, cpu kernel, value checks
      {"Conv",
       2,
       3,
       1,
       1,
       {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
       K::kConvolution,
       nullptr,
       check_window_op},
      {"FusedConv",
       2,
       4,
       1,
       1,
       {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
       K::kConvolution,
       nullptr,
       nullptr,
       true},
      {"MaxPool",
       1,
       1,
       1,
       1,
       {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"},
       K::kPooling,
       nullptr,
       check_window_op},
      {"AveragePool",
       1,
       1,
       1,
       1,
       {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"},
       K::kPooling,
       nullptr,
       check_window_op},
      {"GlobalAveragePool", 1, 1, 1, 1, {}, K::kCpu, ck::global_average_pool_op},
      {"Gemm", 2, 3, 1, 1, {"alpha", "beta", "transA", "transB"}, K::kMatMul},
      {"MatMul", 2, 2, 1, 1, {}, K::kMatMul},
      {"BatchNormalization",
       5,
       5,
       1,
       1,
       {"epsilon", "momentum", "training_mode"},
       K::kCpu,
       ck::batchnorm_op,
       check_batchnorm},
      {"Relu", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Tanh", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Sigmoid", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Neg", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Exp", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Sqrt", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Abs", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Not", 1, 1, 1, 1, {}, K::kCpu, ck::elementwise_unary},
      {"Add", 2, 2, 1, 1, {}, K::kCpu, ck::elementwise_binary},
      {"Sub", 2, 2, 1, 1, {}, K::kCpu, ck::elementwise_binary},
      {"Mul", 2, 2, 1, 1, {}, K::kCpu, ck::elementwise_binary},
      {"Div", 2, 2, 1, 1, {}, K::kCpu, ck::elementwise_binary},
      {"Equal", 2, 2, 1, 1, {}, K::kCpu, ck::elementwise_binary},
      {"Where", 3, 3, 1, 1, {}, K::kCpu, ck::where_op},
      // Softmax: every opset in range, including the 2-D coercion before 13.
      {"Softmax", 1, 1, 1, 1, {"axis"}, K::kCpu, ck::softmax_op},
      {"ReduceSum", 1, 2, 1, 1, {"axes", "keepdims", "noop_with_empty_axes"}, K::kCpu, ck::reduce_op, check_axes_input},
      {"ReduceMean", 1, 1, 1, 1, {"axes", "keepdims"}, K::kCpu, ck::reduce_op},
      {"Shape", 1, 1, 1, 1, {"start", "end"}, K::kCpu, ck::shape_op, check_shape},
      {"Gather", 2, 2, 1, 1, {"axis"}, K::kCpu, ck::gather_op},
      {"Concat", 1, 1 << 20, 1, 1, {"axis"}, K::kCpu, ck::concat_op},
      {"Reshape", 2, 2, 1, 1, {"allowzero"}, K::kCpu, ck::reshape_op},
      {"Unsqueeze", 1, 2, 1, 1, {"axes"}, K::kCpu, ck::unsqueeze_op, check_axes_input},
      {"Squeeze", 1, 2, 1, 1, {"axes"}, K::kCpu, ck::squeeze_op, check_axes_input},
      {"Flatten", 1, 1, 1, 1, {"axis"}, K::kCpu, ck::flatten_op},
      {"Identity", 1, 1, 1, 1, {}, K::kCpu, ck::identity_op},
      {"Dropout", 1, 3, 1, 2, {"ratio", "seed"}, K::kCpu, ck::dropout_op, check_dropout},
      {"Cast", 1, 1, 1, 1, {"to"}, K::kCpu, ck::cast_op, check_cast},
      {"Constant",
       0,
       0,
       1,
       1,
       {"value", "value_float", "value_floats", "value_int", "value_ints"},
       K::kCpu,
       ck::constant_op,
       check_constant},
      {"ConstantOfShape", 1, 1, 1, 1, {"value"}, K::kCpu, ck::constant_of_shape_op},
      {"Expand", 2, 2, 1, 1, {}, K::kCpu, ck::expand_op},
      {"Transpose", 1, 1, 1, 1, {"perm"}, K::kCpu, ck::transpose_op},
      {"Slice", 3, 5, 1, 1, {}, K::kCpu, ck::slice_op},
      // What ONNX Runtime's dynamic quantiser writes (model/quantized_ops.h).
      {"DynamicQuantizeLinear", 1, 1, 3, 3, {}, K::kCpu, ck::dynamic_quantize_linear_op},
      {"ConvInteger",
       2,
       4,
       1,
       1,
       {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
       K::kCpu,
       ck::conv_integer_op,
       check_window_op},
      {"MatMulInteger", 2, 4, 1, 1, {}, K::kCpu, ck::matmul_integer_op},
  };
  return specs;
}

}  // namespace

const OpSpec* find_op(const std::string& op) {
  for (const auto& s : table())
    if (op == s.op) return &s;
  return nullptr;
}

std::string supported_ops_list() {
  std::vector<std::string> names;
  for (const auto& s : table())
    if (!s.internal) names.emplace_back(s.op);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void check_node(const Node& node, int opset) {
  const OpSpec* spec = find_op(node.op);
  if (!spec || spec->internal) fail("unsupported operator '" + node.op + "'");
  int nin = static_cast<int>(node.inputs.size()), nout = static_cast<int>(node.outputs.size());
  if (nin < spec->min_inputs || nin > spec->max_inputs)
    fail(std::to_string(nin) + " inputs (expected " + std::to_string(spec->min_inputs) + ".." +
         std::to_string(spec->max_inputs) + ")");
  if (nout < spec->min_outputs || nout > spec->max_outputs)
    fail(std::to_string(nout) + " outputs (expected " + std::to_string(spec->min_outputs) + ".." +
         std::to_string(spec->max_outputs) + ")");
  for (const auto& [name, attr] : node.attrs)
    if (std::find(spec->attributes.begin(), spec->attributes.end(), name) == spec->attributes.end())
      fail("attribute '" + name + "' is not supported");
  if (spec->check_values) spec->check_values(node, opset);
}

std::vector<Tensor> run_cpu_op(const Node& node, const CpuInputs& inputs, int opset, BufferPool* pool) {
  const OpSpec* spec = find_op(node.op);
  if (!spec || spec->kernel != KernelKind::kCpu || !spec->cpu) throw InternalError("no CPU kernel for " + node.label());
  return spec->cpu(node, inputs, opset, pool);
}

}  // namespace coughkit::model
