#pragma once
// The model fixtures written by tools/reference/export_models.py (CTest fixture
// `model_fixtures`), and helpers to feed their cases to an Engine.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/engine.h"
#include "support/model_outputs.h"

namespace coughkit::testing {

std::filesystem::path model_fixture_dir();
nlohmann::json model_fixture_manifest();  // throws when missing: a parity test must not pass without it

struct EngineInput {
  int batch = 0, segments = 0;
  std::vector<float> spectrograms;  // (B,S,3,224,224); padded segments all zero
  std::vector<std::uint8_t> mask;   // (B,S)
};
// A manifest case: mel images (NaN for padded segments) -> normalised input.
EngineInput load_case(const nlohmann::json& c);

}  // namespace coughkit::testing
