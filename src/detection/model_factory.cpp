#include "detection/model_factory.h"

#include <map>

#include <fmt/format.h>

#include "checkpoint/checkpoint_reader.h"
#include "common/error.h"
#include "export/checkpoint_model.h"
#include "modules/torch_module.h"

namespace coughkit::detection {

const char* backend_name(Backend b) { return b == Backend::kTorch ? "torch" : "engine"; }

std::optional<Backend> parse_backend(const std::string& name) {
  if (name == "engine") return Backend::kEngine;
  if (name == "torch") return Backend::kTorch;
  return std::nullopt;
}

void ModelSpec::Validate() const {
  if (path.empty()) throw ConfigError("no model file given: pass --model FILE.onnx (or a .pth checkpoint)");
  if (backend == Backend::kTorch && !checkpoint::is_checkpoint_path(path))
    throw ConfigError(
        fmt::format("--backend torch runs a torch.save checkpoint (.pth, .pt, .ckpt); {} is not one "
                    "(ONNX files run on the engine)",
                    path));
  engine.Validate();
}

std::unique_ptr<model::Engine> open_engine(const std::string& path, const model::EngineOptions& options) {
  options.Validate();
  if (!checkpoint::is_checkpoint_path(path)) return model::Engine::load_onnx(path, options);
  const auto ckpt = checkpoint::read_checkpoint(path);
  return model::Engine::load_onnx_bytes(exporter::checkpoint_onnx_bytes(ckpt), path, options);
}

std::unique_ptr<model::ModelRunner> open_model(const ModelSpec& spec) {
  spec.Validate();
  if (spec.backend == Backend::kEngine) return open_engine(spec.path, spec.engine);
  // The LibTorch module is opened here, and only here: the engine path never loads it.
  const auto& torch = training::torch_module();
  const auto ckpt = checkpoint::read_checkpoint(spec.path);
  std::map<std::string, std::string> metadata;
  for (auto& [key, value] : exporter::checkpoint_metadata(ckpt)) metadata[key] = value;
  return torch.load_checkpoint(ckpt, metadata, spec.engine.threads);
}

}  // namespace coughkit::detection
