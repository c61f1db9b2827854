#include "model_builder.h"

#include <cstring>

#include <gtest/gtest.h>

#include "model/graph_passes.h"
#include "model/onnx_import.h"

namespace coughkit::testing {
namespace {

int onnx_type(DType t) {
  switch (t) {
    case DType::Float: return onnx::TensorProto_DataType_FLOAT;
    case DType::Float16: return onnx::TensorProto_DataType_FLOAT16;
    case DType::Int64: return onnx::TensorProto_DataType_INT64;
    case DType::Int32: return onnx::TensorProto_DataType_INT32;
    case DType::Bool: return onnx::TensorProto_DataType_BOOL;
    case DType::UInt8: return onnx::TensorProto_DataType_UINT8;
    case DType::Int8: return onnx::TensorProto_DataType_INT8;
  }
  return 0;
}

onnx::TensorProto to_proto(const std::string& name, const Tensor& t) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(onnx_type(t.dtype));
  for (auto d : t.shape) p.add_dims(d);
  p.set_raw_data(std::string(static_cast<const char*>(t.storage.get()), t.bytes()));
  return p;
}

onnx::ValueInfoProto value_info(const std::string& name, const Tensor* t) {
  onnx::ValueInfoProto v;
  v.set_name(name);
  auto* tt = v.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(t ? onnx_type(t->dtype) : onnx::TensorProto_DataType_FLOAT);
  if (t)
    for (auto d : t->shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  return v;
}

}  // namespace

Tensor tensor_f(Shape shape, std::vector<float> values) {
  Tensor t = Tensor::allocate(DType::Float, std::move(shape));
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), values.size());
  if (!values.empty()) std::memcpy(t.storage.get(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor tensor_i(Shape shape, std::vector<std::int64_t> values) {
  Tensor t = Tensor::allocate(DType::Int64, std::move(shape));
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), values.size());
  if (!values.empty()) std::memcpy(t.storage.get(), values.data(), values.size() * sizeof(std::int64_t));
  return t;
}

Tensor tensor_b(Shape shape, std::vector<bool> values) {
  Tensor t = Tensor::allocate(DType::Bool, std::move(shape));
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
  return t;
}

Tensor tensor_h(Shape shape, std::vector<std::uint16_t> bits) {
  Tensor t = Tensor::allocate(DType::Float16, std::move(shape));
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), bits.size());
  std::memcpy(t.storage.get(), bits.data(), bits.size() * 2);
  return t;
}

std::vector<float> values_f(const Tensor& t) {
  EXPECT_EQ(t.dtype, DType::Float);
  return {t.data<float>(), t.data<float>() + t.numel()};
}

std::vector<std::int64_t> values_i(const Tensor& t) {
  EXPECT_EQ(t.dtype, DType::Int64);
  return {t.data<std::int64_t>(), t.data<std::int64_t>() + t.numel()};
}

ModelBuilder& ModelBuilder::input(const std::string& name, Tensor value) {
  inputs_.emplace_back(name, std::move(value));
  return *this;
}

ModelBuilder& ModelBuilder::constant(const std::string& name, const Tensor& value) {
  constants_.emplace_back(name, value);
  return *this;
}

ModelBuilder& ModelBuilder::node(const std::string& op, std::vector<std::string> inputs,
                                 std::vector<std::string> outputs, std::vector<onnx::AttributeProto> attrs) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name("test_" + op + "_" + std::to_string(nodes_.size()));
  for (auto& i : inputs) n.add_input(i);
  for (auto& o : outputs) n.add_output(o);
  for (auto& a : attrs) *n.add_attribute() = a;
  nodes_.push_back(n);
  return *this;
}

ModelBuilder& ModelBuilder::output(const std::string& name) {
  outputs_.push_back(name);
  return *this;
}

onnx::ModelProto ModelBuilder::proto() const {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset_);
  auto* g = m.mutable_graph();
  g->set_name("test");
  for (const auto& [name, t] : inputs_) *g->add_input() = value_info(name, &t);
  for (const auto& [name, t] : constants_) *g->add_initializer() = to_proto(name, t);
  for (const auto& n : nodes_) *g->add_node() = n;
  for (const auto& o : outputs_) *g->add_output() = value_info(o, nullptr);
  return m;
}

std::vector<Tensor> ModelBuilder::run(model::ExecutorOptions options, std::vector<std::string>* kernels_used) const {
  model::Graph g = model::import_onnx_bytes(bytes(), "test-model");
  model::optimize(g);
  model::Executor exec(std::move(g), options);
  std::vector<Tensor> ins;
  for (const auto& [name, t] : inputs_) ins.push_back(t);
  auto outs = exec.run(ins);
  if (kernels_used) *kernels_used = exec.kernels_used();
  return outs;
}

std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& inputs,
                           std::vector<onnx::AttributeProto> attrs, int opset, int outputs) {
  ModelBuilder b(opset);
  std::vector<std::string> in_names, out_names;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].storage) {
      in_names.push_back("in" + std::to_string(i));
      b.input(in_names.back(), inputs[i]);
    } else {
      in_names.emplace_back("");  // omitted optional input
    }
  }
  for (int k = 0; k < outputs; ++k) {
    out_names.push_back("out" + std::to_string(k));
    b.output(out_names.back());
  }
  b.node(op, in_names, out_names, std::move(attrs));
  return b.run();
}

onnx::AttributeProto attr_i(const std::string& name, std::int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto_AttributeType_INT);
  a.set_i(v);
  return a;
}

onnx::AttributeProto attr_f(const std::string& name, float v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto_AttributeType_FLOAT);
  a.set_f(v);
  return a;
}

onnx::AttributeProto attr_ints(const std::string& name, std::vector<std::int64_t> v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto_AttributeType_INTS);
  for (auto x : v) a.add_ints(x);
  return a;
}

onnx::AttributeProto attr_s(const std::string& name, const std::string& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto_AttributeType_STRING);
  a.set_s(v);
  return a;
}

onnx::AttributeProto attr_t(const std::string& name, const Tensor& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto_AttributeType_TENSOR);
  *a.mutable_t() = to_proto("", v);
  return a;
}

void expect_close(const Tensor& got, const Shape& shape, const std::vector<float>& want, double abs_tol,
                  double rel_tol) {
  ASSERT_EQ(got.dtype, DType::Float);
  ASSERT_EQ(got.shape, shape) << "got " << model::shape_str(got.shape) << " want " << model::shape_str(shape);
  ASSERT_EQ(static_cast<std::size_t>(got.numel()), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_LE(std::abs(static_cast<double>(got.data<float>()[i]) - want[i]), abs_tol + rel_tol * std::abs(want[i]))
        << "element " << i << ": got " << got.data<float>()[i] << " want " << want[i];
}

std::vector<float> reference_conv(const Tensor& x, const Tensor& w, const Tensor* b, std::vector<std::int64_t> s,
                                  std::vector<std::int64_t> p, std::vector<std::int64_t> d, std::int64_t group,
                                  Shape& out_shape) {
  std::int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  std::int64_t oc = w.shape[0], icg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  std::int64_t oh = (h + p[0] + p[2] - ((kh - 1) * d[0] + 1)) / s[0] + 1;
  std::int64_t ow = (wd + p[1] + p[3] - ((kw - 1) * d[1] + 1)) / s[1] + 1;
  out_shape = {n, oc, oh, ow};
  std::vector<float> y(static_cast<std::size_t>(n * oc * oh * ow));
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  std::int64_t ocg = oc / group;
  for (std::int64_t in = 0; in < n; ++in)
    for (std::int64_t o = 0; o < oc; ++o)
      for (std::int64_t yy = 0; yy < oh; ++yy)
        for (std::int64_t xx = 0; xx < ow; ++xx) {
          double acc = b ? b->data<float>()[o] : 0.0;
          std::int64_t g = o / ocg;
          for (std::int64_t i = 0; i < icg; ++i)
            for (std::int64_t ky = 0; ky < kh; ++ky)
              for (std::int64_t kx = 0; kx < kw; ++kx) {
                std::int64_t iy = yy * s[0] - p[0] + ky * d[0], ix = xx * s[1] - p[1] + kx * d[1];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += static_cast<double>(px[((in * c + g * icg + i) * h + iy) * wd + ix]) *
                       pw[((o * icg + i) * kh + ky) * kw + kx];
              }
          y[static_cast<std::size_t>(((in * oc + o) * oh + yy) * ow + xx)] = static_cast<float>(acc);
        }
  return y;
}

std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  std::uint32_t state = seed * 2654435761u + 1;
  for (auto& x : v) {
    state = state * 1664525u + 1013904223u;  // LCG: reproducible everywhere, no <random> differences
    x = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 2.f - 1.f;
  }
  return v;
}

}  // namespace coughkit::testing
