// `coughkit export` end to end: files that pass onnx::checker (libonnx in the program, the
// Python `onnx` package here), run in ONNX Runtime within 1e-4 of the checkpoint, carry the
// metadata; `coughkit compare` on the golden model in ONNX, fp16-ONNX and .pth forms.
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint_fixtures.h"
#include "export/checkpoint_model.h"
#include "support/onnxruntime.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kTolerance = 1e-4;  // the bar for exported files

fs::path fixture(const std::string& name) { return testing::checkpoint_dir() / name; }

using testing::last_json_line;

// The four outputs of `model` in ONNX Runtime on a case.
model::ModelOutputs run_ort(const fs::path& model_path, const testing::ModelInput& in) {
  const auto raw = model_path.parent_path() / (in.name + ".f32");  // scratch_dir() would empty the folder
  const json j = testing::run_onnxruntime(model_path, raw, in.x, in.batch, in.segments, in.mask_digits());
  model::ModelOutputs out;
  if (!j.is_object()) return out;
  out.bag_probability = j.at("bag_probability").at("data").get<std::vector<float>>();
  out.segment_probabilities = j.at("segment_probabilities").at("data").get<std::vector<float>>();
  out.segment_logits = j.at("segment_logits").at("data").get<std::vector<float>>();
  out.bag_logit = j.at("bag_logit").at("data").get<std::vector<float>>();
  EXPECT_EQ(j.at("segment_logits").at("dims"), json({in.batch, in.segments}));
  return out;
}

json as_expected(const model::ModelOutputs& o) {
  return {{"bag_probability", o.bag_probability},
          {"bag_logit", o.bag_logit},
          {"segment_probabilities", o.segment_probabilities},
          {"segment_logits", o.segment_logits}};
}

void python_onnx_check(const fs::path& model_path) {
  const auto r = testing::run_command(
      fmt::format("{} -c \"import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); "
                  "print('onnx.checker ok', [o.name for o in m.graph.output])\" {}",
                  COUGHKIT_PYTHON, testing::quoted(model_path)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(
      r.output.find("onnx.checker ok ['bag_probability', 'segment_probabilities', 'segment_logits', 'bag_logit']"),
      std::string::npos)
      << r.output;
}

TEST(Export, OpsetsRunInOnnxRuntimeAndPassTheCheckers) {
  const auto manifest = testing::checkpoint_manifest();
  std::vector<testing::ModelInput> cases;
  for (const auto& c : manifest.at("cases")) cases.push_back(testing::load_checkpoint_case(c));
  const auto source = fixture("full.pth");  // with optimizer state: it must be skipped, not needed
  for (int opset : {11, 14, 17}) {
    SCOPED_TRACE(opset);
    const auto out = testing::scratch_dir() / fmt::format("attnmil_op{}.onnx", opset);
    const auto r = testing::run_cli(fmt::format("export --checkpoint {} --out {} --opset {} --threads 2 --json",
                                                testing::quoted(source), testing::quoted(out), opset));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json report = last_json_line(r.output);
    ASSERT_TRUE(report.is_object()) << r.output;
    EXPECT_LE(report.at("max_abs_diff").get<double>(), kTolerance);
    python_onnx_check(out);
    double ort_vs_torch = 0.0, coughkit_vs_torch = 0.0;
    const auto engine = model::Engine::load_onnx(out.string(), {.threads = 2});
    for (const auto& c : cases) {
      const auto& want = manifest.at("expected").at("fp32").at(c.name);
      ort_vs_torch = std::max(ort_vs_torch, testing::max_output_diff(run_ort(out, c), want));
      coughkit_vs_torch =
          std::max(coughkit_vs_torch, testing::max_output_diff(engine->run(c.batch, c.segments, c.x, c.mask), want));
    }
    EXPECT_LE(ort_vs_torch, kTolerance);
    EXPECT_LE(coughkit_vs_torch, kTolerance);
    std::printf(
        "opset %d: export probe |file - checkpoint| %.3g; ONNX Runtime vs PyTorch %.3g; coughkit engine vs "
        "PyTorch %.3g\n",
        opset, report.at("max_abs_diff").get<double>(), ort_vs_torch, coughkit_vs_torch);
  }
}

TEST(Export, Fp16FileIsHalfTheSizeAndCloseToTheCheckpoint) {
  const auto manifest = testing::checkpoint_manifest();
  const auto out = testing::scratch_dir() / "attnmil_fp16.onnx";
  const auto r = testing::run_cli(fmt::format("export --checkpoint {} --out {} --fp16 --threads 2 --json",
                                              testing::quoted(fixture("no_optimizer.pth")), testing::quoted(out)));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json report = last_json_line(r.output);
  ASSERT_TRUE(report.is_object()) << r.output;
  EXPECT_LE(report.at("max_abs_diff").get<double>(), kTolerance);  // vs the same weights rounded to fp16
  EXPECT_LT(fs::file_size(out), fs::file_size(fixture("no_optimizer.pth")) * 6 / 10);
  python_onnx_check(out);
  // ONNX Runtime and coughkit agree on the fp16 file; both stay near the fp32 PyTorch outputs.
  const auto engine = model::Engine::load_onnx(out.string(), {.threads = 2});
  double ort_vs_coughkit = 0.0, vs_fp32 = 0.0;
  for (const auto& c : manifest.at("cases")) {
    const auto in = testing::load_checkpoint_case(c);
    const auto mine = engine->run(in.batch, in.segments, in.x, in.mask);
    ort_vs_coughkit = std::max(ort_vs_coughkit, testing::max_output_diff(run_ort(out, in), as_expected(mine)));
    vs_fp32 = std::max(vs_fp32, testing::max_output_diff(mine, manifest.at("expected").at("fp32").at(in.name)));
  }
  EXPECT_LE(ort_vs_coughkit, kTolerance);
  EXPECT_LE(vs_fp32, 0.05);
  std::printf("fp16: %.1f MB; ONNX Runtime vs coughkit %.3g; vs fp32 PyTorch %.3g\n",
              static_cast<double>(fs::file_size(out)) / 1e6, ort_vs_coughkit, vs_fp32);
}

TEST(Export, MetadataTravelsWithTheModel) {
  const auto src = fixture("no_optimizer.pth");
  const auto out = testing::scratch_dir() / "meta.onnx";
  const auto r = testing::run_cli(
      fmt::format("export --checkpoint {} --out {} --threads 2", testing::quoted(src), testing::quoted(out)));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("onnx::checker ok"), std::string::npos) << r.output;
  const auto engine = model::Engine::load_onnx(out.string(), {.threads = 1});
  const auto& meta = engine->metadata();
  EXPECT_EQ(meta.at("threshold"), "0.55");  // the config's, shortest float32 text
  EXPECT_EQ(meta.at("highpass_hz"), "50");
  EXPECT_EQ(meta.at("epoch"), "3");
  EXPECT_EQ(meta.at("val_auc"), "0.9123");
  EXPECT_EQ(meta.at("val_ap"), "0.8765");
  EXPECT_EQ(meta.at("source_sha256"), checkpoint::read_checkpoint(src.string()).sha256);
  EXPECT_EQ(json::parse(meta.at("preprocessing")).at("highpass_hz"), 50.0);
  // --threshold overrides the checkpoint's config.
  const auto out2 = testing::scratch_dir() / "meta2.onnx";
  ASSERT_EQ(testing::run_cli(fmt::format("export -c {} -o {} --threshold 0.7 --threads 2", testing::quoted(src),
                                         testing::quoted(out2)))
                .exit_code,
            0);
  EXPECT_EQ(model::Engine::load_onnx(out2.string(), {.threads = 1})->metadata().at("threshold"), "0.7");
}

TEST(Export, RefusesBadInputsWithoutWritingAFile) {
  const auto out = testing::scratch_dir() / "never.onnx";
  const auto manifest_malicious = testing::checkpoint_manifest();
  for (const auto& entry : manifest_malicious.at("malicious")) {
    const auto r = testing::run_cli(fmt::format(
        "export -c {} -o {}", testing::quoted(fixture(entry.at("file").get<std::string>())), testing::quoted(out)));
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_NE(r.output.find("refused global"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(testing::checkpoint_dir() / testing::checkpoint_manifest().at("marker").get<std::string>()));
  auto r = testing::run_cli(
      fmt::format("export -c {} -o {}", testing::quoted(fixture("bad_missing_key.pth")), testing::quoted(out)));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("missing key 'backbone.layer1.0.conv1.weight'"), std::string::npos) << r.output;
  r = testing::run_cli(
      fmt::format("export -c {} -o {} --opset 10", testing::quoted(fixture("full.pth")), testing::quoted(out)));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(fs::exists(out));
  // An output directory that does not exist: an input error naming the file, nothing left.
  const auto nowhere = testing::scratch_dir() / "no_such_dir" / "model.onnx";
  r = testing::run_cli(
      fmt::format("export -c {} -o {}", testing::quoted(fixture("full.pth")), testing::quoted(nowhere)));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find(nowhere.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("No such file or directory"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(nowhere.parent_path()));
}

TEST(Compare, GoldenModelAsOnnxFp16OnnxAndCheckpoint) {
  const auto golden = testing::shared_golden_dir();
  if (!golden) GTEST_SKIP() << "../shared/golden is not present (a fresh clone has none)";
  const auto pth = *golden / "models" / "attnmil_ref.pth";
  const auto onnx = *golden / "models" / "attnmil_ref_opset14.onnx";
  const auto fp16 = testing::scratch_dir() / "attnmil_ref_fp16.onnx";
  ASSERT_EQ(testing::run_cli(
                fmt::format("export -c {} -o {} --fp16 --threads 2", testing::quoted(pth), testing::quoted(fp16)))
                .exit_code,
            0);
  const std::string clips = testing::quoted(*golden / "audio" / "synth_cough_44k_stereo.wav") + " " +
                            testing::quoted(*golden / "audio" / "speechlike_32k.flac");
  const std::string models = testing::quoted(onnx) + " " + testing::quoted(fp16) + " " + testing::quoted(pth);
  const auto table = testing::run_cli("compare --threads 2 --audio " + clips + " " + models);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  std::printf("%s", table.output.c_str());
  EXPECT_NE(table.output.find("size_MB"), std::string::npos);
  EXPECT_NE(table.output.find("attnmil_ref.pth"), std::string::npos);

  const auto r = testing::run_cli("compare --json --threads 2 --audio " + clips + " " + models);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<json> rows;
  std::size_t start = 0;
  while (start < r.output.size()) {
    auto end = r.output.find('\n', start);
    if (end == std::string::npos) end = r.output.size();
    if (r.output.compare(start, 1, "{") == 0) rows.push_back(json::parse(r.output.substr(start, end - start)));
    start = end + 1;
  }
  ASSERT_EQ(rows.size(), 6u) << r.output;  // 2 clips x 3 models
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    SCOPED_TRACE(row.dump());
    EXPECT_GT(row.at("size_mb").get<double>(), 10.0);
    EXPECT_GT(row.at("load_ms").get<double>(), 0.0);
    EXPECT_GT(row.at("inference_ms").get<double>(), 0.0);
    EXPECT_EQ(row.at("cough_detected").get<bool>(),
              row.at("bag_probability").get<double>() > row.at("threshold").get<double>());
    if (i % 3 == 0) {
      EXPECT_TRUE(row.at("max_abs_diff_vs_first").is_null());
      continue;
    }
    for (const auto& [name, diff] : row.at("max_abs_diff_vs_first").items()) {
      // The checkpoint is the same network as the ONNX twin; fp16 weights move outputs a little.
      EXPECT_LE(diff.get<double>(), i % 3 == 2 ? 1e-5 : 0.05) << name;
    }
  }
}

TEST(Detect, CheckpointAndExportedModelGiveTheSameDetections) {
  const auto golden = testing::shared_golden_dir();
  if (!golden) GTEST_SKIP() << "../shared/golden is not present (a fresh clone has none)";
  const auto clip = testing::quoted(*golden / "audio" / "tone_noise_16k_mono.wav");
  const auto a = testing::run_cli("detect --json --threads 2 --model " +
                                  testing::quoted(*golden / "models" / "attnmil_ref.pth") + " " + clip);
  const auto b = testing::run_cli("detect --json --threads 2 --model " +
                                  testing::quoted(*golden / "models" / "attnmil_ref_opset14.onnx") + " " + clip);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const json ja = last_json_line(a.output), jb = last_json_line(b.output);
  EXPECT_NEAR(ja.at("bag_probability").get<double>(), jb.at("bag_probability").get<double>(), 1e-5);
  EXPECT_EQ(ja.at("cough_detected"), jb.at("cough_detected"));
}

}  // namespace
}  // namespace coughkit
