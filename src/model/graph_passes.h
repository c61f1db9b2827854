#pragma once
// Load-time rewrites of an imported graph, applied in this order by optimize():
//  1. constant_fold: nodes whose inputs are all constants are evaluated once (Cast of fp16
//     weights, Identity of shared initializers, Constant nodes, shape arithmetic on them);
//  2. fold_batchnorm: Conv -> BatchNormalization becomes one Conv with scaled weights;
//  3. fuse_conv_post_ops: Conv [-> Add(residual)] [-> Relu] becomes one FusedConv, which
//     oneDNN runs with sum/eltwise post-ops;
//  4. prune: nodes and constants nothing needs are dropped.
#include "model/graph.h"

namespace coughkit::model {

void constant_fold(Graph& g);
void fold_batchnorm(Graph& g);
void fuse_conv_post_ops(Graph& g);
void prune(Graph& g);

inline void optimize(Graph& g) {
  constant_fold(g);
  fold_batchnorm(g);
  fuse_conv_post_ops(g);
  prune(g);
}

}  // namespace coughkit::model
