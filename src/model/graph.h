#pragma once
// The executor's own graph: what onnx_import.cpp makes of an ONNX file, what the passes in
// graph_passes.h rewrite, and what executor.cpp runs. Values are numbered; a node names
// its inputs and outputs by value id (-1 for an omitted optional input).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/tensor.h"

namespace coughkit::model {

struct Attribute {
  enum class Kind { Int, Float, Ints, Floats, String, Tensor };
  Kind kind = Kind::Int;
  std::int64_t i = 0;
  float f = 0;
  std::vector<std::int64_t> ints;
  std::vector<float> floats;
  std::string s;
  std::optional<model::Tensor> t;
};

struct Node {
  std::string op;    // ONNX op type, or "FusedConv" after fuse_conv_post_ops
  std::string name;  // the ONNX node name (for messages), made up when the file has none
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::map<std::string, Attribute> attrs;
  // FusedConv: inputs are (x, W, B, [residual]); dst = relu?(conv + residual?).
  bool fused_sum = false;
  bool fused_relu = false;

  bool has(const std::string& attr) const { return attrs.count(attr) != 0; }
  std::int64_t attr_int(const std::string& attr, std::int64_t fallback) const;
  float attr_float(const std::string& attr, float fallback) const;
  std::vector<std::int64_t> attr_ints(const std::string& attr, std::vector<std::int64_t> fallback = {}) const;
  std::string attr_string(const std::string& attr, std::string fallback = "") const;
  int input(std::size_t i) const { return i < inputs.size() ? inputs[i] : -1; }
  std::string label() const;  // "node 'NAME' (OP)"
};

struct Value {
  std::string name;
  std::optional<Tensor> constant;  // initializers and folded results
};

// A graph input or output as the file declares it: ONNX elem type and dims (-1 = dynamic,
// empty optional = no shape given).
struct IoInfo {
  std::string name;
  int value = -1;
  int elem_type = 0;  // onnx::TensorProto_DataType
  std::optional<std::vector<std::int64_t>> dims;
};

struct Graph {
  std::string source;  // model file (for messages)
  int opset = 0;       // default-domain opset
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<IoInfo> inputs;
  std::vector<IoInfo> outputs;
  std::map<std::string, std::string> metadata;

  int add_value(std::string name);
  bool is_constant(int v) const { return v >= 0 && values[v].constant.has_value(); }
};

}  // namespace coughkit::model
