#pragma once
// Tensors of the graph executor: an element type, a shape and shared storage. Views
// (Reshape, Squeeze, Flatten, ...) share storage instead of copying. Storage for
// intermediate values comes from a BufferPool, so a run with a shape seen before does not
// touch the allocator (large mallocs would mmap and page-fault fresh memory every run).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace coughkit::model {

// The element types ONNX graphs of AttnMILResNet use (float16 only for stored weights; the
// 8-bit ones in files from ONNX Runtime's quantiser, model/quantized_ops.h).
enum class DType { Float, Float16, Int64, Int32, Bool, UInt8, Int8 };

std::size_t dtype_size(DType t);
const char* dtype_name(DType t);

using Shape = std::vector<std::int64_t>;
// Element count; throws InputError on a negative dimension or overflow.
std::int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

// Recycles 64-byte-aligned blocks by exact size. Thread-safe; buffers may outlive the pool.
class BufferPool {
 public:
  BufferPool();
  std::shared_ptr<void> get(std::size_t bytes);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

struct Tensor {
  DType dtype = DType::Float;
  Shape shape;
  std::shared_ptr<void> storage;

  std::int64_t numel() const { return shape_numel(shape); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  template <class T>
  T* data() const {
    return static_cast<T*>(storage.get());
  }

  // New storage from `pool`, or from the heap when pool is null (constants).
  static Tensor allocate(DType dtype, Shape shape, BufferPool* pool = nullptr);
  // Borrows caller memory that must outlive every use of the tensor.
  static Tensor wrap(DType dtype, Shape shape, void* data);
  // Same storage, another shape with the same element count.
  Tensor view(Shape new_shape) const;
};

}  // namespace coughkit::model
