#pragma once
// The operators the engine implements and the attributes it understands: the load-time
// gate that turns anything else into an InputError instead of a wrong answer.
#include <string>

#include "model/graph.h"

namespace coughkit::model {

// Lowest and highest default-domain opsets accepted (those torch.onnx.export of
// AttnMILResNet was checked at; see tools/reference/export_models.py).
inline constexpr int kMinOpset = 11;
inline constexpr int kMaxOpset = 17;

bool is_supported_op(const std::string& op);
std::string supported_ops_list();

// Throws InputError (reason only; the importer adds file and node) when the node's input
// or output count, an attribute name or an attribute value is not supported.
void check_node(const Node& node, int opset);

}  // namespace coughkit::model
