#pragma once
// The small operators, in plain C++: shape arithmetic, the attention tail of AttnMILResNet
// and everything else that is not a convolution, pooling or matrix product. They run on
// plain row-major tensors; the same code constant-folds the graph at load time. Which op
// runs which kernel is said once, in the op table (op_specs.h).
#include <vector>

#include "model/graph.h"
#include "model/tensor.h"

namespace coughkit::model {

// Inputs aligned with node.inputs; nullptr for an omitted optional input.
using CpuInputs = std::vector<const Tensor*>;
// A CPU kernel: the node's outputs. Throws InputError when the shapes or types do not fit.
using CpuKernel = std::vector<Tensor> (*)(const Node& node, const CpuInputs& inputs, int opset, BufferPool* pool);

namespace cpu_kernels {
std::vector<Tensor> elementwise_unary(const Node&, const CpuInputs&, int, BufferPool*);   // Relu, Tanh, ..., Not
std::vector<Tensor> elementwise_binary(const Node&, const CpuInputs&, int, BufferPool*);  // Add, Sub, Mul, Div, Equal
std::vector<Tensor> where_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> softmax_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> reduce_op(const Node&, const CpuInputs&, int, BufferPool*);  // ReduceSum, ReduceMean
std::vector<Tensor> shape_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> gather_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> concat_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> reshape_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> unsqueeze_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> squeeze_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> flatten_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> identity_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> dropout_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> cast_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> constant_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> constant_of_shape_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> expand_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> transpose_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> slice_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> batchnorm_op(const Node&, const CpuInputs&, int, BufferPool*);
std::vector<Tensor> global_average_pool_op(const Node&, const CpuInputs&, int, BufferPool*);
}  // namespace cpu_kernels

// Broadcast of two shapes by the ONNX (NumPy) rules; throws InputError when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

// Integer contents of a shape-like tensor (int64 or int32).
std::vector<std::int64_t> tensor_to_ints(const Tensor& t);

}  // namespace coughkit::model
