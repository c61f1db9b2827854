#include "checkpoint/state_dict.h"

#include <bit>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::checkpoint {

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + ")";
}

void StateDict::add(const std::string& name, FloatTensor t) {
  if (!tensors_.count(name)) order_.push_back(name);
  tensors_[name] = std::move(t);
}

const FloatTensor& StateDict::at(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    throw InputError(fmt::format("{}: missing key '{}' in the model state dict (is this an AttnMILResNet checkpoint?)",
                                 source_, name));
  return it->second;
}

const FloatTensor& StateDict::at(const std::string& name, const std::vector<std::int64_t>& expected_shape) const {
  const auto& t = at(name);
  if (t.shape != expected_shape)
    throw InputError(fmt::format("{}: '{}' has shape {}, expected {} (docs/pipeline.md section 6)", source_, name,
                                 shape_string(t.shape), shape_string(expected_shape)));
  return t;
}

std::string StateDict::source_types() const {
  std::set<std::string> types;
  for (const auto& [_, t] : tensors_) types.insert(scalar_type_name(t.source_type));
  std::string s;
  for (const auto& t : types) s += (s.empty() ? "" : "+") + t;
  return s;
}

FloatTensor materialize(const TensorInfo& t, const std::string& bytes, const std::string& what) {
  const StorageInfo& s = t.storage->storage;
  const std::size_t esize = element_size(s.dtype);
  if (bytes.size() != static_cast<std::uint64_t>(s.numel) * esize)
    throw InputError(fmt::format("{}: storage '{}' holds {} bytes, its header says {} x {}", what, s.key, bytes.size(),
                                 s.numel, scalar_type_name(s.dtype)));
  FloatTensor out;
  out.shape = t.sizes;
  out.source_type = s.dtype;
  // Check the view lies inside the storage: offset + sum((size-1)*stride) < numel.
  std::int64_t numel = 1, last = t.offset;
  for (std::size_t d = 0; d < t.sizes.size(); ++d) {
    if (t.sizes[d] < 0 || t.strides[d] < 0) throw InputError(fmt::format("{}: negative size or stride", what));
    if (t.sizes[d] == 0) numel = 0;
    if (numel && t.sizes[d] > (std::int64_t{1} << 40) / numel)
      throw InputError(fmt::format("{}: tensor too large", what));
    numel *= t.sizes[d];
    if (t.sizes[d] > 0 && t.strides[d] > (std::int64_t{1} << 40) / t.sizes[d])
      throw InputError(fmt::format("{}: stride out of range", what));
    last += (t.sizes[d] > 0 ? t.sizes[d] - 1 : 0) * t.strides[d];
  }
  if (numel > 0 && (t.offset < 0 || last >= s.numel))
    throw InputError(fmt::format("{}: the view (offset {}, shape {}) reaches outside its storage of {} elements", what,
                                 t.offset, shape_string(t.sizes), s.numel));
  out.data.resize(static_cast<std::size_t>(numel));
  const char* base = bytes.data();
  auto load = [&](std::int64_t index) -> float {
    const char* p = base + static_cast<std::size_t>(index) * esize;
    switch (s.dtype) {
      case ScalarType::Float32: {
        float v;
        std::memcpy(&v, p, 4);
        return v;
      }
      case ScalarType::Float64: {
        double v;
        std::memcpy(&v, p, 8);
        return static_cast<float>(v);
      }
      case ScalarType::Float16: {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return half_to_float(v);
      }
      case ScalarType::BFloat16: {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        return bfloat16_to_float(v);
      }
      case ScalarType::Int64: {
        std::int64_t v;
        std::memcpy(&v, p, 8);
        return static_cast<float>(v);
      }
      case ScalarType::Int32: {
        std::int32_t v;
        std::memcpy(&v, p, 4);
        return static_cast<float>(v);
      }
      case ScalarType::Int16: {
        std::int16_t v;
        std::memcpy(&v, p, 2);
        return static_cast<float>(v);
      }
      case ScalarType::Int8: return static_cast<float>(static_cast<std::int8_t>(*p));
      case ScalarType::UInt8:
      case ScalarType::Bool: return static_cast<float>(static_cast<std::uint8_t>(*p));
    }
    return 0.0f;
  };
  // Walk the index space in C order with an odometer over the dimensions.
  const std::size_t rank = t.sizes.size();
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t src = t.offset;
  for (std::size_t i = 0; i < out.data.size(); ++i) {
    out.data[i] = load(src);
    for (std::size_t d = rank; d-- > 0;) {
      if (++idx[d] < t.sizes[d]) {
        src += t.strides[d];
        break;
      }
      src -= (t.sizes[d] - 1) * t.strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace coughkit::checkpoint
