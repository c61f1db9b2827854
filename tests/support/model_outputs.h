#pragma once
// Comparing a model's four outputs with expected values from a manifest (the golden set,
// the exported-model fixtures, the checkpoint fixtures).
#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/model_runner.h"

namespace coughkit::testing {

// max (|got - want| - rel * |want|) over bag_probability, bag_logit, segment_probabilities
// and segment_logits; a NaN anywhere gives infinity. rel = 0 gives the max absolute
// difference; the tests check |got - want| <= abs + rel * |want| (STYLE.md's fp32 OpTester
// rule, abs 1e-5, rel 1e-4), since float32 accumulation over ResNet-18 moves a logit of 12
// by a few 1e-5. Per-bag values may be numbers (the golden manifest) or lists (fixtures).
inline double max_output_diff(const model::ModelOutputs& got, const nlohmann::json& want, double rel = 0.0) {
  double worst = 0;
  auto compare = [&](const std::vector<float>& g, const char* name) {
    const auto& j = want.at(name);
    const auto w = j.is_array() ? j.get<std::vector<double>>() : std::vector<double>{j.get<double>()};
    EXPECT_EQ(g.size(), w.size()) << name;
    for (std::size_t i = 0; i < std::min(g.size(), w.size()); ++i) {
      const double d = std::abs(g[i] - w[i]) - rel * std::abs(w[i]);
      worst = std::isnan(d) ? INFINITY : std::max(worst, d);
      if (std::isinf(worst)) return;
    }
  };
  compare(got.bag_probability, "bag_probability");
  compare(got.bag_logit, "bag_logit");
  compare(got.segment_probabilities, "segment_probabilities");
  compare(got.segment_logits, "segment_logits");
  return worst;
}

}  // namespace coughkit::testing
