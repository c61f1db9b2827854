#pragma once
// The values a safe unpickler can produce (unpickler.h). Only plain data and the few torch
// objects a checkpoint needs exist here: there is no way to represent a callable other than
// an allowlisted global's name, so nothing read from a file can ever run.
//
// Objects live in an Arena owned by the caller and point at each other with raw pointers:
// no reference counting, so hostile nesting or cycles (a list appended to itself through
// the memo) cannot leak or blow the stack on destruction.
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace coughkit::checkpoint {

// Element types of torch storages (torch.FloatStorage, torch.HalfStorage, ...).
enum class ScalarType { Float32, Float16, BFloat16, Float64, Int64, Int32, Int16, Int8, UInt8, Bool };
std::size_t element_size(ScalarType t);
const char* scalar_type_name(ScalarType t);

struct Object;
// What unpickling makes of a Python value (not model::Value, a value of the executor's graph):
// None, bool, int, float, str, or a container/torch object.
using PickleValue = std::variant<std::monostate, bool, std::int64_t, double, std::string, Object*>;

struct StorageInfo {
  std::string key;  // archive/data/<key> in zip files; the storage's id in legacy files
  ScalarType dtype = ScalarType::Float32;
  std::int64_t numel = 0;
};

struct TensorInfo {
  const Object* storage = nullptr;  // an Object of kind Storage
  std::int64_t offset = 0;          // in elements
  std::vector<std::int64_t> sizes, strides;
};

struct Object {
  enum class Kind { List, Tuple, Dict, Global, Storage, Tensor, Bytes, BigInt };
  Kind kind;
  std::vector<PickleValue> items;                               // List, Tuple
  std::vector<std::pair<PickleValue, PickleValue>> entries;     // Dict (insertion order kept)
  bool ordered = false;                                         // Dict: collections.OrderedDict
  std::vector<std::pair<std::string, PickleValue>> attributes;  // Dict: set by BUILD (OrderedDict._metadata)
  std::string module, name;                                     // Global
  StorageInfo storage;                                          // Storage
  TensorInfo tensor;                                            // Tensor
  std::string bytes;  // Bytes; BigInt: little-endian two's complement (e.g. the legacy magic number)

  explicit Object(Kind k) : kind(k) {}
  // Dict lookup by string key; nullptr when absent.
  const PickleValue* find(const std::string& key) const;
};

// Owns every object of one file. A cap on the count bounds memory on hostile input.
class Arena {
 public:
  explicit Arena(std::size_t max_objects = std::size_t{1} << 21) : max_objects_(max_objects) {}
  Object* make(Object::Kind kind);  // throws std::length_error past the cap
  std::size_t size() const { return objects_.size(); }

 private:
  std::deque<Object> objects_;  // deque: stable addresses
  std::size_t max_objects_;
};

// Helpers for reading values: nullptr / nullopt when the value is of another type.
const Object* as_object(const PickleValue& v, Object::Kind kind);
const std::string* as_string(const PickleValue& v);
// "None", "int", "str", "dict", "torch.FloatStorage", ... for error messages.
std::string type_name(const PickleValue& v);

}  // namespace coughkit::checkpoint
