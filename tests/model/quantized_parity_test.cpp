// Dynamically quantised AttnMILResNet files, written the way ONNX Runtime's quantize_dynamic
// writes them (tools/reference/quantize_dynamic.py: uint8 and int8 weights, opsets 11-17,
// with and without BatchNormalization folded), run by the engine and by ONNX Runtime
// (onnxruntime-node) on the same inputs: the four outputs within 1e-4. Integer arithmetic is
// exact in both; what is left are float rounding differences in the float ops between them.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "support/model_outputs.h"
#include "support/onnxruntime.h"
#include "support/run_cli.h"

namespace coughkit::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kTolerance = 1e-4;  // issue: probabilities within 1e-4 of ONNX Runtime on the same file
// Cases small enough for the plain integer kernels under the sanitizers too.
const char* const kCases[] = {"b1_s2", "b3_s4_padded"};

fs::path quantized_dir() { return model_fixture_dir() / "quantized"; }

json quantized_manifest() {
  std::ifstream in(quantized_dir() / "manifest.json");
  if (!in) throw std::runtime_error("quantised fixtures missing: run tools/reference/quantize_dynamic.py");
  return json::parse(in);
}

const json& fixture_case(const json& manifest, const std::string& name) {
  for (const auto& c : manifest.at("cases"))
    if (c.at("name") == name) return c;
  throw std::runtime_error("no fixture case " + name);
}

// ONNX Runtime's four outputs, shaped as the fixture manifests hold expected values.
json run_onnxruntime(const fs::path& model, const EngineInput& in, const std::string& case_name) {
  std::string mask;
  for (auto m : in.mask) mask += m ? '1' : '0';
  const json out = testing::run_onnxruntime(model, quantized_dir() / (case_name + ".input.f32"), in.spectrograms,
                                            in.batch, in.segments, mask);
  json expected;
  if (!out.is_object()) return expected;
  for (const char* name : {"bag_probability", "bag_logit", "segment_probabilities", "segment_logits"})
    expected[name] = out.at(name).at("data");
  return expected;
}

class QuantizedFile : public ::testing::TestWithParam<std::string> {};

// ONNX Runtime multiplies uint8 activations by full-range int8 weights exactly only with VNNI;
// without it (AVX2) its int16 pair sums saturate, so the engine's exact sums differ.
bool onnxruntime_exact_for(const std::string& file) {
  if (file.find("_int8.onnx") == std::string::npos) return true;
  return __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
}

TEST_P(QuantizedFile, MatchesOnnxRuntimeOnTheSameFile) {
  if (!onnxruntime_exact_for(GetParam()))
    GTEST_SKIP() << GetParam() << ": this CPU has no VNNI, where ONNX Runtime's uint8 x int8 products saturate";
  const json fixtures = model_fixture_manifest();
  const fs::path file = quantized_dir() / GetParam();
  ASSERT_TRUE(fs::exists(file)) << file;
  model::EngineOptions options;
  options.threads = 2;
  auto engine = model::Engine::load_onnx(file.string(), options);
  double worst = 0;
  for (const char* name : kCases) {
    const EngineInput in = load_case(fixture_case(fixtures, name));
    const auto got = engine->run(in.batch, in.segments, in.spectrograms, in.mask);
    const double diff = max_output_diff(got, run_onnxruntime(file, in, name));
    EXPECT_LE(diff, kTolerance) << GetParam() << " case " << name;
    worst = std::max(worst, diff);
  }
  std::string kernels;
  for (const auto& k : engine->kernels_used())
    if (k.find("Integer") != std::string::npos || k.find("Quantize") != std::string::npos) kernels += k + "; ";
  EXPECT_NE(kernels.find("ConvInteger"), std::string::npos) << "the file ran without integer convolutions";
  std::printf("[quantized parity] %s: max |diff| vs ONNX Runtime = %.3g (%s)\n", GetParam().c_str(), worst,
              kernels.c_str());
}

std::vector<std::string> quantized_files() {
  // Listed here rather than read from the manifest: a missing variant must fail, not vanish.
  return {"attnmil_op11_dyn_uint8.onnx",        "attnmil_op13_nofold_dyn_uint8.onnx",
          "attnmil_op14_bn_dyn_uint8.onnx",     "attnmil_op17_nofold_bn_dyn_uint8.onnx",
          "attnmil_op11_dyn_int8_reduced.onnx", "attnmil_op17_nofold_bn_dyn_int8_reduced.onnx",
          "attnmil_op11_dyn_int8.onnx"};
}

INSTANTIATE_TEST_SUITE_P(Variants, QuantizedFile, ::testing::ValuesIn(quantized_files()), [](const auto& info) {
  std::string s = info.param.substr(0, info.param.find('.'));
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
});

TEST(QuantizedManifest, ListsEveryVariantTheTestRuns) {
  const json manifest = quantized_manifest();
  std::vector<std::string> listed;
  for (const auto& m : manifest.at("models")) {
    listed.push_back(m.at("file"));
    EXPECT_GT(m.at("integer_ops").value("ConvInteger", 0), 0) << m.at("file");
    EXPECT_GT(m.at("integer_ops").value("MatMulInteger", 0), 0) << m.at("file");
  }
  EXPECT_EQ(listed, quantized_files());
}

}  // namespace
}  // namespace coughkit::testing
