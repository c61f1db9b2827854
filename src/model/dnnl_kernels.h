#pragma once
// The oneDNN side of the executor: convolutions (with the fused residual sum and ReLU as
// post-ops), pooling and matrix products. Activations stay in the blocked layouts oneDNN
// picks (format_tag::any) from one convolution to the next; a plain copy is made only when
// a plain-C++ op needs one. Each kernel caches its primitives per input layout and shape,
// so a shape seen before costs no primitive creation; reordered weights are cached per
// layout and shared between shapes.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "model/graph.h"
#include "model/tensor.h"
#include "model/winograd_conv.h"

namespace coughkit::model {

// A value during a run: a plain row-major tensor, a blocked oneDNN activation, or both.
struct RtValue {
  Shape shape;
  std::optional<Tensor> plain;
  std::optional<dnnl::memory::desc> md;  // layout of `blocked`
  std::shared_ptr<void> blocked;
  // A value in oneDNN's layout `md` (what convolutions and pools produce).
  static RtValue blocked_value(Shape shape, const dnnl::memory::desc& md, std::shared_ptr<void> data) {
    RtValue v;
    v.shape = std::move(shape);
    v.md = md;
    v.blocked = std::move(data);
    return v;
  }
  // A plain row-major tensor (what the CPU ops and MatMul produce).
  static RtValue plain_value(Tensor t) {
    RtValue v;
    v.shape = t.shape;
    v.plain = std::move(t);
    return v;
  }
  bool empty() const { return !plain && !md; }
  void reset() {
    plain.reset();
    md.reset();
    blocked.reset();
  }
};

// Engine, stream, buffer pool and cached reorders shared by all kernels of one executor.
class DnnlContext {
 public:
  DnnlContext();
  dnnl::engine& engine() { return engine_; }
  dnnl::stream& stream() { return stream_; }
  BufferPool& pool() { return pool_; }

  static dnnl::memory::desc plain_desc(const Shape& shape);
  // src (layout src_md at sp) -> dst (layout dst_md at dp).
  void reorder(const dnnl::memory::desc& src_md, const void* sp, const dnnl::memory::desc& dst_md, void* dp);
  // The plain form of a value, made (and kept) on first request.
  const Tensor& plain(RtValue& v);
  // A float value as oneDNN sees it: its blocked form if it has one, else the plain one.
  std::pair<dnnl::memory::desc, void*> as_src(RtValue& v);

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  BufferPool pool_;
  std::unordered_map<std::string, dnnl::reorder> reorders_;
};

// A key identifying a memory layout (dims, type, blocking) for the caches.
std::string desc_key(const dnnl::memory::desc& md);

// Conv [+ residual sum] [+ ReLU]: one FusedConv node.
class ConvKernel {
 public:
  // winograd_tile: 0 = oneDNN only; 2 or 4 = our Winograd F(m x m, 3 x 3) for eligible
  // 3x3 stride-1 layers (winograd_conv.h), oneDNN's own Winograd where it exists otherwise.
  ConvKernel(const Node& node, const Tensor& weights, const Tensor* bias, int winograd_tile);
  // `residual` is summed into the output (fused Add); its buffer becomes the output when
  // `may_steal` (last use) and the layouts match, saving a copy.
  RtValue run(DnnlContext& ctx, RtValue& x, RtValue* residual, bool may_steal, double& flops);
  // The algorithm of the primitives created so far ("winograd" or "direct"), for reports.
  const std::string& algorithm_used() const { return algorithm_used_; }
  // Every implementation run so far: oneDNN's names ("jit:avx2", "brgconv:avx512_core",
  // "gemm:jit") or coughkit's own ("own_winograd_f2x3_avx2").
  const std::set<std::string>& implementations() const { return implementations_; }

 private:
  struct Plan;
  RtValue run_winograd(DnnlContext& ctx, RtValue& x, RtValue* residual, bool may_steal, double& flops);
  // The output buffer in layout `dst_md`: the residual's own buffer when it may be taken
  // over, else a pool buffer (with the residual copied in when there is one).
  std::shared_ptr<void> output_buffer(DnnlContext& ctx, RtValue* residual, bool may_steal,
                                      const dnnl::memory::desc& dst_md);
  Plan& plan_for(DnnlContext& ctx, const Shape& x_shape, const std::optional<dnnl::memory::desc>& dst_hint,
                 const std::string& key);
  const Node& node_;
  Tensor weights_;
  std::optional<Tensor> bias_;
  bool try_winograd_;
  std::unique_ptr<WinogradConv> wino_;
  std::int64_t oc_, ic_, group_, kh_, kw_;
  std::vector<std::int64_t> strides_, dilations_, pad_l_, pad_r_;
  std::unordered_map<std::string, std::shared_ptr<Plan>> plans_;
  std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> weight_cache_;
  std::string algorithm_used_;
  std::set<std::string> implementations_;
};

// MaxPool and AveragePool (GlobalAveragePool is a CPU op: cpu_ops.h).
class PoolKernel {
 public:
  explicit PoolKernel(const Node& node) : node_(node) {}
  RtValue run(DnnlContext& ctx, RtValue& x);
  const std::set<std::string>& implementations() const { return implementations_; }

 private:
  struct Plan;
  const Node& node_;
  std::set<std::string> implementations_;
  std::unordered_map<std::string, std::shared_ptr<Plan>> plans_;
};

// Gemm, and MatMul with NumPy semantics (1-D operands, broadcast batch dimensions), on plain
// tensors.
class MatMulKernel {
 public:
  explicit MatMulKernel(const Node& node) : node_(node) {}
  Tensor run(DnnlContext& ctx, const Tensor& a, const Tensor& b, const Tensor* c, double& flops);
  const std::set<std::string>& implementations() const { return implementations_; }

 private:
  struct Plan;
  Tensor run_batched(DnnlContext& ctx, const Tensor& a, const Tensor& b, double& flops);
  const Node& node_;
  std::set<std::string> implementations_;
  std::unordered_map<std::string, std::shared_ptr<Plan>> plans_;
};

}  // namespace coughkit::model
