#include "checkpoint/checkpoint_reader.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "checkpoint/sha256.h"
#include "checkpoint/torch_globals.h"
#include "checkpoint/unpickler.h"
#include "checkpoint/zip_archive.h"
#include "common/error.h"
#include "common/json_text.h"

namespace coughkit::checkpoint {
namespace {

// The parsed object graph of a file, and a way to get a storage's bytes.
struct Parsed {
  Arena arena;
  StorageTable storages;
  PickleValue root;
  std::function<std::string(const StorageInfo&)> storage_bytes;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the file");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(path + ": cannot read the file");
  return data;
}

void parse_zip(const std::string& path, Parsed& p) {
  auto zip = std::make_shared<ZipArchive>(path);
  // Entries are "<archive name>/data.pkl", "<archive name>/data/<key>", ...; the archive
  // name is whatever the file was called when saved.
  std::string pkl;
  for (const auto& n : zip->names())
    if (n.ends_with("/data.pkl") && std::count(n.begin(), n.end(), '/') == 1) {
      if (!pkl.empty()) throw InputError(path + ": the archive holds more than one data.pkl");
      pkl = n;
    }
  if (pkl.empty()) throw InputError(path + ": a zip archive without data.pkl is not a torch.save checkpoint");
  const std::string prefix = pkl.substr(0, pkl.size() - std::strlen("data.pkl"));
  if (zip->contains(prefix + "byteorder") && zip->read(prefix + "byteorder") != "little")
    throw InputError(path + ": big-endian checkpoints are not supported");
  const std::string bytes = zip->read(pkl);
  Unpickler u(bytes, path, p.arena, torch_unpickler_hooks(p.storages));
  p.root = u.load();
  p.storage_bytes = [zip, prefix](const StorageInfo& s) {
    const std::string name = prefix + "data/" + s.key;
    if (!zip->contains(name)) throw InputError(fmt::format("{}: the archive has no entry '{}'", zip->path(), name));
    return zip->read(name);
  };
}

// The pre-1.6 format: pickles of the magic number, protocol version and system info, then
// the object, then the list of storage keys, then each storage's data in that order as
// <int64 element count><raw little-endian elements>.
void parse_legacy(const std::string& path, Parsed& p) {
  auto data = std::make_shared<std::string>(read_file(path));
  Arena header_arena(64);
  StorageTable none;
  UnpicklerHooks plain = torch_unpickler_hooks(none);
  Unpickler header(*data, path, header_arena, plain);
  const PickleValue magic = header.load();
  // torch/serialization.py MAGIC_NUMBER = 0x1950a86a20f9469cfc6c, pickled as LONG1.
  const std::string want("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
  const Object* big = as_object(magic, Object::Kind::BigInt);
  if (!big || big->bytes != want) throw InputError(path + ": not a PyTorch checkpoint (wrong magic number)");
  const PickleValue version = header.load();
  if (!std::holds_alternative<std::int64_t>(version) || std::get<std::int64_t>(version) != 1001)
    throw InputError(path + ": unsupported legacy checkpoint protocol version");
  const PickleValue sys_info = header.load();
  if (const Object* d = as_object(sys_info, Object::Kind::Dict)) {
    const PickleValue* le = d->find("little_endian");
    if (le && std::holds_alternative<bool>(*le) && !std::get<bool>(*le))
      throw InputError(path + ": big-endian checkpoints are not supported");
  }
  std::string_view rest = std::string_view(*data).substr(header.position());
  Unpickler body(rest, path, p.arena, torch_unpickler_hooks(p.storages));
  p.root = body.load();
  Unpickler keys_pickle(rest.substr(body.position()), path, p.arena, torch_unpickler_hooks(p.storages));
  const PickleValue keys = keys_pickle.load();
  const Object* key_list = as_object(keys, Object::Kind::List);
  if (!key_list) throw InputError(path + ": the legacy storage key list is missing");
  std::size_t pos = header.position() + body.position() + keys_pickle.position();
  auto offsets = std::make_shared<std::map<std::string, std::pair<std::size_t, std::size_t>>>();
  for (const auto& k : key_list->items) {
    const auto* key = as_string(k);
    if (!key) throw InputError(path + ": a legacy storage key is not a string");
    auto it = p.storages.find(*key);
    if (it == p.storages.end()) throw InputError(fmt::format("{}: storage '{}' is listed but never used", path, *key));
    if (data->size() - pos < 8) throw InputError(path + ": truncated (storage data missing)");
    std::int64_t numel;
    std::memcpy(&numel, data->data() + pos, 8);
    const std::size_t esize = element_size(it->second->storage.dtype);
    if (numel != it->second->storage.numel || static_cast<std::uint64_t>(numel) > (data->size() - pos - 8) / esize)
      throw InputError(fmt::format("{}: storage '{}' data is truncated or does not match its header", path, *key));
    (*offsets)[*key] = {pos + 8, static_cast<std::size_t>(numel) * esize};
    pos += 8 + static_cast<std::size_t>(numel) * esize;
  }
  p.storage_bytes = [data, offsets, path](const StorageInfo& s) {
    auto it = offsets->find(s.key);
    if (it == offsets->end()) throw InputError(fmt::format("{}: no data for storage '{}'", path, s.key));
    return data->substr(it->second.first, it->second.second);
  };
}

// Plain values -> JSON (the `config` dict). Depth-limited: hostile nesting ends as a string.
nlohmann::json to_json(const PickleValue& v, int depth = 0) {
  if (depth > 32) return "<nested too deep>";
  switch (v.index()) {
    case 0: return nullptr;
    case 1: return std::get<bool>(v);
    case 2: return std::get<std::int64_t>(v);
    case 3: return std::get<double>(v);
    case 4: return std::get<std::string>(v);
    default: break;
  }
  const Object& o = *std::get<Object*>(v);
  if (o.kind == Object::Kind::List || o.kind == Object::Kind::Tuple) {
    auto a = nlohmann::json::array();
    for (const auto& item : o.items) a.push_back(to_json(item, depth + 1));
    return a;
  }
  if (o.kind == Object::Kind::Dict) {
    auto d = nlohmann::json::object();
    for (const auto& [k, val] : o.entries) {
      std::string key = as_string(k) ? *as_string(k) : json_text(to_json(k, depth + 1));
      d[key] = to_json(val, depth + 1);
    }
    return d;
  }
  return "<" + type_name(v) + ">";
}

std::optional<double> number(const Object& d, const char* key) {
  const PickleValue* v = d.find(key);
  if (!v) return std::nullopt;
  if (const auto* f = std::get_if<double>(v)) return *f;
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  return std::nullopt;
}

bool is_tensor_dict(const Object& d) {
  if (d.entries.empty()) return false;
  return std::all_of(d.entries.begin(), d.entries.end(),
                     [](const auto& kv) { return as_string(kv.first) && as_object(kv.second, Object::Kind::Tensor); });
}

std::string keys_of(const Object& d) {
  std::string s;
  int n = 0;
  for (const auto& [k, _] : d.entries) {
    if (++n > 8) return s + ", ...";
    s += (s.empty() ? "" : ", ") + (as_string(k) ? *as_string(k) : type_name(k));
  }
  return s.empty() ? "none" : s;
}

}  // namespace

bool Checkpoint::has_config() const { return !nlohmann::json::parse(config_json).empty(); }

std::optional<double> Checkpoint::config_number(const std::string& key) const {
  const auto config = nlohmann::json::parse(config_json);
  const auto it = config.find(key);
  if (it == config.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::optional<std::string> Checkpoint::config_string(const std::string& key) const {
  const auto config = nlohmann::json::parse(config_json);
  const auto it = config.find(key);
  if (it == config.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool is_checkpoint_path(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".pth" || ext == ".pt" || ext == ".ckpt";
}

Checkpoint read_checkpoint(const std::string& path) {
  Checkpoint c;
  c.path = path;
  c.state = StateDict(path);
  std::error_code ec;
  c.file_size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(path + ": cannot open the file (" + ec.message() + ")");
  char head[4] = {};
  {
    std::ifstream in(path, std::ios::binary);
    in.read(head, 4);
    if (in.gcount() < 2) throw InputError(path + ": the file is empty or too short to be a checkpoint");
  }
  Parsed p;
  if (std::memcmp(head, "PK\x03\x04", 4) == 0) {
    c.format = "zip";
    parse_zip(path, p);
  } else if (static_cast<unsigned char>(head[0]) == 0x80) {
    c.format = "legacy";
    parse_legacy(path, p);
  } else {
    throw InputError(path + ": not a PyTorch checkpoint (neither a torch.save zip archive nor a legacy pickle)");
  }

  const Object* root = as_object(p.root, Object::Kind::Dict);
  if (!root) throw InputError(path + ": the checkpoint holds a " + type_name(p.root) + ", not a dict");
  const Object* state = nullptr;
  for (const char* key : {"model_state_dict", "state_dict"})
    if (const PickleValue* v = root->find(key)) {
      state = as_object(*v, Object::Kind::Dict);
      if (!state) throw InputError(fmt::format("{}: '{}' is a {}, not a dict", path, key, type_name(*v)));
      break;
    }
  if (!state) {
    if (!is_tensor_dict(*root))
      throw InputError(fmt::format("{}: no 'model_state_dict' and not a bare state dict (top-level keys: {})", path,
                                   keys_of(*root)));
    state = root;
    c.bare_state_dict = true;
  } else {
    c.has_optimizer_state = root->find("optimizer_state_dict") != nullptr;
    if (const PickleValue* e = root->find("epoch"); e && std::holds_alternative<std::int64_t>(*e))
      c.epoch = std::get<std::int64_t>(*e);
    c.val_auc = number(*root, "val_auc");
    c.val_ap = number(*root, "val_ap");
    if (const PickleValue* cfg = root->find("config"); cfg && as_object(*cfg, Object::Kind::Dict))
      c.config_json = json_text(to_json(*cfg));
  }

  // DataParallel checkpoints prefix every key with "module."; strip it when all have it.
  const bool data_parallel = std::all_of(state->entries.begin(), state->entries.end(), [](const auto& kv) {
    return as_string(kv.first) && as_string(kv.first)->starts_with("module.");
  });
  // Each storage is read once even when several tensors view it.
  std::map<const Object*, std::string> loaded;
  for (const auto& [k, v] : state->entries) {
    const auto* name = as_string(k);
    if (!name) throw InputError(path + ": a state dict key is a " + type_name(k) + ", not a string");
    const Object* t = as_object(v, Object::Kind::Tensor);
    if (!t) throw InputError(fmt::format("{}: state dict entry '{}' is a {}, not a tensor", path, *name, type_name(v)));
    const ScalarType dtype = t->tensor.storage->storage.dtype;
    const bool is_float = dtype == ScalarType::Float32 || dtype == ScalarType::Float16 ||
                          dtype == ScalarType::BFloat16 || dtype == ScalarType::Float64;
    if (!is_float) continue;  // num_batches_tracked: training bookkeeping only
    auto it = loaded.find(t->tensor.storage);
    if (it == loaded.end()) it = loaded.emplace(t->tensor.storage, p.storage_bytes(t->tensor.storage->storage)).first;
    const std::string key = data_parallel ? name->substr(7) : *name;
    c.state.add(key, materialize(t->tensor, it->second, fmt::format("{}: tensor '{}'", path, *name)));
  }
  c.sha256 = sha256_file(path);
  return c;
}

}  // namespace coughkit::checkpoint
