#include "model/graph_passes.h"

#include <cmath>
#include <set>

#include "common/error.h"
#include "model/op_specs.h"

namespace coughkit::model {
namespace {

// How many node inputs and graph outputs read each value.
std::vector<int> use_counts(const Graph& g) {
  std::vector<int> uses(g.values.size(), 0);
  for (const auto& n : g.nodes)
    for (int v : n.inputs)
      if (v >= 0) ++uses[v];
  for (const auto& o : g.outputs) ++uses[o.value];
  return uses;
}

bool is_graph_output(const Graph& g, int v) {
  for (const auto& o : g.outputs)
    if (o.value == v) return true;
  return false;
}

// The node reading `v`, when exactly one node does (and no graph output).
int sole_consumer(const Graph& g, const std::vector<int>& uses, int v) {
  if (uses[v] != 1 || is_graph_output(g, v)) return -1;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (int in : g.nodes[i].inputs)
      if (in == v) return static_cast<int>(i);
  return -1;
}

void erase_marked(Graph& g, const std::vector<bool>& dead) {
  std::vector<Node> kept;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

int add_constant(Graph& g, const std::string& name, Tensor t) {
  int id = g.add_value(name);
  g.values[id].constant = std::move(t);
  return id;
}

// Folds `bn` into `conv` when every parameter is a constant of the right size.
bool fold_into_conv(Graph& g, Node& conv, const Node& bn) {
  int w_id = conv.input(1), b_id = conv.input(2);
  if (!g.is_constant(w_id) || g.values[w_id].constant->dtype != DType::Float ||
      g.values[w_id].constant->shape.size() != 4)
    return false;
  const Tensor& w = *g.values[w_id].constant;
  std::int64_t oc = w.shape[0], per = oc > 0 ? w.numel() / oc : 0;
  if (b_id >= 0 && (!g.is_constant(b_id) || g.values[b_id].constant->dtype != DType::Float ||
                    g.values[b_id].constant->numel() != oc))
    return false;
  for (int k = 1; k <= 4; ++k)
    if (!g.is_constant(bn.input(k)) || g.values[bn.input(k)].constant->dtype != DType::Float ||
        g.values[bn.input(k)].constant->numel() != oc)
      return false;
  const float* scale = g.values[bn.input(1)].constant->data<float>();
  const float* shift = g.values[bn.input(2)].constant->data<float>();
  const float* mean = g.values[bn.input(3)].constant->data<float>();
  const float* var = g.values[bn.input(4)].constant->data<float>();
  const float* old_b = b_id >= 0 ? g.values[b_id].constant->data<float>() : nullptr;
  float eps = bn.attr_float("epsilon", 1e-5f);
  // Fresh tensors: the weights may be shared with other nodes (deduplicated initializers).
  Tensor nw = Tensor::allocate(DType::Float, w.shape);
  Tensor nb = Tensor::allocate(DType::Float, {oc});
  for (std::int64_t o = 0; o < oc; ++o) {
    // Double precision so the folded weights round once.
    double s = static_cast<double>(scale[o]) / std::sqrt(static_cast<double>(var[o]) + static_cast<double>(eps));
    for (std::int64_t k = 0; k < per; ++k)
      nw.data<float>()[o * per + k] = static_cast<float>(w.data<float>()[o * per + k] * s);
    double b = old_b ? old_b[o] : 0.0;
    nb.data<float>()[o] = static_cast<float>((b - mean[o]) * s + shift[o]);
  }
  conv.inputs.resize(3);
  conv.inputs[1] = add_constant(g, g.values[w_id].name + "/bn_folded", std::move(nw));
  conv.inputs[2] = add_constant(g, conv.name + "/bn_folded_bias", std::move(nb));
  conv.outputs = {bn.outputs[0]};
  return true;
}

}  // namespace

void constant_fold(Graph& g) {
  std::vector<bool> dead(g.nodes.size(), false);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const OpSpec* spec = find_op(n.op);
    if (!spec || spec->kernel != KernelKind::kCpu) continue;
    bool all_const = true;
    std::vector<const Tensor*> ins;
    for (int v : n.inputs) {
      if (v >= 0 && !g.is_constant(v)) all_const = false;
      ins.push_back(v >= 0 && g.is_constant(v) ? &*g.values[v].constant : nullptr);
    }
    if (!all_const) continue;
    std::vector<Tensor> outs;
    try {
      outs = run_cpu_op(n, ins, g.opset, nullptr);
    } catch (const Error& e) {
      rethrow_with_context(e, "model " + g.source + ": " + n.label() + ": ");
    }
    for (std::size_t k = 0; k < n.outputs.size() && k < outs.size(); ++k)
      if (n.outputs[k] >= 0) g.values[n.outputs[k]].constant = std::move(outs[k]);
    dead[i] = true;
  }
  erase_marked(g, dead);
}

void fold_batchnorm(Graph& g) {
  std::vector<int> uses = use_counts(g);
  std::vector<bool> dead(g.nodes.size(), false);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    Node& conv = g.nodes[i];
    if (conv.op != "Conv" || conv.outputs.empty()) continue;
    int j = sole_consumer(g, uses, conv.outputs[0]);
    if (j < 0 || g.nodes[j].op != "BatchNormalization" || g.nodes[j].input(0) != conv.outputs[0]) continue;
    if (fold_into_conv(g, conv, g.nodes[j])) dead[j] = true;  // else BN runs as its own op
  }
  erase_marked(g, dead);
}

void fuse_conv_post_ops(Graph& g) {
  for (auto& n : g.nodes) {
    if (n.op != "Conv") continue;
    if (!g.is_constant(n.input(1)))
      throw InputError("model " + g.source + ": " + n.label() + ": weights must be constant");
    if (n.input(2) >= 0 && !g.is_constant(n.input(2)))
      throw InputError("model " + g.source + ": " + n.label() + ": bias must be constant");
    n.op = "FusedConv";
    n.inputs.resize(3, -1);
  }
  std::vector<int> uses = use_counts(g);
  std::vector<bool> dead(g.nodes.size(), false);
  auto absorb_relu = [&](Node& conv) {
    int r = sole_consumer(g, uses, conv.outputs[0]);
    if (r < 0 || dead[r] || g.nodes[r].op != "Relu") return;
    conv.fused_relu = true;
    conv.outputs = g.nodes[r].outputs;
    dead[r] = true;
  };
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    if (dead[i] || g.nodes[i].op != "FusedConv" || g.nodes[i].fused_sum) continue;
    int c = sole_consumer(g, uses, g.nodes[i].outputs[0]);
    if (c >= 0 && !dead[c] && g.nodes[c].op == "Add" && g.nodes[c].input(0) != g.nodes[c].input(1)) {
      // The fused node takes the Add's place in the order, where the residual exists.
      Node fused = std::move(g.nodes[i]);
      const Node& add = g.nodes[c];
      int residual = add.input(0) == fused.outputs[0] ? add.input(1) : add.input(0);
      fused.inputs.push_back(residual);
      fused.fused_sum = true;
      fused.outputs = add.outputs;
      dead[i] = true;
      g.nodes[c] = std::move(fused);
      absorb_relu(g.nodes[c]);
    } else {
      absorb_relu(g.nodes[i]);
    }
  }
  erase_marked(g, dead);
}

void prune(Graph& g) {
  std::vector<bool> needed(g.values.size(), false);
  for (const auto& o : g.outputs) needed[o.value] = true;
  std::vector<bool> dead(g.nodes.size(), true);
  for (std::size_t i = g.nodes.size(); i-- > 0;) {
    bool live = false;
    for (int v : g.nodes[i].outputs)
      if (v >= 0 && needed[v]) live = true;
    if (!live) continue;
    dead[i] = false;
    for (int v : g.nodes[i].inputs)
      if (v >= 0) needed[v] = true;
  }
  erase_marked(g, dead);
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (!needed[v]) g.values[v].constant.reset();  // e.g. fp16 originals of folded weights
}

}  // namespace coughkit::model
