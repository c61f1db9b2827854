#pragma once
// The bundled default model (models/coughkit_default.onnx, card in models/README.md), used
// by `coughkit detect` and `coughkit serve` when no --model is given.
#include <optional>
#include <string>
#include <vector>

namespace coughkit::detection {

inline constexpr const char* kDefaultModelFile = "coughkit_default.onnx";

// Where the default model is looked for, in order: next to the program in a build tree
// (build/bin/../../models/), an install (bin/../share/coughkit/models/), and ./models/.
std::vector<std::string> default_model_candidates();

// The first candidate that exists, if any.
std::optional<std::string> find_default_model();

}  // namespace coughkit::detection
