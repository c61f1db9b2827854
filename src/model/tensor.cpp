#include "model/tensor.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <new>

#include "common/error.h"

namespace coughkit::model {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float: return 4;
    case DType::Float16: return 2;
    case DType::Int64: return 8;
    case DType::Int32: return 4;
    case DType::Bool: return 1;
    case DType::UInt8: return 1;
    case DType::Int8: return 1;
  }
  return 1;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float: return "float32";
    case DType::Float16: return "float16";
    case DType::Int64: return "int64";
    case DType::Int32: return "int32";
    case DType::Bool: return "bool";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
  }
  return "?";
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw InputError("negative dimension in shape " + shape_str(shape));
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / 8 / d)
      throw InputError("shape " + shape_str(shape) + " is too large");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + ")";
}

namespace {
constexpr std::size_t kAlign = 64;  // a cache line and an AVX-512 vector

void* aligned_new(std::size_t bytes) {
  std::size_t rounded = (std::max<std::size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

struct BufferPool::State {
  std::mutex mu;
  std::multimap<std::size_t, void*> free_blocks;
  std::size_t cached = 0;
  ~State() {
    for (auto& [size, p] : free_blocks) std::free(p);
  }
};

BufferPool::BufferPool() : state_(std::make_shared<State>()) {}

std::shared_ptr<void> BufferPool::get(std::size_t bytes) {
  void* p = nullptr;
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->free_blocks.find(bytes);
    if (it != state_->free_blocks.end()) {
      p = it->second;
      state_->free_blocks.erase(it);
      state_->cached -= bytes;
    }
  }
  if (!p) p = aligned_new(bytes);
  // The deleter keeps the pool state alive, so a buffer may be released after the pool.
  std::shared_ptr<State> state = state_;
  return std::shared_ptr<void>(p, [state, bytes](void* q) {
    std::lock_guard lock(state->mu);
    state->free_blocks.emplace(bytes, q);
    state->cached += bytes;
  });
}

Tensor Tensor::allocate(DType dtype, Shape shape, BufferPool* pool) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  std::size_t bytes = t.bytes();
  if (pool) {
    t.storage = pool->get(bytes);
  } else {
    t.storage = std::shared_ptr<void>(aligned_new(bytes), [](void* p) { std::free(p); });
  }
  return t;
}

Tensor Tensor::wrap(DType dtype, Shape shape, void* data) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.storage = std::shared_ptr<void>(data, [](void*) {});
  return t;
}

Tensor Tensor::view(Shape new_shape) const {
  if (shape_numel(new_shape) != numel())
    throw InputError("cannot view " + shape_str(shape) + " as " + shape_str(new_shape));
  Tensor t = *this;
  t.shape = std::move(new_shape);
  return t;
}

}  // namespace coughkit::model
