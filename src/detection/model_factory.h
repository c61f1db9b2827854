#pragma once
// The one factory that opens a model file as a runner, for every front end: `--model
// FILE.onnx` or `--model FILE.pth`, on coughkit's engine or on LibTorch.
//
//   auto runner = coughkit::detection::open_model({.path = "best_model.pth"});
//
//   backend   file          what runs
//   engine    .onnx         the file on coughkit's oneDNN engine
//   engine    .pth/.pt/...  the checkpoint built into an ONNX graph in memory (src/export/), on the engine
//   torch     .pth/.pt/...  the checkpoint on LibTorch, in the module libcoughkit_torch.so
//                           (modules/torch_module.h), opened only then
#include <memory>
#include <optional>
#include <string>

#include "model/engine.h"
#include "model/model_runner.h"

namespace coughkit::detection {

enum class Backend { kEngine, kTorch };

const char* backend_name(Backend b);  // "engine", "torch"
// "engine" / "torch"; nullopt for anything else.
std::optional<Backend> parse_backend(const std::string& name);

struct ModelSpec {
  std::string path;  // .onnx, or a torch.save checkpoint (.pth, .pt, .ckpt)
  Backend backend = Backend::kEngine;
  model::EngineOptions engine{};  // threads (both backends), engine options

  void Validate() const;  // throws ConfigError naming what is wrong
};

// Throws InputError for an unusable model file, ConfigError for bad options,
// std::runtime_error when the LibTorch module is needed but missing.
std::unique_ptr<model::ModelRunner> open_model(const ModelSpec& spec);

// The engine itself (bench reports its FLOPs and kernels): open_model with the engine backend.
std::unique_ptr<model::Engine> open_engine(const std::string& path, const model::EngineOptions& options);

}  // namespace coughkit::detection
