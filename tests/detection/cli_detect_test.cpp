// `coughkit detect` and `coughkit bench` as a user runs them.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/fixtures.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

using testing::json_lines;
using testing::quoted;
using testing::run_cli;

std::string model_flag() { return "--model " + quoted(testing::model_fixture_dir() / "attnmil_op14_bn.onnx"); }
std::filesystem::path ref_audio(const std::string& name) { return testing::reference_dir() / "audio" / name; }

TEST(CliDetect, JsonLinesOnePerFileInInputOrderAndBadFilesSkipped) {
  const auto dir = testing::scratch_dir();
  const auto bad = dir / "empty.wav";
  std::ofstream(bad).close();
  const auto r = run_cli("--log-level warn detect --json " + model_flag() + " " +
                         quoted(ref_audio("flac_s16_32k_mono_cough.flac")) + " " + quoted(bad) + " " +
                         quoted(ref_audio("opus_48k_stereo_cough.opus")) + " " +
                         quoted(ref_audio("webm_opus_48k_mono_cough.webm")));
  EXPECT_EQ(r.exit_code, 3) << r.output;  // one input failed
  EXPECT_NE(r.output.find("empty.wav"), std::string::npos) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 3u) << r.output;
  EXPECT_NE(lines[0]["file"].get<std::string>().find("flac_s16_32k_mono_cough.flac"), std::string::npos);
  EXPECT_NE(lines[2]["file"].get<std::string>().find(".webm"), std::string::npos);
  for (const auto& j : lines) {
    EXPECT_EQ(j["segment_probabilities"].size(), j["num_segments"].get<std::size_t>());
    EXPECT_EQ(j["cough_detected"].get<bool>(), j["bag_probability"].get<double>() > j["threshold"].get<double>());
    EXPECT_DOUBLE_EQ(j["threshold"].get<double>(), 0.61);
  }
}

TEST(CliDetect, TableAndThresholdFlag) {
  const auto r =
      run_cli("detect --threshold 0 " + model_flag() + " " + quoted(ref_audio("wav_s16_16k_mono_silence.wav")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("bag_prob"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("YES"), std::string::npos) << r.output;  // any probability > 0
}

TEST(CliDetect, BadModelsAndFlagsSayWhat) {
  auto r = run_cli("detect --model /nonexistent.onnx " + quoted(ref_audio("wav_s16_16k_mono_silence.wav")));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("/nonexistent.onnx"), std::string::npos) << r.output;
  r = run_cli("detect --threshold 2 " + model_flag() + " x.wav");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

// Without --model, detect runs the bundled default model found relative to the binary; a binary with no
// models/ beside it (and none in the working directory) says so and asks for --model.
TEST(CliDetect, WithoutModelUsesTheBundledDefaultOrSaysWhatIsMissing) {
  const auto default_model = testing::cli_path().parent_path() / ".." / ".." / "models" / "coughkit_default.onnx";
  if (std::filesystem::exists(default_model)) {
    const auto r =
        testing::run_command("env -u COUGHKIT_MODEL " + testing::cli_path().string() +
                             " --log-level info detect --json " + quoted(ref_audio("wav_s16_16k_mono_silence.wav")));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("coughkit_default.onnx"), std::string::npos) << r.output;
    EXPECT_EQ(json_lines(r.output).size(), 1u) << r.output;
  }
  // A copy of the binary two levels deep in a scratch dir, run from there: no default model anywhere it looks.
  const auto dir = testing::scratch_dir();
  std::filesystem::create_directories(dir / "a" / "bin");
  const auto copy = dir / "a" / "bin" / "coughkit";
  std::filesystem::copy_file(testing::cli_path(), copy, std::filesystem::copy_options::overwrite_existing);
  const auto r = testing::run_command("cd " + quoted(dir) + " && " + "env -u COUGHKIT_MODEL " + quoted(copy) +
                                      " detect " + quoted(ref_audio("wav_s16_16k_mono_silence.wav")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--model"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("coughkit_default.onnx"), std::string::npos) << r.output;
}

TEST(CliBench, PrintsOneJsonObjectWithTheLatencyFields) {
  const auto r = run_cli("--log-level warn bench " + model_flag() + " --segments 2 --repeat 2 --warmup 1 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = json_lines(r.output);
  ASSERT_EQ(lines.size(), 1u) << r.output;
  for (const char* key :
       {"segments", "threads", "ms_per_bag_median", "ms_per_bag_min", "ms_per_segment_median", "gflops"})
    EXPECT_TRUE(lines[0].contains(key)) << key << " in " << r.output;
  EXPECT_EQ(lines[0]["segments"], 2);
  EXPECT_EQ(lines[0]["threads"], 1);
  EXPECT_GT(lines[0]["ms_per_bag_median"].get<double>(), 0.0);
  // What it ran on: the ISA and every op's implementation.
  EXPECT_FALSE(lines[0].value("isa", "").empty()) << r.output;
  ASSERT_TRUE(lines[0].contains("kernels") && lines[0]["kernels"].is_array()) << r.output;
  std::string kernels = lines[0]["kernels"].dump();
  EXPECT_NE(kernels.find("FusedConv: "), std::string::npos) << kernels;
  EXPECT_NE(kernels.find("Softmax: cpp"), std::string::npos) << kernels;
}

}  // namespace
}  // namespace coughkit
