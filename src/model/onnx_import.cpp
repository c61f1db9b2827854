#include "model/onnx_import.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <onnx/onnx_pb.h>

#include "common/error.h"
#include "model/op_specs.h"

namespace coughkit::model {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& why) {
  throw InputError("model " + source + ": " + why);
}

std::optional<DType> dtype_of(int onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto_DataType_FLOAT: return DType::Float;
    case onnx::TensorProto_DataType_FLOAT16: return DType::Float16;
    case onnx::TensorProto_DataType_INT64: return DType::Int64;
    case onnx::TensorProto_DataType_INT32: return DType::Int32;
    case onnx::TensorProto_DataType_BOOL: return DType::Bool;
    case onnx::TensorProto_DataType_UINT8: return DType::UInt8;
    case onnx::TensorProto_DataType_INT8: return DType::Int8;
    default: return std::nullopt;
  }
}

std::string type_name(int onnx_type) {
  const auto* d = onnx::TensorProto_DataType_descriptor();
  const auto* v = d ? d->FindValueByNumber(onnx_type) : nullptr;
  return v ? v->name() : std::to_string(onnx_type);
}

// TensorProto -> Tensor; `what` names the tensor for messages.
Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& what) {
  auto dtype = dtype_of(p.data_type());
  if (!dtype) throw InputError(what + " has unsupported element type " + type_name(p.data_type()));
  if (p.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
    throw InputError(what + " uses external data, which is not supported (save the model as one file)");
  if (p.has_segment()) throw InputError(what + " is segmented, which is not supported");
  Shape shape(p.dims().begin(), p.dims().end());
  std::int64_t n = shape_numel(shape);
  Tensor t = Tensor::allocate(*dtype, shape);
  auto count_mismatch = [&](std::int64_t got) {
    throw InputError(what + " holds " + std::to_string(got) + " values, its shape " + shape_str(shape) + " needs " +
                     std::to_string(n));
  };
  if (p.has_raw_data()) {
    const std::string& raw = p.raw_data();
    if (raw.size() != t.bytes()) count_mismatch(static_cast<std::int64_t>(raw.size() / dtype_size(*dtype)));
    if (!raw.empty()) std::memcpy(t.storage.get(), raw.data(), raw.size());  // x86-64 is little-endian, as ONNX
    return t;
  }
  switch (*dtype) {
    case DType::Float:
      if (p.float_data_size() != n) count_mismatch(p.float_data_size());
      std::copy(p.float_data().begin(), p.float_data().end(), t.data<float>());
      break;
    case DType::Int64:
      if (p.int64_data_size() != n) count_mismatch(p.int64_data_size());
      std::copy(p.int64_data().begin(), p.int64_data().end(), t.data<std::int64_t>());
      break;
    case DType::Int32:
    case DType::Bool:
    case DType::Float16:
    case DType::UInt8:
    case DType::Int8:
      if (p.int32_data_size() != n) count_mismatch(p.int32_data_size());
      for (std::int64_t i = 0; i < n; ++i) {
        std::int32_t v = p.int32_data(static_cast<int>(i));
        switch (*dtype) {
          case DType::Int32: t.data<std::int32_t>()[i] = v; break;
          case DType::Bool: t.data<bool>()[i] = v != 0; break;
          case DType::UInt8:
            if (v < 0 || v > 255) throw InputError(what + " holds " + std::to_string(v) + ", not a uint8 value");
            t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(v);
            break;
          case DType::Int8:
            if (v < -128 || v > 127) throw InputError(what + " holds " + std::to_string(v) + ", not an int8 value");
            t.data<std::int8_t>()[i] = static_cast<std::int8_t>(v);
            break;
          default: t.data<std::uint16_t>()[i] = static_cast<std::uint16_t>(v);  // fp16 bits in the low half
        }
      }
      break;
  }
  return t;
}

Attribute attribute_from_proto(const onnx::AttributeProto& a, const std::string& what) {
  Attribute out;
  switch (a.type()) {
    case onnx::AttributeProto_AttributeType_INT:
      out.kind = Attribute::Kind::Int;
      out.i = a.i();
      break;
    case onnx::AttributeProto_AttributeType_FLOAT:
      out.kind = Attribute::Kind::Float;
      out.f = a.f();
      break;
    case onnx::AttributeProto_AttributeType_INTS:
      out.kind = Attribute::Kind::Ints;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto_AttributeType_FLOATS:
      out.kind = Attribute::Kind::Floats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    case onnx::AttributeProto_AttributeType_STRING:
      out.kind = Attribute::Kind::String;
      out.s = a.s();
      break;
    case onnx::AttributeProto_AttributeType_TENSOR:
      out.kind = Attribute::Kind::Tensor;
      out.t = tensor_from_proto(a.t(), what + " attribute '" + a.name() + "'");
      break;
    default:
      throw InputError(what + " attribute '" + a.name() + "' has an unsupported type (" + std::to_string(a.type()) +
                       ")");
  }
  return out;
}

IoInfo io_info(const onnx::ValueInfoProto& v) {
  IoInfo info;
  info.name = v.name();
  if (v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    info.elem_type = tt.elem_type();
    if (tt.has_shape()) {
      std::vector<std::int64_t> dims;
      for (const auto& d : tt.shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
      info.dims = dims;
    }
  }
  return info;
}

}  // namespace

Graph import_onnx_bytes(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.empty()) fail(source, "the file is empty");
  if (!model.ParseFromString(bytes))
    fail(source, "not an ONNX model (the protobuf does not parse; truncated or another format?)");
  if (!model.has_graph() || model.graph().node_size() == 0 || model.graph().output_size() == 0)
    fail(source, "not an ONNX model (no graph with nodes and outputs)");

  Graph g;
  g.source = source;
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = static_cast<int>(op.version());
  if (g.opset == 0) fail(source, "declares no ai.onnx opset");
  if (g.opset < kMinOpset || g.opset > kMaxOpset)
    fail(source, "opset " + std::to_string(g.opset) + " is not supported (supported: " + std::to_string(kMinOpset) +
                     "-" + std::to_string(kMaxOpset) + ")");
  for (const auto& kv : model.metadata_props()) g.metadata[kv.key()] = kv.value();

  const auto& graph = model.graph();
  if (graph.sparse_initializer_size() > 0) fail(source, "sparse initializers are not supported");
  std::unordered_map<std::string, int> ids;
  auto define = [&](const std::string& name, const std::string& by) {
    if (ids.count(name)) fail(source, "value '" + name + "' is defined twice (" + by + ")");
    int id = g.add_value(name);
    ids[name] = id;
    return id;
  };
  for (const auto& init : graph.initializer()) {
    int id = define(init.name(), "initializer");
    try {
      g.values[id].constant = tensor_from_proto(init, "initializer '" + init.name() + "'");
    } catch (const InputError& e) {
      fail(source, e.what());
    }
  }
  for (const auto& in : graph.input()) {
    if (ids.count(in.name()) && g.is_constant(ids[in.name()])) continue;  // IR < 4 lists initializers as inputs
    if (!in.type().has_tensor_type())
      fail(source,
           "graph input '" + in.name() + "' is not a tensor (sequence, map and optional types are not supported)");
    IoInfo info = io_info(in);
    if (info.elem_type != 0 && !dtype_of(info.elem_type))
      fail(source, "graph input '" + in.name() + "' has unsupported element type " + type_name(info.elem_type));
    info.value = define(in.name(), "graph input");
    g.inputs.push_back(info);
  }

  int index = 0;
  // Graph inputs by value id, for the float-only check of the oneDNN kernels' inputs below.
  std::unordered_map<int, const IoInfo*> graph_input_of;
  for (const auto& in : g.inputs) graph_input_of[in.value] = &in;
  for (const auto& np : graph.node()) {
    Node node;
    node.op = np.op_type();
    node.name = np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
    ++index;
    if (!np.domain().empty() && np.domain() != "ai.onnx")
      fail(source, "unsupported operator '" + np.domain() + "::" + node.op + "' (" + node.label() + ")");
    if (const OpSpec* spec = find_op(node.op); !spec || spec->internal)
      fail(source, "unsupported operator '" + node.op + "' (" + node.label() + "); supported: " + supported_ops_list());
    for (const auto& name : np.input()) {
      if (name.empty()) {
        node.inputs.push_back(-1);
        continue;
      }
      auto it = ids.find(name);
      if (it == ids.end())
        fail(source, node.label() + " uses value '" + name + "', which no earlier node, input or initializer defines");
      node.inputs.push_back(it->second);
    }
    while (!node.inputs.empty() && node.inputs.back() < 0) node.inputs.pop_back();
    for (const auto& a : np.attribute()) {
      try {
        node.attrs[a.name()] = attribute_from_proto(a, node.label());
      } catch (const InputError& e) {
        fail(source, e.what());
      }
    }
    for (const auto& name : np.output()) node.outputs.push_back(name.empty() ? -1 : define(name, node.label()));
    while (!node.outputs.empty() && node.outputs.back() < 0) node.outputs.pop_back();
    try {
      check_node(node, g.opset);
    } catch (const InputError& e) {
      fail(source, node.label() + ": " + e.what());
    }
    // The oneDNN kernels (convolution, pooling, matrix products) take float32 only; a graph
    // input of another type declared for one of them is refused here rather than at run time.
    if (find_op(node.op)->kernel != KernelKind::kCpu)
      for (int v : node.inputs) {
        const auto it = v >= 0 ? graph_input_of.find(v) : graph_input_of.end();
        if (it == graph_input_of.end()) continue;
        const IoInfo& in = *it->second;
        if (in.elem_type != 0 && in.elem_type != onnx::TensorProto_DataType_FLOAT)
          fail(source,
               node.label() + " takes float32 only; graph input '" + in.name + "' is " + type_name(in.elem_type));
      }
    g.nodes.push_back(std::move(node));
  }
  for (const auto& out : graph.output()) {
    auto it = ids.find(out.name());
    if (it == ids.end()) fail(source, "graph output '" + out.name() + "' is not computed by any node");
    if (out.has_type() && !out.type().has_tensor_type())
      fail(source,
           "graph output '" + out.name() + "' is not a tensor (sequence, map and optional types are not supported)");
    IoInfo info = io_info(out);
    if (info.elem_type != 0 && !dtype_of(info.elem_type))
      fail(source, "graph output '" + out.name() + "' has unsupported element type " + type_name(info.elem_type));
    info.value = it->second;
    g.outputs.push_back(info);
  }
  return g;
}

Tensor import_onnx_tensor(const std::string& bytes, const std::string& what) {
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) throw InputError(what + ": not a serialised ONNX tensor");
  return tensor_from_proto(proto, what);
}

Graph import_onnx_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("model " + path + ": cannot open the file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in && !in.eof()) throw InputError("model " + path + ": cannot read the file");
  return import_onnx_bytes(buf.str(), path);
}

}  // namespace coughkit::model
