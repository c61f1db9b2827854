// `--backend torch` as a user runs it: the program opens the LibTorch module only then, and
// never links LibTorch itself.
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

namespace fs = std::filesystem;
using testing::json_lines;
using testing::quoted;
using testing::run_cli;

fs::path fixture(const char* name) { return fs::path(COUGHKIT_TORCH_MODEL_DIR) / name; }

TEST(TorchCli, TheProgramDoesNotLinkLibTorch) {
  const auto r = testing::run_command("ldd " + quoted(testing::cli_path()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libc.so"), std::string::npos) << r.output;  // ldd did list libraries
  EXPECT_EQ(r.output.find("torch"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("libc10"), std::string::npos) << r.output;
}

TEST(TorchCli, CompareRunsACheckpointOnBothBackends) {
  const auto r = run_cli("--log-level warn compare --json --threads 2 --audio " + quoted(fixture("clip.wav")) + " " +
                         quoted(fixture("model.pth")) + " --backend engine,torch");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 2u) << r.output;
  EXPECT_EQ(lines[0]["backend"], "onnx-engine");
  EXPECT_EQ(lines[1]["backend"], "libtorch");
  EXPECT_GT(lines[0]["num_segments"].get<int>(), 1);
  EXPECT_FLOAT_EQ(lines[1]["threshold"].get<float>(), 0.55f);  // the checkpoint's config
  for (const char* key : {"bag_probability", "segment_probabilities", "segment_logits", "bag_logit"}) {
    const double d = lines[1]["max_abs_diff_vs_first"][key].get<double>();
    EXPECT_LE(d, std::string(key).find("prob") != std::string::npos ? 1e-4 : 1e-3) << key;
    std::printf("[compare engine vs torch] %s: max |diff| = %.3g\n", key, d);
  }
  EXPECT_EQ(lines[0]["cough_detected"], lines[1]["cough_detected"]);
}

TEST(TorchCli, DetectWithTheTorchBackendAgreesWithTheEngine) {
  const std::string args = "--log-level warn detect --json --threads 2 --model " + quoted(fixture("model.pth")) + " " +
                           quoted(fixture("clip.wav"));
  const auto torch_run = run_cli(args + " --backend torch");
  const auto engine_run = run_cli(args);
  ASSERT_EQ(torch_run.exit_code, 0) << torch_run.output;
  ASSERT_EQ(engine_run.exit_code, 0) << engine_run.output;
  const auto t = json_lines(torch_run.output), e = json_lines(engine_run.output);
  ASSERT_EQ(t.size(), 1u) << torch_run.output;
  ASSERT_EQ(e.size(), 1u) << engine_run.output;
  EXPECT_NEAR(t[0]["bag_probability"].get<double>(), e[0]["bag_probability"].get<double>(), 1e-4);
  EXPECT_EQ(t[0]["num_segments"], e[0]["num_segments"]);
}

TEST(TorchCli, BadBackendUsesSayWhat) {
  // An ONNX file cannot run on LibTorch (checked before anything is loaded).
  auto r = run_cli("detect --backend torch --model model.onnx " + quoted(fixture("clip.wav")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint"), std::string::npos) << r.output;
  r = run_cli("detect --backend tensorflow --model " + quoted(fixture("model.pth")) + " " +
              quoted(fixture("clip.wav")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_cli("bench --backend torch --model " + quoted(fixture("model.pth")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("engine only"), std::string::npos) << r.output;
  r = run_cli("detect --help");
  EXPECT_NE(r.output.find("--backend"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace coughkit
