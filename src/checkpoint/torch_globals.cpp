#include "checkpoint/torch_globals.h"

#include <array>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace coughkit::checkpoint {
namespace {

struct StorageType {
  const char* name;
  ScalarType dtype;
};
// torch.<Name>Storage classes as torch.save names them in persistent ids.
constexpr std::array<StorageType, 10> kStorageTypes{{
    {"FloatStorage", ScalarType::Float32},
    {"HalfStorage", ScalarType::Float16},
    {"BFloat16Storage", ScalarType::BFloat16},
    {"DoubleStorage", ScalarType::Float64},
    {"LongStorage", ScalarType::Int64},
    {"IntStorage", ScalarType::Int32},
    {"ShortStorage", ScalarType::Int16},
    {"CharStorage", ScalarType::Int8},
    {"ByteStorage", ScalarType::UInt8},
    {"BoolStorage", ScalarType::Bool},
}};

// Callables REDUCE may invoke; each builds data only. The torch.jit._pickle ones are
// identity functions in Python (type tags for TorchScript's unpickler): LibTorch's
// torch::pickle_save (the checkpoints `coughkit train` writes) wraps every dict and list in
// restore_type_tag(value, "Dict[str, Any]") and typed lists in build_intlist(...) etc.
constexpr std::array<std::pair<const char*, const char*>, 10> kCallables{{
    {"collections", "OrderedDict"},
    {"torch._utils", "_rebuild_tensor_v2"},
    {"torch._utils", "_rebuild_tensor"},
    {"torch._utils", "_rebuild_parameter"},
    {"torch._utils", "_rebuild_parameter_with_state"},
    {"torch.jit._pickle", "restore_type_tag"},
    {"torch.jit._pickle", "build_intlist"},
    {"torch.jit._pickle", "build_doublelist"},
    {"torch.jit._pickle", "build_boollist"},
    {"torch.jit._pickle", "build_tensorlist"},
}};

const StorageType* storage_type(const std::string& module, const std::string& name) {
  if (module != "torch") return nullptr;
  for (const auto& t : kStorageTypes)
    if (name == t.name) return &t;
  return nullptr;
}

[[noreturn]] void bad(const std::string& why) { throw std::invalid_argument(why); }

std::int64_t int_arg(const PickleValue& v, const char* what) {
  const auto* i = std::get_if<std::int64_t>(&v);
  if (!i) bad(fmt::format("{} is a {}, not an int", what, type_name(v)));
  return *i;
}

std::vector<std::int64_t> int_tuple(const PickleValue& v, const char* what) {
  const Object* t = as_object(v, Object::Kind::Tuple);
  if (!t) bad(fmt::format("{} is a {}, not a tuple", what, type_name(v)));
  std::vector<std::int64_t> out;
  for (const auto& item : t->items) out.push_back(int_arg(item, what));
  return out;
}

// torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
// backward_hooks[, metadata]) and the older _rebuild_tensor(storage, offset, size, stride).
PickleValue rebuild_tensor(Arena& arena, const std::vector<PickleValue>& args, std::size_t min_args) {
  if (args.size() < min_args || args.size() > 7) bad(fmt::format("_rebuild_tensor with {} arguments", args.size()));
  const Object* storage = as_object(args[0], Object::Kind::Storage);
  if (!storage) bad("_rebuild_tensor of a " + type_name(args[0]) + ", not a storage");
  Object* t = arena.make(Object::Kind::Tensor);
  t->tensor.storage = storage;
  t->tensor.offset = int_arg(args[1], "tensor storage offset");
  t->tensor.sizes = int_tuple(args[2], "tensor size");
  t->tensor.strides = int_tuple(args[3], "tensor stride");
  if (t->tensor.sizes.size() != t->tensor.strides.size())
    bad(fmt::format("tensor with {} sizes but {} strides", t->tensor.sizes.size(), t->tensor.strides.size()));
  if (t->tensor.sizes.size() > 8) bad("tensor of rank > 8");
  return t;
}

PickleValue call(Arena& arena, const Object& fn, const std::vector<PickleValue>& args) {
  if (fn.module == "collections" && fn.name == "OrderedDict") {
    if (!args.empty()) bad("OrderedDict with constructor arguments is not supported");
    Object* d = arena.make(Object::Kind::Dict);
    d->ordered = true;
    return d;
  }
  if (fn.module == "torch._utils") {
    if (fn.name == "_rebuild_tensor_v2") return rebuild_tensor(arena, args, 6);
    if (fn.name == "_rebuild_tensor") return rebuild_tensor(arena, args, 4);
    if (fn.name == "_rebuild_parameter" || fn.name == "_rebuild_parameter_with_state") {
      // A Parameter is its tensor (requires_grad and hooks do not matter for inference).
      if (args.empty() || !as_object(args[0], Object::Kind::Tensor)) bad("_rebuild_parameter without a tensor");
      return args[0];
    }
  }
  if (fn.module == "torch.jit._pickle") {
    // restore_type_tag(value, type_str) -> value; build_*list(list) -> list.
    if (fn.name == "restore_type_tag") {
      if (args.size() != 2 || !as_string(args[1])) bad("restore_type_tag without (value, type string) arguments");
      return args[0];
    }
    if (args.size() != 1 || !as_object(args[0], Object::Kind::List)) bad(fn.name + " without a list argument");
    return args[0];
  }
  bad(fmt::format("'{}.{}' cannot be called", fn.module, fn.name));
}

PickleValue persistent_load(StorageTable& storages, Arena& arena, const PickleValue& pid) {
  const Object* t = as_object(pid, Object::Kind::Tuple);
  if (!t || t->items.size() < 5 || !as_string(t->items[0]) || *as_string(t->items[0]) != "storage")
    bad("persistent id is not a ('storage', type, key, location, numel) tuple");
  const Object* type = as_object(t->items[1], Object::Kind::Global);
  const StorageType* st = type ? storage_type(type->module, type->name) : nullptr;
  if (!st) bad("persistent id names " + type_name(t->items[1]) + ", not a torch storage type");
  const auto* key = as_string(t->items[2]);
  const auto* location = as_string(t->items[3]);
  if (!key || !location) bad("persistent id with a non-string key or location");
  const std::int64_t numel = int_arg(t->items[4], "storage size");
  // Sizes are checked against the data later; here only against nonsense.
  if (numel < 0 || numel > std::numeric_limits<std::int64_t>::max() / 8) bad("storage size out of range");
  auto it = storages.find(*key);
  if (it != storages.end()) {
    if (it->second->storage.dtype != st->dtype || it->second->storage.numel != numel)
      bad(fmt::format("storage '{}' is declared twice with different types or sizes", *key));
    return it->second;
  }
  Object* s = arena.make(Object::Kind::Storage);
  s->storage = {*key, st->dtype, numel};
  storages.emplace(*key, s);
  return s;
}

}  // namespace

UnpicklerHooks torch_unpickler_hooks(StorageTable& storages) {
  UnpicklerHooks h;
  h.allow_global = [](const std::string& module, const std::string& name) {
    if (storage_type(module, name)) return true;
    for (const auto& [m, n] : kCallables)
      if (module == m && name == n) return true;
    return false;
  };
  h.call = call;
  h.persistent_load = [&storages](Arena& arena, const PickleValue& pid) {
    return persistent_load(storages, arena, pid);
  };
  return h;
}

}  // namespace coughkit::checkpoint
