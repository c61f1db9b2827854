#include "training/torch_checkpoint.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>

#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "checkpoint/checkpoint_reader.h"
#include "common/error.h"
#include "io/atomic_file.h"

namespace coughkit::training {
namespace {

// A JSON value as the plain Python value it stands for (dict/list/int/float/str/bool/None).
c10::IValue to_ivalue(const nlohmann::json& j, int depth = 0) {
  if (depth > 32) throw std::invalid_argument("checkpoint config nested deeper than 32 levels");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return {};
    case nlohmann::json::value_t::boolean: return c10::IValue(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return c10::IValue(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return c10::IValue(static_cast<std::int64_t>(u));
      return c10::IValue(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float: return c10::IValue(j.get<double>());
    case nlohmann::json::value_t::string: return c10::IValue(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      c10::impl::GenericList list(c10::AnyType::get());
      for (const auto& item : j) list.push_back(to_ivalue(item, depth + 1));
      return list;
    }
    case nlohmann::json::value_t::object: {
      c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
      for (const auto& [key, value] : j.items()) dict.insert(key, to_ivalue(value, depth + 1));
      return dict;
    }
    default: throw std::invalid_argument("checkpoint config holds a value that is not plain JSON (binary?)");
  }
}

// torch.save's zip layout: <archive>/data.pkl, <archive>/data/<key> per storage,
// <archive>/version. The pickle is written without TorchScript type tags (no
// torch.jit._pickle.restore_type_tag globals: only _rebuild_tensor_v2, OrderedDict and
// storage types), so `torch.load(..., weights_only=True)` accepts it too.
void write_archive(const std::string& file, const c10::IValue& root) {
  std::vector<char> pickle_data;
  torch::jit::Pickler pickler(
      [&](const char* data, std::size_t n) { pickle_data.insert(pickle_data.end(), data, data + n); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(root);
  pickler.stop();

  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(fmt::format("cannot create {}: {}", file, std::strerror(errno)));
  {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, std::size_t n) -> std::size_t {
      out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
      return out ? n : 0;
    });
    const auto& tensors = pickler.tensorData();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto td = torch::jit::getWriteableTensorData(tensors[i], /*to_cpu=*/true);
      writer.writeRecord("data/" + std::to_string(i), td.data(), td.sizeInBytes());
    }
    writer.writeRecord("data.pkl", pickle_data.data(), pickle_data.size());
    writer.writeEndOfFile();
  }
  out.flush();
  if (!out) throw std::runtime_error(fmt::format("cannot write {}: {}", file, std::strerror(errno)));
  out.close();
}

}  // namespace

void save_checkpoint(const std::string& path, AttnMILResNet& model, const CheckpointInfo& info) {
  c10::Dict<std::string, torch::Tensor> state;
  {
    torch::NoGradGuard no_grad;
    // Own, compact CPU storages: the archive holds each tensor's whole storage.
    for (const auto& [name, tensor] : state_dict(model))
      state.insert(name, tensor.detach().to(torch::kCPU).contiguous().clone());
  }
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("model_state_dict", state);
  root.insert("epoch", c10::IValue(info.epoch));
  root.insert("val_auc", c10::IValue(info.val_auc));
  root.insert("val_ap", c10::IValue(info.val_ap));
  root.insert("config", to_ivalue(info.config.is_null() ? nlohmann::json::object() : info.config));

  // Temporary file next to the target, then rename: a crash mid-write never leaves a
  // truncated checkpoint under the real name.
  io::replace_file_atomically(path, [&](const std::filesystem::path& tmp) {
    try {
      write_archive(tmp.string(), root);
    } catch (const c10::Error& e) {
      throw std::runtime_error(fmt::format("cannot write checkpoint {}: {}", path, e.what_without_backtrace()));
    }
  });
}

AttnMILResNet model_from_checkpoint(const checkpoint::Checkpoint& ckpt, double dropout) {
  // The attention width from the weights themselves (the reference's attn_hidden, 128).
  int attn_hidden = 128;
  if (ckpt.state.contains("attn.0.weight")) {
    const auto& shape = ckpt.state.at("attn.0.weight").shape;
    if (shape.size() == 2 && shape[0] > 0 && shape[0] <= 65536) attn_hidden = static_cast<int>(shape[0]);
  }
  AttnMILResNet model(dropout, attn_hidden);
  load_state_dict(model, ckpt.state);
  model->eval();
  return model;
}

AttnMILResNet load_checkpoint_model(const std::string& path, double dropout) {
  return model_from_checkpoint(checkpoint::read_checkpoint(path), dropout);
}

}  // namespace coughkit::training
