#pragma once
// The checkpoint fixtures written by tools/reference/make_checkpoints.py (CTest fixture
// `checkpoints`) and helpers shared by the conversion tests.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/engine.h"
#include "support/model_outputs.h"
#include "support/run_cli.h"

namespace coughkit::testing {

std::filesystem::path checkpoint_dir();
nlohmann::json checkpoint_manifest();  // throws when missing: a parity test must not pass without it

struct ModelInput {
  std::string name;
  int batch = 0, segments = 0;
  std::vector<float> x;             // (B,S,3,224,224)
  std::vector<std::uint8_t> mask;   // (B,S)
  std::string mask_digits() const;  // "1110" for ort_run.js
};
ModelInput load_checkpoint_case(const nlohmann::json& c);

// Shell commands (node, python) run through support/run_cli.h's run_command.

}  // namespace coughkit::testing
