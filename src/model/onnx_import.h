#pragma once
// ONNX file -> Graph. Everything the engine cannot run exactly is rejected here, with an
// InputError that names the file, and the node and operator where there is one.
#include <string>

#include "model/graph.h"

namespace coughkit::model {

Graph import_onnx_file(const std::string& path);
// `source` names the model in messages.
Graph import_onnx_bytes(const std::string& bytes, const std::string& source);

}  // namespace coughkit::model
