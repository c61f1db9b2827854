#include "model/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>

#include "common/error.h"
#include "common/half.h"
#include "model/op_inputs.h"

namespace coughkit::model {
namespace {

using op_inputs::fail;
using op_inputs::in;

void require_dtype(const Tensor& t, DType want, const char* what) {
  if (t.dtype != want) fail(std::string(what) + " must be " + dtype_name(want) + ", got " + dtype_name(t.dtype));
}

std::int64_t norm_axis(std::int64_t axis, std::int64_t rank, const char* what = "axis") {
  if (axis < -rank || axis >= rank)
    fail(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::int64_t prod(const Shape& s, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

// Calls f with the element type of `t`.
template <class F>
void dispatch(DType t, F&& f) {
  switch (t) {
    case DType::Float: f(float{}); return;
    case DType::Int64: f(std::int64_t{}); return;
    case DType::Int32: f(std::int32_t{}); return;
    case DType::Bool: f(bool{}); return;
    case DType::UInt8: f(std::uint8_t{}); return;
    case DType::Int8: f(std::int8_t{}); return;
    case DType::Float16: fail("float16 tensors are only supported as Cast inputs");
  }
}

// Element offsets of each input for every output element: NumPy broadcasting, or (second
// constructor) any strided view of one input, which is what Transpose and Slice are.
struct Broadcaster {
  Shape out;
  std::vector<std::vector<std::int64_t>> strides;  // per input, aligned to out's rank
  std::vector<std::int64_t> start;                 // per input, the offset of out's first element

  // out[i_0, ..., i_r] reads input element start + sum_d i_d * strides[d].
  Broadcaster(Shape out_shape, std::vector<std::int64_t> view_strides, std::int64_t view_start)
      : out(std::move(out_shape)), strides{std::move(view_strides)}, start{view_start} {}

  explicit Broadcaster(const std::vector<const Shape*>& shapes) : start(shapes.size(), 0) {
    for (const Shape* s : shapes) out = out.empty() && s == shapes.front() ? *s : broadcast_shapes(out, *s);
    for (const Shape* s : shapes) {
      std::vector<std::int64_t> st(out.size(), 0);
      std::int64_t stride = 1;
      for (std::size_t k = 0; k < s->size(); ++k) {
        std::size_t d = s->size() - 1 - k, o = out.size() - 1 - k;
        st[o] = (*s)[d] == 1 ? 0 : stride;
        stride *= (*s)[d];
      }
      strides.push_back(std::move(st));
    }
  }

  // f(output index, offsets array)
  template <class F>
  void for_each(F&& f) const {
    std::int64_t n = shape_numel(out);
    if (n == 0) return;
    std::size_t k = strides.size(), rank = out.size();
    std::vector<std::int64_t> idx(rank, 0), off = start;
    for (std::int64_t o = 0; o < n; ++o) {
      f(o, off.data());
      for (std::size_t d = rank; d-- > 0;) {
        ++idx[d];
        for (std::size_t j = 0; j < k; ++j) off[j] += strides[j][d];
        if (idx[d] < out[d]) break;
        for (std::size_t j = 0; j < k; ++j) off[j] -= strides[j][d] * out[d];
        idx[d] = 0;
      }
    }
  }
};

Tensor binary(const Node& node, const Tensor& a, const Tensor& b, BufferPool* pool) {
  if (a.dtype != b.dtype)
    fail(std::string("input types differ: ") + dtype_name(a.dtype) + " and " + dtype_name(b.dtype));
  const std::string& op = node.op;
  bool compare = op == "Equal";
  Broadcaster bc({&a.shape, &b.shape});
  Tensor out = Tensor::allocate(compare ? DType::Bool : a.dtype, bc.out, pool);
  dispatch(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    if (compare) {
      bool* po = out.data<bool>();
      bc.for_each([&](std::int64_t o, const std::int64_t* off) { po[o] = pa[off[0]] == pb[off[1]]; });
      return;
    }
    if constexpr (std::is_same_v<T, bool>) {
      fail("arithmetic on bool tensors is not supported");
    } else {
      T* po = out.data<T>();
      std::function<T(T, T)> f;
      if (op == "Add")
        f = [](T x, T y) { return static_cast<T>(x + y); };
      else if (op == "Sub")
        f = [](T x, T y) { return static_cast<T>(x - y); };
      else if (op == "Mul")
        f = [](T x, T y) { return static_cast<T>(x * y); };
      else if constexpr (std::is_floating_point_v<T>)
        f = [](T x, T y) { return x / y; };
      else
        f = [](T x, T y) {
          if (y == 0) fail("integer division by zero");
          return static_cast<T>(x / y);
        };
      if (a.shape == b.shape) {  // the common case, without index arithmetic
        for (std::int64_t i = 0, n = out.numel(); i < n; ++i) po[i] = f(pa[i], pb[i]);
      } else {
        bc.for_each([&](std::int64_t o, const std::int64_t* off) { po[o] = f(pa[off[0]], pb[off[1]]); });
      }
    }
  });
  return out;
}

Tensor unary(const Node& node, const Tensor& x, BufferPool* pool) {
  if (node.op == "Not") {
    require_dtype(x, DType::Bool, "input");
    Tensor out = Tensor::allocate(DType::Bool, x.shape, pool);
    for (std::int64_t i = 0, n = x.numel(); i < n; ++i) out.data<bool>()[i] = !x.data<bool>()[i];
    return out;
  }
  require_dtype(x, DType::Float, "input");
  Tensor out = Tensor::allocate(DType::Float, x.shape, pool);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  std::int64_t n = x.numel();
  const std::string& op = node.op;
  auto apply = [&](auto f) {
    for (std::int64_t i = 0; i < n; ++i) po[i] = f(px[i]);
  };
  if (op == "Relu")
    apply([](float v) { return v > 0.f ? v : 0.f; });
  else if (op == "Tanh")
    apply([](float v) { return std::tanh(v); });
  else if (op == "Sigmoid")
    apply([](float v) { return 1.f / (1.f + std::exp(-v)); });
  else if (op == "Neg")
    apply([](float v) { return -v; });
  else if (op == "Exp")
    apply([](float v) { return std::exp(v); });
  else if (op == "Sqrt")
    apply([](float v) { return std::sqrt(v); });
  else if (op == "Abs")
    apply([](float v) { return std::fabs(v); });
  else
    fail("no unary kernel for " + op);
  return out;
}

Tensor cast(const Tensor& x, std::int64_t to, BufferPool* pool) {
  DType dst = to == 1   ? DType::Float
              : to == 6 ? DType::Int32
              : to == 7 ? DType::Int64
              : to == 9 ? DType::Bool
                        : DType::Float16;
  if (dst == DType::Float16) fail("Cast to float16 is not supported");
  Tensor out = Tensor::allocate(dst, x.shape, pool);
  std::int64_t n = x.numel();
  auto store = [&](auto getter) {
    dispatch(dst, [&](auto tag) {
      using D = decltype(tag);
      D* po = out.data<D>();
      for (std::int64_t i = 0; i < n; ++i) {
        auto v = getter(i);
        if constexpr (std::is_same_v<D, bool>)
          po[i] = v != 0;
        else
          po[i] = static_cast<D>(v);
      }
    });
  };
  if (x.dtype == DType::Float16) {
    const std::uint16_t* p = x.data<std::uint16_t>();
    store([&](std::int64_t i) { return half_to_float(p[i]); });
  } else {
    dispatch(x.dtype, [&](auto tag) {
      using S = decltype(tag);
      const S* p = x.data<S>();
      store([&](std::int64_t i) { return p[i]; });
    });
  }
  return out;
}

Tensor softmax(const Tensor& x, std::int64_t axis_attr, int opset, BufferPool* pool) {
  require_dtype(x, DType::Float, "input");
  auto rank = static_cast<std::int64_t>(x.shape.size());
  std::int64_t axis = norm_axis(axis_attr, rank);
  // Before opset 13 Softmax flattens to 2-D at `axis` and normalises each row.
  std::int64_t outer = prod(x.shape, 0, axis);
  std::int64_t dim = opset < 13 ? prod(x.shape, axis, rank) : x.shape[axis];
  std::int64_t inner = opset < 13 ? 1 : prod(x.shape, axis + 1, rank);
  Tensor out = Tensor::allocate(DType::Float, x.shape, pool);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t i = 0; i < inner; ++i) {
      const float* src = px + o * dim * inner + i;
      float* dst = po + o * dim * inner + i;
      float mx = -INFINITY;
      for (std::int64_t d = 0; d < dim; ++d) mx = std::max(mx, src[d * inner]);
      double sum = 0;
      for (std::int64_t d = 0; d < dim; ++d) {
        dst[d * inner] = std::exp(src[d * inner] - mx);
        sum += dst[d * inner];
      }
      for (std::int64_t d = 0; d < dim; ++d) dst[d * inner] = static_cast<float>(dst[d * inner] / sum);
    }
  return out;
}

Tensor reduce(const Node& node, const Tensor& x, const Tensor* axes_input, int opset, BufferPool* pool) {
  require_dtype(x, DType::Float, "input");
  bool mean = node.op == "ReduceMean";
  auto rank = static_cast<std::int64_t>(x.shape.size());
  std::vector<std::int64_t> axes;
  if (axes_input)
    axes = tensor_to_ints(*axes_input);
  else
    axes = node.attr_ints("axes");
  bool keepdims = node.attr_int("keepdims", 1) != 0;
  if (axes.empty() && node.attr_int("noop_with_empty_axes", 0) != 0) {
    Tensor out = Tensor::allocate(DType::Float, x.shape, pool);
    std::memcpy(out.storage.get(), x.storage.get(), x.bytes());
    return out;
  }
  std::vector<bool> reduced(rank, axes.empty());
  for (auto a : axes) reduced[norm_axis(a, rank)] = true;
  Shape out_shape, kept_shape;
  for (std::int64_t d = 0; d < rank; ++d) {
    kept_shape.push_back(reduced[d] ? 1 : x.shape[d]);
    if (!reduced[d])
      out_shape.push_back(x.shape[d]);
    else if (keepdims)
      out_shape.push_back(1);
  }
  std::int64_t n_out = shape_numel(kept_shape);
  std::vector<double> acc(static_cast<std::size_t>(n_out), 0.0);
  // Offsets of the reduced output for every input element: broadcast kept_shape to x.
  Broadcaster bc({&x.shape, &kept_shape});
  const float* px = x.data<float>();
  bc.for_each([&](std::int64_t, const std::int64_t* off) { acc[off[1]] += px[off[0]]; });
  std::int64_t count = n_out ? x.numel() / n_out : 0;
  Tensor out = Tensor::allocate(DType::Float, out_shape, pool);
  for (std::int64_t i = 0; i < n_out; ++i)
    out.data<float>()[i] = static_cast<float>(mean ? acc[i] / static_cast<double>(count) : acc[i]);
  (void)opset;
  return out;
}

Tensor gather(const Tensor& data, const Tensor& indices, std::int64_t axis_attr, BufferPool* pool) {
  auto rank = static_cast<std::int64_t>(data.shape.size());
  if (rank == 0) fail("Gather on a scalar");
  std::int64_t axis = norm_axis(axis_attr, rank);
  std::vector<std::int64_t> idx = tensor_to_ints(indices);
  std::int64_t dim = data.shape[axis];
  for (auto& i : idx) {
    if (i < -dim || i >= dim)
      fail("Gather index " + std::to_string(i) + " out of range for dimension " + std::to_string(dim));
    if (i < 0) i += dim;
  }
  Shape out_shape(data.shape.begin(), data.shape.begin() + axis);
  out_shape.insert(out_shape.end(), indices.shape.begin(), indices.shape.end());
  out_shape.insert(out_shape.end(), data.shape.begin() + axis + 1, data.shape.end());
  Tensor out = Tensor::allocate(data.dtype, out_shape, pool);
  std::int64_t outer = prod(data.shape, 0, axis), inner = prod(data.shape, axis + 1, rank);
  std::size_t es = dtype_size(data.dtype);
  auto* src = static_cast<const char*>(data.storage.get());
  auto* dst = static_cast<char*>(out.storage.get());
  std::size_t chunk = static_cast<std::size_t>(inner) * es;
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::size_t j = 0; j < idx.size(); ++j)
      std::memcpy(dst + (o * static_cast<std::int64_t>(idx.size()) + static_cast<std::int64_t>(j)) * chunk,
                  src + (o * dim + idx[j]) * chunk, chunk);
  return out;
}

Tensor concat(const std::vector<const Tensor*>& inputs, std::int64_t axis_attr, BufferPool* pool) {
  const Tensor& first = in(inputs, 0);
  auto rank = static_cast<std::int64_t>(first.shape.size());
  std::int64_t axis = norm_axis(axis_attr, rank);
  Shape out_shape = first.shape;
  out_shape[axis] = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = in(inputs, k);
    if (t.dtype != first.dtype) fail("Concat inputs have different types");
    if (static_cast<std::int64_t>(t.shape.size()) != rank) fail("Concat inputs have different ranks");
    for (std::int64_t d = 0; d < rank; ++d)
      if (d != axis && t.shape[d] != first.shape[d])
        fail("Concat inputs " + shape_str(first.shape) + " and " + shape_str(t.shape) + " do not fit");
    out_shape[axis] += t.shape[axis];
  }
  Tensor out = Tensor::allocate(first.dtype, out_shape, pool);
  std::int64_t outer = prod(out_shape, 0, axis), inner = prod(out_shape, axis + 1, rank);
  std::size_t es = dtype_size(first.dtype);
  auto* dst = static_cast<char*>(out.storage.get());
  std::int64_t row = out_shape[axis] * inner;
  std::int64_t pos = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = *inputs[k];
    std::int64_t part = t.shape[axis] * inner;
    auto* src = static_cast<const char*>(t.storage.get());
    for (std::int64_t o = 0; o < outer; ++o)
      std::memcpy(dst + (o * row + pos) * es, src + o * part * es, static_cast<std::size_t>(part) * es);
    pos += part;
  }
  return out;
}

Tensor reshape(const Tensor& x, const Tensor& shape_t, bool allowzero) {
  std::vector<std::int64_t> want = tensor_to_ints(shape_t);
  Shape out;
  int infer = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < want.size(); ++i) {
    std::int64_t d = want[i];
    if (d == 0 && !allowzero) {
      if (i >= x.shape.size()) fail("Reshape copies dimension " + std::to_string(i) + " that the input lacks");
      d = x.shape[i];
    }
    if (d == -1) {
      if (infer >= 0) fail("Reshape with more than one -1");
      infer = static_cast<int>(i);
      out.push_back(1);
      continue;
    }
    if (d < 0) fail("Reshape to negative dimension " + std::to_string(d));
    out.push_back(d);
    if (d != 0 && known > std::numeric_limits<std::int64_t>::max() / 8 / d)  // as shape_numel() bounds it
      fail("Reshape to " + shape_str(Shape(want.begin(), want.end())) + ": too large");
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      fail("cannot reshape " + shape_str(x.shape) + " to " + shape_str(Shape(want.begin(), want.end())));
    out[infer] = x.numel() / known;
  }
  if (shape_numel(out) != x.numel())
    fail("cannot reshape " + shape_str(x.shape) + " to " + shape_str(Shape(want.begin(), want.end())));
  return x.view(out);
}

Tensor unsqueeze(const Tensor& x, std::vector<std::int64_t> axes) {
  auto out_rank = static_cast<std::int64_t>(x.shape.size() + axes.size());
  std::set<std::int64_t> at;
  for (auto a : axes)
    if (!at.insert(norm_axis(a, out_rank, "Unsqueeze axis")).second) fail("Unsqueeze axes repeat");
  Shape out;
  std::size_t src = 0;
  for (std::int64_t d = 0; d < out_rank; ++d) out.push_back(at.count(d) ? 1 : x.shape[src++]);
  return x.view(out);
}

Tensor squeeze(const Tensor& x, const std::vector<std::int64_t>& axes) {
  auto rank = static_cast<std::int64_t>(x.shape.size());
  std::set<std::int64_t> drop;
  for (auto a : axes) {
    std::int64_t d = norm_axis(a, rank, "Squeeze axis");
    if (x.shape[d] != 1)
      fail("Squeeze of dimension " + std::to_string(d) + " of " + shape_str(x.shape) + ", which is not 1");
    drop.insert(d);
  }
  Shape out;
  for (std::int64_t d = 0; d < rank; ++d)
    if (axes.empty() ? x.shape[d] != 1 : !drop.count(d)) out.push_back(x.shape[d]);
  return x.view(out);
}

// Row-major element strides of a contiguous tensor of `shape`.
std::vector<std::int64_t> contiguous_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (auto d = static_cast<std::int64_t>(shape.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

// The elements of a strided view of x (Broadcaster's second constructor), copied out.
Tensor gather_strided(const Tensor& x, const Shape& out_shape, std::int64_t offset,
                      const std::vector<std::int64_t>& strides, BufferPool* pool) {
  Tensor out = Tensor::allocate(x.dtype, out_shape, pool);
  const std::size_t es = dtype_size(x.dtype);
  auto* src = static_cast<const char*>(x.storage.get());
  auto* dst = static_cast<char*>(out.storage.get());
  Broadcaster(out_shape, strides, offset).for_each([&](std::int64_t o, const std::int64_t* off) {
    std::memcpy(dst + o * es, src + off[0] * es, es);
  });
  return out;
}

Tensor transpose(const Tensor& x, std::vector<std::int64_t> perm, BufferPool* pool) {
  auto rank = static_cast<std::int64_t>(x.shape.size());
  if (perm.empty())
    for (std::int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
  if (static_cast<std::int64_t>(perm.size()) != rank) fail("Transpose perm does not match the rank");
  std::vector<bool> seen(rank, false);
  Shape out_shape;
  for (auto p : perm) {
    if (p < 0 || p >= rank || seen[p]) fail("Transpose perm is not a permutation");
    seen[p] = true;
    out_shape.push_back(x.shape[p]);
  }
  std::vector<std::int64_t> in_strides = contiguous_strides(x.shape), strides(rank);
  for (std::int64_t d = 0; d < rank; ++d) strides[d] = in_strides[perm[d]];  // input strides in output order
  return gather_strided(x, out_shape, 0, strides, pool);
}

Tensor slice(const std::vector<const Tensor*>& inputs, BufferPool* pool) {
  const Tensor& x = in(inputs, 0);
  auto rank = static_cast<std::int64_t>(x.shape.size());
  auto starts = tensor_to_ints(in(inputs, 1)), ends = tensor_to_ints(in(inputs, 2));
  std::vector<std::int64_t> axes, steps;
  if (inputs.size() > 3 && inputs[3])
    axes = tensor_to_ints(*inputs[3]);
  else
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (inputs.size() > 4 && inputs[4])
    steps = tensor_to_ints(*inputs[4]);
  else
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    fail("Slice starts/ends/axes/steps lengths differ");
  std::vector<std::int64_t> first(rank, 0), step(rank, 1);
  Shape out_shape = x.shape;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    std::int64_t a = norm_axis(axes[i], rank, "Slice axis");
    std::int64_t dim = x.shape[a], s = steps[i];
    if (s == 0) fail("Slice step 0");
    auto clampi = [](std::int64_t v, std::int64_t lo, std::int64_t hi) { return std::max(lo, std::min(v, hi)); };
    std::int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
    std::int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (s > 0) {
      b = clampi(b, 0, dim);
      e = clampi(e, 0, dim);
      out_shape[a] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = clampi(b, 0, dim - 1);
      e = clampi(e, -1, dim - 1);
      out_shape[a] = b > e ? (b - e + (-s) - 1) / (-s) : 0;
    }
    first[a] = b;
    step[a] = s;
  }
  const std::vector<std::int64_t> in_strides = contiguous_strides(x.shape);
  std::vector<std::int64_t> strides(rank);
  std::int64_t offset = 0;
  for (std::int64_t d = 0; d < rank; ++d) {
    offset += first[d] * in_strides[d];
    strides[d] = step[d] * in_strides[d];
  }
  return gather_strided(x, out_shape, offset, strides, pool);
}

Tensor where(const Tensor& c, const Tensor& x, const Tensor& y, BufferPool* pool) {
  require_dtype(c, DType::Bool, "condition");
  if (x.dtype != y.dtype) fail("Where branches have different types");
  Broadcaster bc({&c.shape, &x.shape, &y.shape});
  Tensor out = Tensor::allocate(x.dtype, bc.out, pool);
  std::size_t es = dtype_size(x.dtype);
  auto* pc = c.data<bool>();
  auto* px = static_cast<const char*>(x.storage.get());
  auto* py = static_cast<const char*>(y.storage.get());
  auto* po = static_cast<char*>(out.storage.get());
  bc.for_each([&](std::int64_t o, const std::int64_t* off) {
    std::memcpy(po + o * es, pc[off[0]] ? px + off[1] * es : py + off[2] * es, es);
  });
  return out;
}

Tensor expand(const Tensor& x, const Tensor& shape_t, BufferPool* pool) {
  auto want = tensor_to_ints(shape_t);
  Shape target(want.begin(), want.end());
  Broadcaster bc({&x.shape, &target});
  Tensor out = Tensor::allocate(x.dtype, bc.out, pool);
  std::size_t es = dtype_size(x.dtype);
  auto* src = static_cast<const char*>(x.storage.get());
  auto* dst = static_cast<char*>(out.storage.get());
  bc.for_each([&](std::int64_t o, const std::int64_t* off) { std::memcpy(dst + o * es, src + off[0] * es, es); });
  return out;
}

Tensor batchnorm(const std::vector<const Tensor*>& inputs, float eps, BufferPool* pool) {
  const Tensor& x = in(inputs, 0);
  require_dtype(x, DType::Float, "input");
  if (x.shape.size() < 2) fail("BatchNormalization input must have rank >= 2");
  std::int64_t c = x.shape[1];
  for (std::size_t k = 1; k < 5; ++k) {
    require_dtype(in(inputs, k), DType::Float, "BatchNormalization parameter");
    if (in(inputs, k).numel() != c) fail("BatchNormalization parameter size differs from the channel count");
  }
  const float *scale = inputs[1]->data<float>(), *bias = inputs[2]->data<float>();
  const float *mean = inputs[3]->data<float>(), *var = inputs[4]->data<float>();
  std::int64_t n = x.shape[0], inner = prod(x.shape, 2, x.shape.size());
  Tensor out = Tensor::allocate(DType::Float, x.shape, pool);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  for (std::int64_t ch = 0; ch < c; ++ch) {
    // torch's eval BatchNorm: (x - mean) * (1 / sqrt(var + eps)) * weight + bias
    float invstd = 1.f / std::sqrt(var[ch] + eps);
    for (std::int64_t b = 0; b < n; ++b) {
      const float* s = px + (b * c + ch) * inner;
      float* d = po + (b * c + ch) * inner;
      for (std::int64_t i = 0; i < inner; ++i) d[i] = (s[i] - mean[ch]) * invstd * scale[ch] + bias[ch];
    }
  }
  return out;
}

// The mean over each (N, C) plane, summed in the order ONNX Runtime's CPU provider sums it
// (MLAS: four running sums over elements i, i+4, ..., combined as (s0 + s2) + (s1 + s3), then
// the remaining elements one by one, then divided by the count). Any order is within float
// tolerance of PyTorch; this one also gives ONNX Runtime's floats bit for bit, which a
// quantised model needs: its next DynamicQuantizeLinear rounds these values, and a value one
// ulp across a rounding boundary moves a whole quantisation step.
Tensor global_average_pool(const Tensor& x, BufferPool* pool) {
  require_dtype(x, DType::Float, "input");
  if (x.shape.size() < 3) fail("GlobalAveragePool input must have rank >= 3, got " + shape_str(x.shape));
  Shape out_shape = x.shape;
  for (std::size_t d = 2; d < out_shape.size(); ++d) out_shape[d] = 1;
  const std::int64_t planes = x.shape[0] * x.shape[1], size = prod(x.shape, 2, x.shape.size());
  if (size == 0) fail("GlobalAveragePool input " + shape_str(x.shape) + " has empty planes");
  Tensor out = Tensor::allocate(DType::Float, out_shape, pool);
  const float* px = x.data<float>();
  float* po = out.data<float>();
  const float count = static_cast<float>(size);
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* v = px + p * size;
    float lanes[4] = {0.f, 0.f, 0.f, 0.f};
    std::int64_t i = 0;
    for (; i + 4 <= size; i += 4)
      for (int k = 0; k < 4; ++k) lanes[k] += v[i + k];
    float sum = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
    for (; i < size; ++i) sum += v[i];
    po[p] = sum / count;
  }
  return out;
}

Tensor constant_from_attr(const Node& node) {
  const auto& [name, a] = *node.attrs.begin();
  if (name == "value") return *a.t;
  if (name == "value_float") {
    Tensor t = Tensor::allocate(DType::Float, {});
    *t.data<float>() = a.f;
    return t;
  }
  if (name == "value_int") {
    Tensor t = Tensor::allocate(DType::Int64, {});
    *t.data<std::int64_t>() = a.i;
    return t;
  }
  if (name == "value_floats") {
    Tensor t = Tensor::allocate(DType::Float, {static_cast<std::int64_t>(a.floats.size())});
    std::copy(a.floats.begin(), a.floats.end(), t.data<float>());
    return t;
  }
  Tensor t = Tensor::allocate(DType::Int64, {static_cast<std::int64_t>(a.ints.size())});
  std::copy(a.ints.begin(), a.ints.end(), t.data<std::int64_t>());
  return t;
}

Tensor shape_of(const Tensor& x, const Node& node) {
  auto rank = static_cast<std::int64_t>(x.shape.size());
  auto clampi = [&](std::int64_t v) { return std::max<std::int64_t>(0, std::min(v < 0 ? v + rank : v, rank)); };
  std::int64_t b = clampi(node.attr_int("start", 0)), e = clampi(node.attr_int("end", rank));
  Tensor out = Tensor::allocate(DType::Int64, {std::max<std::int64_t>(0, e - b)});
  for (std::int64_t d = b; d < e; ++d) out.data<std::int64_t>()[d - b] = x.shape[d];
  return out;
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t k = 0; k < rank; ++k) {
    std::int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
    std::int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (da != db && da != 1 && db != 1) fail("shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[rank - 1 - k] = da == 1 ? db : da;
  }
  return out;
}

std::vector<std::int64_t> tensor_to_ints(const Tensor& t) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.numel()));
  if (t.dtype == DType::Int64)
    std::copy_n(t.data<std::int64_t>(), v.size(), v.begin());
  else if (t.dtype == DType::Int32)
    std::copy_n(t.data<std::int32_t>(), v.size(), v.begin());
  else
    fail(std::string("expected an int64 tensor, got ") + dtype_name(t.dtype));
  return v;
}

// The kernels the op table (op_specs.cpp) names, one signature for all.
namespace cpu_kernels {
namespace {
const Tensor* optional_input(const CpuInputs& inputs, std::size_t i) { return i < inputs.size() ? inputs[i] : nullptr; }
}  // namespace

std::vector<Tensor> elementwise_unary(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  return {unary(node, in(inputs, 0), pool)};
}
std::vector<Tensor> elementwise_binary(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  return {binary(node, in(inputs, 0), in(inputs, 1), pool)};
}
std::vector<Tensor> where_op(const Node&, const CpuInputs& inputs, int, BufferPool* pool) {
  return {where(in(inputs, 0), in(inputs, 1), in(inputs, 2), pool)};
}
std::vector<Tensor> softmax_op(const Node& node, const CpuInputs& inputs, int opset, BufferPool* pool) {
  return {softmax(in(inputs, 0), node.attr_int("axis", opset < 13 ? 1 : -1), opset, pool)};
}
std::vector<Tensor> reduce_op(const Node& node, const CpuInputs& inputs, int opset, BufferPool* pool) {
  return {reduce(node, in(inputs, 0), optional_input(inputs, 1), opset, pool)};
}
std::vector<Tensor> shape_op(const Node& node, const CpuInputs& inputs, int, BufferPool*) {
  return {shape_of(in(inputs, 0), node)};
}
std::vector<Tensor> gather_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  return {gather(in(inputs, 0), in(inputs, 1), node.attr_int("axis", 0), pool)};
}
std::vector<Tensor> concat_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  return {concat(inputs, node.attr_int("axis", 0), pool)};
}
std::vector<Tensor> reshape_op(const Node& node, const CpuInputs& inputs, int, BufferPool*) {
  return {reshape(in(inputs, 0), in(inputs, 1), node.attr_int("allowzero", 0) != 0)};
}
std::vector<Tensor> unsqueeze_op(const Node& node, const CpuInputs& inputs, int opset, BufferPool*) {
  return {unsqueeze(in(inputs, 0), opset >= 13 ? tensor_to_ints(in(inputs, 1)) : node.attr_ints("axes"))};
}
std::vector<Tensor> squeeze_op(const Node& node, const CpuInputs& inputs, int opset, BufferPool*) {
  const Tensor* axes_input = optional_input(inputs, 1);
  std::vector<std::int64_t> axes =
      opset >= 13 ? (axes_input ? tensor_to_ints(*axes_input) : std::vector<std::int64_t>{}) : node.attr_ints("axes");
  return {squeeze(in(inputs, 0), axes)};
}
std::vector<Tensor> flatten_op(const Node& node, const CpuInputs& inputs, int, BufferPool*) {
  const Tensor& x = in(inputs, 0);
  auto rank = static_cast<std::int64_t>(x.shape.size());
  std::int64_t axis = node.attr_int("axis", 1);
  if (axis < -rank || axis > rank) fail("Flatten axis out of range");
  if (axis < 0) axis += rank;
  return {x.view({prod(x.shape, 0, axis), prod(x.shape, axis, rank)})};
}
std::vector<Tensor> identity_op(const Node&, const CpuInputs& inputs, int, BufferPool*) { return {in(inputs, 0)}; }
std::vector<Tensor> dropout_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  // Inference: identity. A mask output, when requested, is all true.
  const Tensor& x = in(inputs, 0);
  std::vector<Tensor> outs{x};
  if (node.outputs.size() > 1) {
    Tensor mask = Tensor::allocate(DType::Bool, x.shape, pool);
    std::fill_n(mask.data<bool>(), mask.numel(), true);
    outs.push_back(mask);
  }
  return outs;
}
std::vector<Tensor> cast_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  return {cast(in(inputs, 0), node.attr_int("to", 1), pool)};
}
std::vector<Tensor> constant_op(const Node& node, const CpuInputs&, int, BufferPool*) {
  return {constant_from_attr(node)};
}
std::vector<Tensor> constant_of_shape_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  auto dims = tensor_to_ints(in(inputs, 0));
  Tensor value;
  if (node.has("value")) {
    value = *node.attrs.at("value").t;
  } else {
    value = Tensor::allocate(DType::Float, {1});
    *value.data<float>() = 0.f;
  }
  if (value.numel() != 1) fail("ConstantOfShape value must have one element");
  Tensor out = Tensor::allocate(value.dtype, Shape(dims.begin(), dims.end()), pool);
  std::size_t es = dtype_size(value.dtype);
  for (std::int64_t i = 0, n = out.numel(); i < n; ++i)
    std::memcpy(static_cast<char*>(out.storage.get()) + i * es, value.storage.get(), es);
  return {out};
}
std::vector<Tensor> expand_op(const Node&, const CpuInputs& inputs, int, BufferPool* pool) {
  return {expand(in(inputs, 0), in(inputs, 1), pool)};
}
std::vector<Tensor> transpose_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  return {transpose(in(inputs, 0), node.attr_ints("perm"), pool)};
}
std::vector<Tensor> slice_op(const Node&, const CpuInputs& inputs, int, BufferPool* pool) {
  return {slice(inputs, pool)};
}
std::vector<Tensor> batchnorm_op(const Node& node, const CpuInputs& inputs, int, BufferPool* pool) {
  return {batchnorm(inputs, node.attr_float("epsilon", 1e-5f), pool)};
}
std::vector<Tensor> global_average_pool_op(const Node&, const CpuInputs& inputs, int, BufferPool* pool) {
  return {global_average_pool(in(inputs, 0), pool)};
}

}  // namespace cpu_kernels

}  // namespace coughkit::model
