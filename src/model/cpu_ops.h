#pragma once
// The small operators, in plain C++: shape arithmetic, the attention tail of AttnMILResNet
// and everything else that is not a convolution, pooling or matrix product. They run on
// plain row-major tensors; the same code constant-folds the graph at load time.
#include <vector>

#include "model/graph.h"
#include "model/tensor.h"

namespace coughkit::model {

bool is_cpu_op(const std::string& op);

// Runs `node` on `inputs` (aligned with node.inputs; nullptr for an omitted optional input)
// and returns its outputs. Throws InputError when the shapes or types do not fit the op.
std::vector<Tensor> run_cpu_op(const Node& node, const std::vector<const Tensor*>& inputs, int opset,
                               BufferPool* pool);

// Broadcast of two shapes by the ONNX (NumPy) rules; throws InputError when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

// Integer contents of a shape-like tensor (int64 or int32).
std::vector<std::int64_t> tensor_to_ints(const Tensor& t);

}  // namespace coughkit::model
