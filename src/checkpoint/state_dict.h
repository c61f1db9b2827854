#pragma once
// Model weights by name, as float32 arrays: what the ONNX builder consumes. Tensors of any
// float storage type (fp32/fp16/bf16/fp64) are widened exactly; views (offsets, strides,
// shared storages) are materialised in C order.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/pickle_value.h"
#include "common/half.h"

namespace coughkit::checkpoint {

struct FloatTensor {
  std::vector<std::int64_t> shape;
  ScalarType source_type = ScalarType::Float32;  // how the checkpoint stored it
  std::vector<float> data;                       // C order
  std::size_t numel() const { return data.size(); }
};

class StateDict {
 public:
  explicit StateDict(std::string source = {}) : source_(std::move(source)) {}

  void add(const std::string& name, FloatTensor t);
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor, checked against the expected shape; throws InputError naming the file and
  // the key ("missing key 'backbone.layer1.0.conv1.weight'", "'seg_head.weight' has shape
  // (2,512), expected (1,512)").
  const FloatTensor& at(const std::string& name, const std::vector<std::int64_t>& expected_shape) const;
  const FloatTensor& at(const std::string& name) const;  // any shape
  const std::vector<std::string>& names() const { return order_; }
  const std::string& source() const { return source_; }
  // The storage types of the float tensors, e.g. "float16" or "float32+float16".
  std::string source_types() const;

 private:
  std::string source_;
  std::vector<std::string> order_;
  std::map<std::string, FloatTensor> tensors_;
};

std::string shape_string(const std::vector<std::int64_t>& shape);  // "(64,3,7,7)"

// IEEE half / bfloat16 bits <-> float (common/half.h): widening is exact, float_to_half
// rounds to nearest even.
using coughkit::bfloat16_to_float;
using coughkit::float_to_half;
using coughkit::half_to_float;

// A tensor's elements from its storage bytes, following offset and strides. Throws
// InputError (naming `what`) when the view reaches outside the storage.
FloatTensor materialize(const TensorInfo& t, const std::string& storage_bytes, const std::string& what);

}  // namespace coughkit::checkpoint
