#pragma once
// Builds small ONNX models in memory (onnx::ModelProto) for operator tests, and runs them
// through the same import -> optimise -> execute path as real models.
#include <cstdint>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "model/executor.h"
#include "model/tensor.h"

namespace coughkit::testing {

using model::DType;
using model::Shape;
using model::Tensor;

Tensor tensor_f(Shape shape, std::vector<float> values);
Tensor tensor_i(Shape shape, std::vector<std::int64_t> values);
Tensor tensor_b(Shape shape, std::vector<bool> values);
Tensor tensor_h(Shape shape, std::vector<std::uint16_t> bits);  // float16 bit patterns
std::vector<float> values_f(const Tensor& t);
std::vector<std::int64_t> values_i(const Tensor& t);

class ModelBuilder {
 public:
  explicit ModelBuilder(int opset = 17) { opset_ = opset; }
  // A graph input fed at run time.
  ModelBuilder& input(const std::string& name, Tensor value);
  // An initializer (constant; folded at load time when its consumers allow).
  ModelBuilder& constant(const std::string& name, const Tensor& value);
  ModelBuilder& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                     std::vector<onnx::AttributeProto> attrs = {});
  ModelBuilder& output(const std::string& name);

  onnx::ModelProto proto() const;
  std::string bytes() const { return proto().SerializeAsString(); }
  // Imports, optimises and runs the model; `kernels_used` receives Executor::kernels_used().
  std::vector<Tensor> run(model::ExecutorOptions options = {}, std::vector<std::string>* kernels_used = nullptr) const;

 private:
  int opset_;
  std::vector<std::pair<std::string, Tensor>> inputs_, constants_;
  std::vector<onnx::NodeProto> nodes_;
  std::vector<std::string> outputs_;
};

// One node whose inputs are all run-time inputs named in0, in1, ... (or "" to omit).
std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& inputs,
                           std::vector<onnx::AttributeProto> attrs = {}, int opset = 17, int outputs = 1);

onnx::AttributeProto attr_i(const std::string& name, std::int64_t v);
onnx::AttributeProto attr_f(const std::string& name, float v);
onnx::AttributeProto attr_ints(const std::string& name, std::vector<std::int64_t> v);
onnx::AttributeProto attr_s(const std::string& name, const std::string& v);
onnx::AttributeProto attr_t(const std::string& name, const Tensor& v);

// |got - want| <= 1e-5 + 1e-4 |want| element-wise (ONNX Runtime's fp32 OpTester tolerance), and the shape.
void expect_close(const Tensor& got, const Shape& shape, const std::vector<float>& want, double abs_tol = 1e-5,
                  double rel_tol = 1e-4);

// Direct convolution in double precision, NCHW / OIHW, for checking oneDNN's.
std::vector<float> reference_conv(const Tensor& x, const Tensor& w, const Tensor* b, std::vector<std::int64_t> strides,
                                  std::vector<std::int64_t> pads, std::vector<std::int64_t> dilations,
                                  std::int64_t group, Shape& out_shape);

// Deterministic pseudo-random floats in [-1, 1).
std::vector<float> random_floats(std::size_t n, std::uint32_t seed);

}  // namespace coughkit::testing
