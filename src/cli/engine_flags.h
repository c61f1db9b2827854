#pragma once
// Flags shared by the commands that load a model (detect, bench, serve, compare).
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "detection/default_model.h"
#include "detection/model_factory.h"
#include "model/engine.h"

namespace coughkit::cli {

inline constexpr const char* kBackendHelp =
    "engine: coughkit's oneDNN engine (default); torch: run a .pth checkpoint through LibTorch, the trainer's "
    "kernels (reference backend; loads LibTorch, ~0.7 s)";

inline void add_engine_flags(CLI::App* cmd, model::EngineOptions& options) {
  cmd->add_option("--threads", options.threads, "Inference threads (0 = all cores)")
      ->envname("COUGHKIT_THREADS")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_flag("!--no-winograd", options.winograd,
                "Use direct convolutions only (Winograd is used for 3x3 stride-1 layers where parity holds)");
}

// The engine flags plus `--backend engine|torch` (DetectorConfig::backend).
inline void add_engine_flags(CLI::App* cmd, model::EngineOptions& options, detection::Backend& backend) {
  add_engine_flags(cmd, options);
  cmd->add_option_function<std::string>(
         "--backend", [&backend](const std::string& name) { backend = *detection::parse_backend(name); }, kBackendHelp)
      ->envname("COUGHKIT_BACKEND")
      ->check(CLI::IsMember({"engine", "torch"}))
      ->default_str("engine");
}

// An empty --model means the bundled default model (detect, serve): fills it in and says so.
// False, with the reason logged, when there is none to be found (a usage error).
inline bool resolve_default_model(std::string& model_path) {
  if (!model_path.empty()) return true;
  const auto found = detection::find_default_model();
  if (!found) {
    spdlog::error("no --model given and the default model ({}) was not found; looked in: {}",
                  detection::kDefaultModelFile, fmt::join(detection::default_model_candidates(), ", "));
    return false;
  }
  model_path = *found;
  spdlog::info("model: {} (the bundled default; --model picks another)", model_path);
  return true;
}

}  // namespace coughkit::cli
