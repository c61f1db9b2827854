#pragma once
// Runs an optimised Graph: oneDNN kernels for convolutions, pooling and matrix products,
// plain C++ for the rest. Values are released after their last use (the liveness plan is
// computed once at construction) and their buffers recycled through a pool.
// Not thread-safe: one run at a time (Engine serialises its callers).
#include <memory>
#include <string>
#include <vector>

#include "model/graph.h"
#include "model/tensor.h"

namespace coughkit::model {

struct ExecutorOptions {
  int threads = 1;  // OpenMP threads for oneDNN (set on the calling thread at each run)
  // Winograd for 3x3 stride-1 convolutions: 0 = off (oneDNN direct), 2 or 4 = F(m x m, 3 x 3).
  // The engine uses 2 (F(4x4,3x3) misses the parity bound; see engine.cpp).
  int winograd_tile = 2;
};

class Executor {
 public:
  Executor(Graph graph, ExecutorOptions options);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Inputs in graph-input order; outputs in graph-output order. Input tensors are only
  // read and must stay alive during the call. Errors are InputError naming the node.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  const Graph& graph() const;
  // FLOPs (multiply-adds count 2) of convolutions and matrix products in the last run.
  double last_run_flops() const;
  // Convolution algorithms used so far, e.g. "direct+own_winograd_f2x3".
  std::string conv_algorithms() const;
  // The kernel implementations run so far, one "OP: IMPLEMENTATION" line each, sorted
  // (e.g. "FusedConv: jit:avx2", "MaxPool: own_maxpool_avx2"; "Relu: cpp" for the plain C++
  // ops of the graph): which paths this CPU took (cpu_features.h).
  std::vector<std::string> kernels_used() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coughkit::model
