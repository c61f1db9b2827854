#pragma once
// The checkpoint fixtures written by tools/reference/make_checkpoints.py (CTest fixture
// `checkpoints`) and helpers shared by the conversion tests.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/engine.h"
#include "support/run_cli.h"

namespace coughkit::testing {

std::filesystem::path checkpoint_dir();
nlohmann::json checkpoint_manifest();  // throws when missing: a parity test must not pass without it

struct ModelInput {
  std::string name;
  int batch = 0, segments = 0;
  std::vector<float> x;              // (B,S,3,224,224)
  std::vector<std::uint8_t> mask;    // (B,S)
  std::string mask_digits() const;  // "1110" for ort_run.js
};
ModelInput load_checkpoint_case(const nlohmann::json& c);

// max (|got - want| - rel * |want|) over the four outputs against a manifest entry of
// expected values: rel = 0 gives the max absolute difference; the tests check
// |got - want| <= abs + rel * |want| (STYLE.md's fp32 OpTester rule, abs 1e-5, rel 1e-4),
// since float32 accumulation over ResNet-18 moves a logit of 12 by a few 1e-5.
double max_output_diff(const model::ModelOutputs& got, const nlohmann::json& want, double rel = 0.0);

// Shell commands (node, python) run through support/run_cli.h's run_command.

}  // namespace coughkit::testing
