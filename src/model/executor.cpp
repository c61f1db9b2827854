#include "model/executor.h"

#include <omp.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "common/error.h"
#include "model/cpu_ops.h"
#include "model/dnnl_kernels.h"
#include "model/op_specs.h"

namespace coughkit::model {

struct Executor::Impl {
  Graph g;
  ExecutorOptions opt;
  DnnlContext ctx;
  std::vector<int> last_use;  // per value: index of the last node reading it (INT_MAX: graph output)
  std::vector<std::unique_ptr<ConvKernel>> convs;
  std::vector<std::unique_ptr<PoolKernel>> pools;
  std::vector<std::unique_ptr<MatMulKernel>> matmuls;
  double flops = 0;

  Impl(Graph graph, ExecutorOptions o) : g(std::move(graph)), opt(o) {
    last_use.assign(g.values.size(), -1);
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      for (int v : g.nodes[i].inputs)
        if (v >= 0) last_use[v] = static_cast<int>(i);
    for (const auto& out : g.outputs) last_use[out.value] = INT_MAX;
    convs.resize(g.nodes.size());
    pools.resize(g.nodes.size());
    matmuls.resize(g.nodes.size());
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      try {
        const OpSpec* spec = find_op(n.op);
        if (!spec) throw InternalError("operator " + n.op + " is not in the op table");
        switch (spec->kernel) {
          case KernelKind::kConvolution: {
            if (n.op != "FusedConv") throw InternalError("Conv reached the executor unfused");
            const Tensor* bias = n.input(2) >= 0 ? &*g.values[n.input(2)].constant : nullptr;
            convs[i] = std::make_unique<ConvKernel>(n, *g.values[n.input(1)].constant, bias, opt.winograd_tile);
            break;
          }
          case KernelKind::kPooling: pools[i] = std::make_unique<PoolKernel>(n); break;
          case KernelKind::kMatMul: matmuls[i] = std::make_unique<MatMulKernel>(n); break;
          case KernelKind::kCpu: break;
        }
      } catch (const Error& e) {
        rethrow_with_context(e, "model " + g.source + ": " + n.label() + ": ");
      }
    }
  }

  RtValue constant_value(int v) {
    RtValue r;
    r.plain = *g.values[v].constant;
    r.shape = r.plain->shape;
    return r;
  }

  void run_node(std::size_t i, std::vector<RtValue>& vals) {
    const Node& n = g.nodes[i];
    auto value = [&](int v) -> RtValue& {
      if (vals[v].empty()) {
        if (!g.is_constant(v)) throw InternalError("value '" + g.values[v].name + "' is used before it is computed");
        vals[v] = constant_value(v);
      }
      return vals[v];
    };
    if (convs[i]) {
      RtValue* residual = n.input(3) >= 0 ? &value(n.input(3)) : nullptr;
      bool may_steal = residual && last_use[n.input(3)] == static_cast<int>(i) && n.input(3) != n.input(0);
      vals[n.outputs[0]] = convs[i]->run(ctx, value(n.input(0)), residual, may_steal, flops);
    } else if (pools[i]) {
      vals[n.outputs[0]] = pools[i]->run(ctx, value(n.input(0)));
    } else if (matmuls[i]) {
      const Tensor& a = ctx.plain(value(n.input(0)));
      const Tensor& b = ctx.plain(value(n.input(1)));
      const Tensor* c = n.input(2) >= 0 ? &ctx.plain(value(n.input(2))) : nullptr;
      vals[n.outputs[0]] = RtValue::plain_value(matmuls[i]->run(ctx, a, b, c, flops));
    } else {
      std::vector<const Tensor*> ins;
      for (int v : n.inputs) ins.push_back(v >= 0 ? &ctx.plain(value(v)) : nullptr);
      std::vector<Tensor> outs = run_cpu_op(n, ins, g.opset, &ctx.pool());
      for (std::size_t k = 0; k < n.outputs.size() && k < outs.size(); ++k) {
        if (n.outputs[k] >= 0) vals[n.outputs[k]] = RtValue::plain_value(std::move(outs[k]));
      }
    }
  }
};

Executor::Executor(Graph graph, ExecutorOptions options) : impl_(std::make_unique<Impl>(std::move(graph), options)) {}

Executor::~Executor() = default;

const Graph& Executor::graph() const { return impl_->g; }

double Executor::last_run_flops() const { return impl_->flops; }

std::string Executor::conv_algorithms() const {
  std::set<std::string> used;
  for (const auto& c : impl_->convs)
    if (c && !c->algorithm_used().empty()) used.insert(c->algorithm_used());
  std::string s;
  for (const auto& u : used) s += (s.empty() ? "" : "+") + u;
  return s;
}

std::vector<std::string> Executor::kernels_used() const {
  std::set<std::string> used;
  const Impl& m = *impl_;
  for (std::size_t i = 0; i < m.g.nodes.size(); ++i) {
    const std::string& op = m.g.nodes[i].op;
    const std::set<std::string>* impls = m.convs[i]     ? &m.convs[i]->implementations()
                                         : m.pools[i]   ? &m.pools[i]->implementations()
                                         : m.matmuls[i] ? &m.matmuls[i]->implementations()
                                                        : nullptr;
    if (!impls) {
      used.insert(op + ": cpp");
      continue;
    }
    for (const auto& impl : *impls) used.insert(op + ": " + impl);
  }
  return {used.begin(), used.end()};
}

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) {
  Impl& m = *impl_;
  const Graph& g = m.g;
  if (inputs.size() != g.inputs.size())
    throw InputError("expected " + std::to_string(g.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  // oneDNN (OpenMP build) sizes its parallel regions from the calling thread's setting.
  omp_set_num_threads(m.opt.threads);
  m.flops = 0;
  std::vector<RtValue> vals(g.values.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    vals[g.inputs[k].value] = RtValue::plain_value(inputs[k]);
  }
  // COUGHKIT_PROFILE_NODES=1: one line per node and run on stderr ("profile OP NAME OUTPUT_SHAPE MS"),
  // for finding where the time goes (bench/README.md).
  static const bool profile = std::getenv("COUGHKIT_PROFILE_NODES") != nullptr;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    try {
      const auto t0 = std::chrono::steady_clock::now();
      m.run_node(i, vals);
      if (profile) {
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        const int out = n.outputs.empty() ? -1 : n.outputs[0];
        std::fprintf(stderr, "profile %s %s %s %.3f\n", n.op.c_str(), n.name.c_str(),
                     out >= 0 ? shape_str(vals[out].shape).c_str() : "-", ms);
      }
    } catch (const Error& e) {
      rethrow_with_context(e, n.label() + ": ");
    } catch (const dnnl::error& e) {  // oneDNN failing on shapes the kernels accepted is a bug of ours
      throw InternalError(n.label() + ": oneDNN: " + e.what());
    }
    // Release what is no longer needed, so its buffer returns to the pool.
    for (int v : n.inputs)
      if (v >= 0 && m.last_use[v] == static_cast<int>(i)) vals[v].reset();
    for (int v : n.outputs)
      if (v >= 0 && m.last_use[v] < 0) vals[v].reset();
  }
  std::vector<Tensor> outs;
  for (const auto& o : g.outputs) {
    RtValue& v = vals[o.value];
    if (v.empty() && g.is_constant(o.value)) v = m.constant_value(o.value);
    outs.push_back(m.ctx.plain(v));
  }
  return outs;
}

}  // namespace coughkit::model
