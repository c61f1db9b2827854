#pragma once
// The one table of the operators the engine runs: for each, its arity, the attributes it
// understands, the checks on their values, and which kernel computes it. The importer
// refuses anything outside the table (an InputError at load time, never a wrong answer);
// constant folding and the executor look their kernel up here.
#include <string>
#include <vector>

#include "model/cpu_ops.h"
#include "model/graph.h"

namespace coughkit::model {

// Lowest and highest default-domain opsets accepted (those torch.onnx.export of
// AttnMILResNet was checked at; see tools/reference/export_models.py).
inline constexpr int kMinOpset = 11;
inline constexpr int kMaxOpset = 17;

enum class KernelKind {
  kCpu,          // plain C++ (cpu_ops.h), also used for constant folding
  kConvolution,  // oneDNN / own Winograd (dnnl_kernels.h); FusedConv after graph passes
  kPooling,      // oneDNN / own max pool
  kMatMul,       // oneDNN matmul
};

struct OpSpec {
  const char* op;
  int min_inputs, max_inputs, min_outputs, max_outputs;
  std::vector<std::string> attributes;  // the ONNX ones for opsets 11-17 that the engine honours
  KernelKind kernel;
  CpuKernel cpu = nullptr;                                 // kCpu only
  void (*check_values)(const Node&, int opset) = nullptr;  // throws InputError (reason only)
  bool internal = false;                                   // made by the graph passes, never accepted from a file
};

// The table entry of `op` (nullptr when the engine has none).
const OpSpec* find_op(const std::string& op);
// Sorted, comma-separated names of the ops a file may use.
std::string supported_ops_list();

// Throws InputError (reason only; the importer adds file and node) when the node is not in
// the table or its input or output count, an attribute name or an attribute value is not
// supported.
void check_node(const Node& node, int opset);

// Runs a kCpu node. Throws InternalError for an op without a CPU kernel.
std::vector<Tensor> run_cpu_op(const Node& node, const CpuInputs& inputs, int opset, BufferPool* pool);

}  // namespace coughkit::model
