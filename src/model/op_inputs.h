#pragma once
// What every CPU kernel file does first with a node's inputs (cpu_ops.cpp, quantized_ops.cpp):
// fetch input i, or refuse the model. A refusal is an InputError: the file asked for
// something the op cannot do, which the loader reports naming the node.
#include <cstddef>
#include <string>

#include "common/error.h"
#include "model/cpu_ops.h"

namespace coughkit::model::op_inputs {

[[noreturn]] inline void fail(const std::string& why) { throw InputError(why); }

inline const Tensor& in(const CpuInputs& inputs, std::size_t i) {
  if (i >= inputs.size() || !inputs[i]) fail("missing input " + std::to_string(i));
  return *inputs[i];
}

// Input i when the node has it (ONNX optional inputs: absent or given as "").
inline const Tensor* optional_in(const CpuInputs& inputs, std::size_t i) {
  return i < inputs.size() ? inputs[i] : nullptr;
}

}  // namespace coughkit::model::op_inputs
