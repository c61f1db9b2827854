#pragma once
// ONNX Runtime (npm onnxruntime-node, via tests/conversion/ort_run.js) as the independent
// runtime of the parity tests: run a model file on one model input, get its four outputs.
// The test target defines COUGHKIT_NODE, COUGHKIT_ORT_RUN_JS and COUGHKIT_ORT_MODULE.
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/run_cli.h"

#if !defined(COUGHKIT_NODE) || !defined(COUGHKIT_ORT_RUN_JS) || !defined(COUGHKIT_ORT_MODULE)
#error "a test using ONNX Runtime needs COUGHKIT_NODE, COUGHKIT_ORT_RUN_JS and COUGHKIT_ORT_MODULE defined"
#endif

namespace coughkit::testing {

// ONNX Runtime's outputs for `model` on the (batch, segments, 3, 224, 224) input `x` and a
// mask of '0'/'1' digits: {"bag_probability": {"dims": [...], "data": [...]}, ...}, the last
// JSON line ort_run.js printed. The input goes to `raw_path` first. On failure a test
// failure is recorded and the result is not an object.
inline nlohmann::json run_onnxruntime(const std::filesystem::path& model, const std::filesystem::path& raw_path,
                                      std::span<const float> x, int batch, int segments, const std::string& mask) {
  std::ofstream(raw_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
  const auto r = run_command(fmt::format("{} {} {} {} {} {} {} {}", COUGHKIT_NODE, COUGHKIT_ORT_RUN_JS,
                                         COUGHKIT_ORT_MODULE, quoted(model), quoted(raw_path), batch, segments, mask));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto out = last_json_line(r.output);
  if (!out.is_object()) ADD_FAILURE() << "ort_run.js printed no JSON: " << r.output;
  return out;
}

}  // namespace coughkit::testing
