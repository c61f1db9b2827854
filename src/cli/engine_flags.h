#pragma once
// Flags shared by the commands that load a model (detect, bench, serve, compare).
#include <CLI/CLI.hpp>

#include "model/engine.h"

namespace coughkit::cli {

inline void add_engine_flags(CLI::App* cmd, model::EngineOptions& options) {
  cmd->add_option("--threads", options.threads, "Inference threads (0 = all cores)")
      ->envname("COUGHKIT_THREADS")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_flag("!--no-winograd", options.winograd,
                "Use direct convolutions only (Winograd is used for 3x3 stride-1 layers where parity holds)");
}

}  // namespace coughkit::cli
