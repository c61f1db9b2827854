#pragma once
// ONNX file -> Graph. Everything the engine cannot run exactly is rejected here, with an
// InputError that names the file, and the node and operator where there is one.
#include <string>

#include "model/graph.h"

namespace coughkit::model {

Graph import_onnx_file(const std::string& path);
// `source` names the model in messages.
Graph import_onnx_bytes(const std::string& bytes, const std::string& source);
// A serialised onnx.TensorProto (the `.pb` files of ONNX's test data) -> Tensor; `what` names
// it in messages. Throws InputError for element types the engine does not have.
Tensor import_onnx_tensor(const std::string& bytes, const std::string& what);

}  // namespace coughkit::model
