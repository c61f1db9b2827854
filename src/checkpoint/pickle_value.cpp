#include "checkpoint/pickle_value.h"

#include <stdexcept>

namespace coughkit::checkpoint {

std::size_t element_size(ScalarType t) {
  switch (t) {
    case ScalarType::Float64:
    case ScalarType::Int64: return 8;
    case ScalarType::Float32:
    case ScalarType::Int32: return 4;
    case ScalarType::Float16:
    case ScalarType::BFloat16:
    case ScalarType::Int16: return 2;
    case ScalarType::Int8:
    case ScalarType::UInt8:
    case ScalarType::Bool: return 1;
  }
  return 1;
}

const char* scalar_type_name(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return "float32";
    case ScalarType::Float16: return "float16";
    case ScalarType::BFloat16: return "bfloat16";
    case ScalarType::Float64: return "float64";
    case ScalarType::Int64: return "int64";
    case ScalarType::Int32: return "int32";
    case ScalarType::Int16: return "int16";
    case ScalarType::Int8: return "int8";
    case ScalarType::UInt8: return "uint8";
    case ScalarType::Bool: return "bool";
  }
  return "?";
}

const PickleValue* Object::find(const std::string& key) const {
  for (const auto& [k, v] : entries)
    if (const auto* s = std::get_if<std::string>(&k); s && *s == key) return &v;
  return nullptr;
}

Object* Arena::make(Object::Kind kind) {
  if (objects_.size() >= max_objects_)
    throw std::length_error("more than " + std::to_string(max_objects_) + " objects");
  return &objects_.emplace_back(kind);
}

const Object* as_object(const PickleValue& v, Object::Kind kind) {
  const auto* p = std::get_if<Object*>(&v);
  return p && (*p)->kind == kind ? *p : nullptr;
}

const std::string* as_string(const PickleValue& v) { return std::get_if<std::string>(&v); }

std::string type_name(const PickleValue& v) {
  switch (v.index()) {
    case 0: return "None";
    case 1: return "bool";
    case 2: return "int";
    case 3: return "float";
    case 4: return "str";
    default: break;
  }
  const Object& o = *std::get<Object*>(v);
  switch (o.kind) {
    case Object::Kind::List: return "list";
    case Object::Kind::Tuple: return "tuple";
    case Object::Kind::Dict: return o.ordered ? "OrderedDict" : "dict";
    case Object::Kind::Global: return o.module + "." + o.name;
    case Object::Kind::Storage: return std::string("storage of ") + scalar_type_name(o.storage.dtype);
    case Object::Kind::Tensor: return "tensor";
    case Object::Kind::Bytes: return "bytes";
    case Object::Kind::BigInt: return "int";
  }
  return "?";
}

}  // namespace coughkit::checkpoint
