#include "model/dnnl_kernels.h"

#include <omp.h>

#include <cstring>

#include "common/error.h"
#include "model/cpu_features.h"
#include "model/maxpool_avx2.h"
#include "model/window_geometry.h"

namespace coughkit::model {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

[[noreturn]] void fail(const std::string& why) { throw InputError(why); }

memory::dims to_dims(const Shape& s) { return memory::dims(s.begin(), s.end()); }

memory make_memory(const memory::desc& md, dnnl::engine& eng, const void* p) {
  return memory(md, eng, const_cast<void*>(p));  // oneDNN reads sources through non-const handles
}

}  // namespace

std::string desc_key(const memory::desc& md) {
  const auto& d = md.data;
  std::string k;
  auto add = [&](std::int64_t v) {
    k += std::to_string(v);
    k += ',';
  };
  add(d.ndims);
  for (int i = 0; i < d.ndims; ++i) add(d.dims[i]);
  add(d.data_type);
  add(d.format_kind);
  add(d.offset0);
  if (d.format_kind == dnnl_blocked) {
    const auto& b = d.format_desc.blocking;
    for (int i = 0; i < d.ndims; ++i) add(b.strides[i]);
    add(b.inner_nblks);
    for (int i = 0; i < b.inner_nblks; ++i) {
      add(b.inner_blks[i]);
      add(b.inner_idxs[i]);
    }
    for (int i = 0; i < d.ndims; ++i) add(d.padded_dims[i]);
  }
  return k;
}

DnnlContext::DnnlContext() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

memory::desc DnnlContext::plain_desc(const Shape& shape) {
  static const tag tags[] = {tag::a, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  if (shape.size() > 6) fail("tensors of rank > 6 are not supported by the oneDNN kernels");
  Shape s = shape.empty() ? Shape{1} : shape;
  return memory::desc(to_dims(s), dt::f32, tags[s.size()]);
}

void DnnlContext::reorder(const memory::desc& src_md, const void* sp, const memory::desc& dst_md, void* dp) {
  std::string key = desc_key(src_md) + "->" + desc_key(dst_md);
  auto it = reorders_.find(key);
  if (it == reorders_.end()) {
    dnnl::reorder::primitive_desc pd(engine_, src_md, engine_, dst_md);
    it = reorders_.emplace(key, dnnl::reorder(pd)).first;
  }
  memory src = make_memory(src_md, engine_, sp), dst(dst_md, engine_, dp);
  it->second.execute(stream_, src, dst);
  stream_.wait();
}

const Tensor& DnnlContext::plain(RtValue& v) {
  if (v.plain) return *v.plain;
  if (!v.md) throw InternalError("value has no data");
  Tensor t = Tensor::allocate(DType::Float, v.shape, &pool_);
  reorder(*v.md, v.blocked.get(), plain_desc(v.shape), t.storage.get());
  v.plain = std::move(t);
  return *v.plain;
}

std::pair<memory::desc, void*> DnnlContext::as_src(RtValue& v) {
  if (v.md) return {*v.md, v.blocked.get()};
  if (!v.plain) throw InternalError("value has no data");
  if (v.plain->dtype != DType::Float) fail(std::string("expected a float32 tensor, got ") + dtype_name(v.plain->dtype));
  return {plain_desc(v.plain->shape), v.plain->storage.get()};
}

// ---------------------------------------------------------------------------------------
// Convolution

struct ConvKernel::Plan {
  dnnl::convolution_forward prim;
  memory::desc src_md, dst_md;
  memory weights, bias;
  Shape out_shape;
  double flops = 0;
};

ConvKernel::ConvKernel(const Node& node, const Tensor& weights, const Tensor* bias, int winograd_tile)
    : node_(node), weights_(weights), try_winograd_(winograd_tile > 0) {
  if (weights.dtype != DType::Float || weights.shape.size() != 4)
    fail("weights must be a 4-D float32 tensor, got " + std::string(dtype_name(weights.dtype)) + " " +
         shape_str(weights.shape));
  group_ = node.attr_int("group", 1);
  oc_ = weights.shape[0];
  ic_ = weights.shape[1] * group_;
  kh_ = weights.shape[2];
  kw_ = weights.shape[3];
  if (oc_ % group_ != 0) fail("output channels are not divisible by group");
  auto ks = node.attr_ints("kernel_shape", {kh_, kw_});
  if (ks.size() != 2 || ks[0] != kh_ || ks[1] != kw_) fail("kernel_shape does not match the weights");
  if (bias) {
    if (bias->dtype != DType::Float || bias->numel() != oc_)
      fail("bias must be float32 with one value per output channel");
    bias_ = *bias;
  }
  strides_ = node.attr_ints("strides", {1, 1});
  dilations_ = node.attr_ints("dilations", {1, 1});
  auto pads = node.attr_ints("pads", {0, 0, 0, 0});
  if (node.attr_string("auto_pad", "NOTSET") == "VALID") pads = {0, 0, 0, 0};
  if (strides_.size() != 2 || dilations_.size() != 2 || pads.size() != 4) fail("strides/dilations/pads must be 2-D");
  pad_l_ = {pads[0], pads[1]};  // ONNX: x1_begin, x2_begin, x1_end, x2_end
  pad_r_ = {pads[2], pads[3]};
  if (winograd_tile > 0 && WinogradConv::eligible(node, weights)) {
    wino_ = std::make_unique<WinogradConv>(node, weights, bias, winograd_tile);
    algorithm_used_ = "own_winograd_f" + std::to_string(winograd_tile) + "x3";
  }
}

std::shared_ptr<void> ConvKernel::output_buffer(DnnlContext& ctx, RtValue* residual, bool may_steal,
                                                const memory::desc& dst_md) {
  if (residual && may_steal && residual->md && *residual->md == dst_md && residual->blocked.use_count() == 1) {
    std::shared_ptr<void> dst = std::move(residual->blocked);  // in place: the output is summed onto the residual
    residual->reset();
    return dst;
  }
  std::shared_ptr<void> dst = ctx.pool().get(dst_md.get_size());
  if (residual) {
    auto [rmd, rptr] = ctx.as_src(*residual);
    ctx.reorder(rmd, rptr, dst_md, dst.get());
  }
  return dst;
}

RtValue ConvKernel::run_winograd(DnnlContext& ctx, RtValue& x, RtValue* residual, bool may_steal, double& flops) {
  // Input and output in nChw8c, the layout oneDNN's AVX2 kernels choose themselves, so
  // mixing Winograd and oneDNN layers needs no reorders.
  Shape ys = wino_->out_shape(x.shape);
  if (ys[2] < 1 || ys[3] < 1) fail("input " + shape_str(x.shape) + " is smaller than the kernel");
  if (residual && residual->shape != ys)
    fail("the added tensor " + shape_str(residual->shape) + " differs from the convolution output " + shape_str(ys));
  memory::desc src_md(to_dims(x.shape), dt::f32, tag::nChw8c), dst_md(to_dims(ys), dt::f32, tag::nChw8c);
  auto [xmd, xptr] = ctx.as_src(x);
  std::shared_ptr<void> src_tmp;
  const void* src = xptr;
  if (xmd != src_md) {
    src_tmp = ctx.pool().get(src_md.get_size());
    ctx.reorder(xmd, xptr, src_md, src_tmp.get());
    src = src_tmp.get();
  }
  std::shared_ptr<void> dst = output_buffer(ctx, residual, may_steal, dst_md);
  wino_->run(static_cast<const float*>(src), x.shape, static_cast<float*>(dst.get()), omp_get_max_threads());
  implementations_.insert(algorithm_used_ + "_avx2");
  flops += 2.0 * ys[0] * ys[1] * ys[2] * ys[3] * ic_ * 9;  // direct-convolution equivalent
  return RtValue::blocked_value(ys, dst_md, std::move(dst));
}

ConvKernel::Plan& ConvKernel::plan_for(DnnlContext& ctx, const Shape& xs, const std::optional<memory::desc>& dst_hint,
                                       const std::string& key) {
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  auto plan = std::make_shared<Plan>();
  std::int64_t n = xs[0], h = xs[2], w = xs[3];
  const auto oh = window_output_length(h, pad_l_[0], pad_r_[0], kh_, strides_[0], dilations_[0]);
  const auto ow = window_output_length(w, pad_l_[1], pad_r_[1], kw_, strides_[1], dilations_[1]);
  if (!oh || !ow) fail("input " + shape_str(xs) + " is smaller than the kernel");
  plan->out_shape = {n, oc_, *oh, *ow};
  plan->flops = 2.0 * n * oc_ * *oh * *ow * (ic_ / group_) * kh_ * kw_;

  memory::dims wdims =
      group_ > 1 ? memory::dims{group_, oc_ / group_, ic_ / group_, kh_, kw_} : memory::dims{oc_, ic_, kh_, kw_};
  memory::desc src_any(to_dims(xs), dt::f32, tag::any), wei_any(wdims, dt::f32, tag::any);
  memory::desc dst_any(to_dims(plan->out_shape), dt::f32, tag::any);
  memory::desc bias_md = bias_ ? memory::desc({oc_}, dt::f32, tag::a) : memory::desc();
  dnnl::post_ops po;
  if (node_.fused_sum) po.append_sum(1.f);
  if (node_.fused_relu) po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  memory::dims dil = {dilations_[0] - 1, dilations_[1] - 1};  // oneDNN counts dilation from 0

  // Winograd only for 3x3 stride-1 undilated ungrouped convolutions, and only where this
  // oneDNN build implements it (on x86 it needs AVX-512); otherwise direct convolution.
  std::vector<dnnl::algorithm> algs;
  if (try_winograd_ && kh_ == 3 && kw_ == 3 && strides_[0] == 1 && strides_[1] == 1 && dilations_[0] == 1 &&
      dilations_[1] == 1 && group_ == 1)
    algs.push_back(dnnl::algorithm::convolution_winograd);
  algs.push_back(dnnl::algorithm::convolution_direct);
  std::vector<memory::desc> dsts;
  if (dst_hint) dsts.push_back(*dst_hint);  // write straight into the residual's layout
  dsts.push_back(dst_any);
  std::optional<dnnl::convolution_forward::primitive_desc> pd;
  for (auto alg : algs) {
    for (const auto& dst : dsts) {
      try {
        dnnl::convolution_forward::desc cd(dnnl::prop_kind::forward_inference, alg, src_any, wei_any, bias_md, dst,
                                           to_dims(strides_), dil, to_dims(pad_l_), to_dims(pad_r_));
        pd.emplace(cd, attr, ctx.engine());
        algorithm_used_ = alg == dnnl::algorithm::convolution_winograd ? "onednn_winograd" : "direct";
        break;
      } catch (const dnnl::error&) {
        continue;
      }
    }
    if (pd) break;
  }
  if (!pd) fail("oneDNN has no convolution for input " + shape_str(xs));
  plan->prim = dnnl::convolution_forward(*pd);
  implementations_.insert(pd->impl_info_str());
  plan->src_md = pd->src_desc();
  plan->dst_md = pd->dst_desc();

  memory::desc wmd = pd->weights_desc();
  for (auto& [md, mem] : weight_cache_)
    if (md == wmd) plan->weights = mem;
  if (!plan->weights) {
    memory user_w = make_memory(memory::desc(wdims, dt::f32, group_ > 1 ? tag::goihw : tag::oihw), ctx.engine(),
                                weights_.storage.get());
    memory packed(wmd, ctx.engine());
    dnnl::reorder(user_w, packed).execute(ctx.stream(), user_w, packed);
    ctx.stream().wait();
    weight_cache_.emplace_back(wmd, packed);
    plan->weights = packed;
  }
  if (bias_) plan->bias = make_memory(bias_md, ctx.engine(), bias_->storage.get());
  return *plans_.emplace(key, std::move(plan)).first->second;
}

RtValue ConvKernel::run(DnnlContext& ctx, RtValue& x, RtValue* residual, bool may_steal, double& flops) {
  if (x.shape.size() != 4) fail("input must be 4-D (N,C,H,W), got " + shape_str(x.shape));
  if (x.shape[1] != ic_)
    fail("input has " + std::to_string(x.shape[1]) + " channels, the weights expect " + std::to_string(ic_));
  if (wino_) return run_winograd(ctx, x, residual, may_steal, flops);
  auto [xmd, xptr] = ctx.as_src(x);
  std::string key = desc_key(xmd);
  std::optional<memory::desc> rmd;
  if (residual) {
    rmd = ctx.as_src(*residual).first;
    key += "|" + desc_key(*rmd);
  }
  Plan& plan = plan_for(ctx, x.shape, rmd, key);
  if (residual && residual->shape != plan.out_shape)
    fail("the added tensor " + shape_str(residual->shape) + " differs from the convolution output " +
         shape_str(plan.out_shape) + " (broadcasting in a fused Add is not supported)");

  std::shared_ptr<void> src_tmp;
  void* src = xptr;
  if (plan.src_md != xmd) {
    src_tmp = ctx.pool().get(plan.src_md.get_size());
    ctx.reorder(xmd, xptr, plan.src_md, src_tmp.get());
    src = src_tmp.get();
  }
  std::shared_ptr<void> dst = output_buffer(ctx, residual, may_steal, plan.dst_md);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, make_memory(plan.src_md, ctx.engine(), src)},
                                          {DNNL_ARG_WEIGHTS, plan.weights},
                                          {DNNL_ARG_DST, memory(plan.dst_md, ctx.engine(), dst.get())}};
  if (bias_) args[DNNL_ARG_BIAS] = plan.bias;
  plan.prim.execute(ctx.stream(), args);
  ctx.stream().wait();
  flops += plan.flops;
  return RtValue::blocked_value(plan.out_shape, plan.dst_md, std::move(dst));
}

// ---------------------------------------------------------------------------------------
// Pooling

struct PoolKernel::Plan {
  dnnl::pooling_forward prim;
  memory::desc dst_md;
  Shape out_shape;
  std::optional<MaxPoolProblem> own_maxpool;  // set: maxpool_avx2 runs it instead of oneDNN
};

RtValue PoolKernel::run(DnnlContext& ctx, RtValue& x) {
  if (x.shape.size() != 4) fail("input must be 4-D (N,C,H,W), got " + shape_str(x.shape));
  auto [xmd, xptr] = ctx.as_src(x);
  std::string key = desc_key(xmd);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    auto plan = std::make_shared<Plan>();
    std::int64_t h = x.shape[2], w = x.shape[3];
    std::vector<std::int64_t> kernel = node_.attr_ints("kernel_shape");
    std::vector<std::int64_t> strides = node_.attr_ints("strides", {1, 1});
    std::vector<std::int64_t> pads = node_.attr_ints("pads", {0, 0, 0, 0});
    if (node_.attr_string("auto_pad", "NOTSET") == "VALID") pads = {0, 0, 0, 0};
    if (kernel.size() != 2 || strides.size() != 2 || pads.size() != 4) fail("kernel/strides/pads must be 2-D");
    const auto oh = window_output_length(h, pads[0], pads[2], kernel[0], strides[0]);
    const auto ow = window_output_length(w, pads[1], pads[3], kernel[1], strides[1]);
    if (!oh || !ow) fail("input " + shape_str(x.shape) + " is smaller than the pooling window");
    plan->out_shape = {x.shape[0], x.shape[1], *oh, *ow};
    dnnl::algorithm alg = node_.op == "MaxPool"                    ? dnnl::algorithm::pooling_max
                          : node_.attr_int("count_include_pad", 0) ? dnnl::algorithm::pooling_avg_include_padding
                                                                   : dnnl::algorithm::pooling_avg_exclude_padding;
    memory::desc dst_any(to_dims(plan->out_shape), dt::f32, tag::any);
    dnnl::pooling_forward::desc pdsc(dnnl::prop_kind::forward_inference, alg, xmd, dst_any, to_dims(strides),
                                     to_dims(kernel), {pads[0], pads[1]}, {pads[2], pads[3]});
    const memory::desc blocked8(to_dims(x.shape), dt::f32, tag::nChw8c);
    if (alg == dnnl::algorithm::pooling_max && x.shape[1] % 8 == 0 && xmd == blocked8 && pads[0] < kernel[0] &&
        pads[1] < kernel[1] && pads[2] < kernel[0] && pads[3] < kernel[1] && own_avx2_kernels_enabled()) {
      plan->own_maxpool = MaxPoolProblem{x.shape[0], x.shape[1], h,          w,          *oh,     *ow,
                                         kernel[0],  kernel[1],  strides[0], strides[1], pads[0], pads[1]};
      plan->dst_md = memory::desc(to_dims(plan->out_shape), dt::f32, tag::nChw8c);
      implementations_.insert("own_maxpool_avx2");
    } else {
      dnnl::pooling_forward::primitive_desc pd(pdsc, ctx.engine());
      implementations_.insert(pd.impl_info_str());
      plan->prim = dnnl::pooling_forward(pd);
      plan->dst_md = pd.dst_desc();
    }
    it = plans_.emplace(key, std::move(plan)).first;
  }
  Plan& plan = *it->second;
  std::shared_ptr<void> dst = ctx.pool().get(plan.dst_md.get_size());
  if (plan.own_maxpool) {
    maxpool_run_avx2(*plan.own_maxpool, static_cast<const float*>(xptr), static_cast<float*>(dst.get()),
                     omp_get_max_threads());
  } else {
    plan.prim.execute(ctx.stream(), {{DNNL_ARG_SRC, make_memory(xmd, ctx.engine(), xptr)},
                                     {DNNL_ARG_DST, memory(plan.dst_md, ctx.engine(), dst.get())}});
    ctx.stream().wait();
  }
  return RtValue::blocked_value(plan.out_shape, plan.dst_md, std::move(dst));
}

// ---------------------------------------------------------------------------------------
// Gemm / MatMul

struct MatMulKernel::Plan {
  dnnl::matmul prim;
  memory::desc a_md, b_md, y_md;
};

namespace {

memory::desc plain_md(const Shape& s) { return DnnlContext::plain_desc(s); }

}  // namespace

// MatMul with NumPy semantics beyond (..., K) x (K, N): 1-D operands, and batch dimensions
// that broadcast (oneDNN's matmul broadcasts batch dimensions of size 1).
Tensor MatMulKernel::run_batched(DnnlContext& ctx, const Tensor& a, const Tensor& b, double& flops) {
  if (a.shape.empty() || b.shape.empty()) fail("MatMul operands must have rank >= 1");
  Shape sa = a.shape, sb = b.shape;
  const bool a_vector = sa.size() == 1, b_vector = sb.size() == 1;
  if (a_vector) sa.insert(sa.begin(), 1);
  if (b_vector) sb.push_back(1);
  const std::size_t rank = std::max(sa.size(), sb.size());
  if (rank > 6) fail("MatMul of rank > 6 is not supported");
  sa.insert(sa.begin(), rank - sa.size(), 1);
  sb.insert(sb.begin(), rank - sb.size(), 1);
  const std::int64_t m = sa[rank - 2], k = sa[rank - 1], n = sb[rank - 1];
  if (sb[rank - 2] != k) fail("operands " + shape_str(a.shape) + " and " + shape_str(b.shape) + " do not multiply");
  Shape so(rank);
  for (std::size_t d = 0; d + 2 < rank; ++d) {
    if (sa[d] != sb[d] && sa[d] != 1 && sb[d] != 1)
      fail("batch dimensions of " + shape_str(a.shape) + " and " + shape_str(b.shape) + " do not broadcast");
    so[d] = std::max(sa[d], sb[d]);
  }
  so[rank - 2] = m;
  so[rank - 1] = n;
  Shape out_shape(so.begin(), so.end() - 2);
  if (!a_vector) out_shape.push_back(m);
  if (!b_vector) out_shape.push_back(n);
  Tensor y = Tensor::allocate(DType::Float, out_shape, &ctx.pool());
  if (shape_numel(so) == 0) return y;
  if (k == 0) {
    std::fill_n(y.data<float>(), y.numel(), 0.f);
    return y;
  }
  const std::string key = shape_str(sa) + "x" + shape_str(sb);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    auto plan = std::make_shared<Plan>();
    plan->a_md = plain_md(sa);
    plan->b_md = plain_md(sb);
    plan->y_md = plain_md(so);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(plan->a_md, plan->b_md, plan->y_md), ctx.engine());
    plan->prim = dnnl::matmul(pd);
    implementations_.insert(pd.impl_info_str());
    it = plans_.emplace(key, std::move(plan)).first;
  }
  Plan& plan = *it->second;
  plan.prim.execute(ctx.stream(), {{DNNL_ARG_SRC, make_memory(plan.a_md, ctx.engine(), a.storage.get())},
                                   {DNNL_ARG_WEIGHTS, make_memory(plan.b_md, ctx.engine(), b.storage.get())},
                                   {DNNL_ARG_DST, memory(plan.y_md, ctx.engine(), y.storage.get())}});
  ctx.stream().wait();
  flops += 2.0 * static_cast<double>(shape_numel(so)) * static_cast<double>(k);
  return y;
}

Tensor MatMulKernel::run(DnnlContext& ctx, const Tensor& a, const Tensor& b, const Tensor* c, double& flops) {
  bool gemm = node_.op == "Gemm";
  if (a.dtype != DType::Float || b.dtype != DType::Float || (c && c->dtype != DType::Float))
    fail("inputs must be float32");
  bool ta = gemm && node_.attr_int("transA", 0) != 0, tb = gemm && node_.attr_int("transB", 0) != 0;
  if (!gemm && (b.shape.size() != 2 || a.shape.size() < 2)) return run_batched(ctx, a, b, flops);
  if (b.shape.size() != 2) fail("Gemm's B must be 2-D, got " + shape_str(b.shape));
  if (gemm ? a.shape.size() != 2 : a.shape.size() < 2)
    fail("the left operand has the wrong rank: " + shape_str(a.shape));
  std::int64_t k = ta ? a.shape[0] : a.shape.back();
  std::int64_t m = ta ? a.shape[1] : a.numel() / std::max<std::int64_t>(k, 1);
  std::int64_t kb = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1];
  if (k != kb) fail("operands " + shape_str(a.shape) + " and " + shape_str(b.shape) + " do not multiply");
  Shape out_shape = gemm ? Shape{m, n} : Shape(a.shape.begin(), a.shape.end() - 1);
  if (!gemm) out_shape.push_back(n);
  Tensor y = Tensor::allocate(DType::Float, out_shape, &ctx.pool());
  float alpha = gemm ? node_.attr_float("alpha", 1.f) : 1.f, beta = gemm ? node_.attr_float("beta", 1.f) : 1.f;
  if (m > 0 && n > 0) {
    std::string key = std::to_string(m) + "," + std::to_string(k) + "," + std::to_string(n);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      auto plan = std::make_shared<Plan>();
      // Transposition as strides, so no copy of the (usually constant) operands is made.
      plan->a_md = memory::desc({m, k}, dt::f32, ta ? memory::dims{1, m} : memory::dims{k, 1});
      plan->b_md = memory::desc({k, n}, dt::f32, tb ? memory::dims{1, k} : memory::dims{n, 1});
      plan->y_md = memory::desc({m, n}, dt::f32, tag::ab);
      dnnl::primitive_attr attr;
      if (alpha != 1.f) attr.set_output_scales(0, {alpha});
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(plan->a_md, plan->b_md, plan->y_md), attr, ctx.engine());
      plan->prim = dnnl::matmul(pd);
      implementations_.insert(pd.impl_info_str());
      it = plans_.emplace(key, std::move(plan)).first;
    }
    Plan& plan = *it->second;
    plan.prim.execute(ctx.stream(), {{DNNL_ARG_SRC, make_memory(plan.a_md, ctx.engine(), a.storage.get())},
                                     {DNNL_ARG_WEIGHTS, make_memory(plan.b_md, ctx.engine(), b.storage.get())},
                                     {DNNL_ARG_DST, memory(plan.y_md, ctx.engine(), y.storage.get())}});
    ctx.stream().wait();
  } else {
    std::fill_n(y.data<float>(), y.numel(), 0.f);
  }
  flops += 2.0 * m * n * k;
  if (c && beta != 0.f) {
    // C broadcasts unidirectionally to (M, N).
    if (c->shape.size() > 2) fail("Gemm C must have rank <= 2");
    std::int64_t cm = c->shape.size() == 2 ? c->shape[0] : 1;
    std::int64_t cn = c->shape.empty() ? 1 : c->shape.back();
    if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
      fail("Gemm C " + shape_str(c->shape) + " does not broadcast to the output");
    const float* pc = c->data<float>();
    float* py = y.data<float>();
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) py[i * n + j] += beta * pc[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
  }
  return y;
}

}  // namespace coughkit::model
