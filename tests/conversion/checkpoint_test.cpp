// Checkpoints as torch.save writes them (tools/reference/make_checkpoints.py, Debian's
// python3-torch) read without Python and run through the engine: outputs within 1e-5 of
// PyTorch's for every variant; hostile and broken files refused with clear messages and
// nothing executed.
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint_fixtures.h"
#include "common/error.h"
#include "detection/detector.h"
#include "export/checkpoint_model.h"
#include "io/npy.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

using checkpoint::read_checkpoint;
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-5;  // the bar: same outputs as PyTorch within 1e-5 ...
constexpr double kRelative = 1e-4;   // ... plus 1e-4 |expected| for large logits (checkpoint_fixtures.h)

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

fs::path marker() { return testing::checkpoint_dir() / testing::checkpoint_manifest().at("marker").get<std::string>(); }

TEST(Checkpoint, EveryVariantMatchesPyTorch) {
  const auto manifest = testing::checkpoint_manifest();
  std::vector<testing::ModelInput> cases;
  for (const auto& c : manifest.at("cases")) cases.push_back(testing::load_checkpoint_case(c));
  for (const auto& entry : manifest.at("checkpoints")) {
    const auto file = entry.at("file").get<std::string>();
    SCOPED_TRACE(file);
    const auto path = (testing::checkpoint_dir() / file).string();
    const auto ckpt = read_checkpoint(path);
    EXPECT_EQ(ckpt.has_optimizer_state, entry.at("optimizer").get<bool>());
    EXPECT_EQ(ckpt.bare_state_dict, !entry.at("metadata").get<bool>());
    EXPECT_EQ(ckpt.format, file == "legacy.pth" ? "legacy" : "zip");
    if (entry.at("metadata").get<bool>()) {
      EXPECT_EQ(ckpt.epoch, manifest.at("epoch").get<std::int64_t>());
      EXPECT_DOUBLE_EQ(ckpt.val_auc.value_or(-1), manifest.at("val_auc").get<double>());
      EXPECT_DOUBLE_EQ(ckpt.val_ap.value_or(-1), manifest.at("val_ap").get<double>());
      EXPECT_EQ(nlohmann::json::parse(ckpt.config_json), manifest.at("config"));
    }
    const auto engine = detection::open_engine(path, {.threads = 2});
    const auto& expected = manifest.at("expected").at(entry.at("expected").get<std::string>());
    double worst = 0.0, excess = 0.0, prob = 0.0;
    for (const auto& c : cases) {
      const auto out = engine->run(c.batch, c.segments, c.x, c.mask);
      worst = std::max(worst, testing::max_output_diff(out, expected.at(c.name)));
      excess = std::max(excess, testing::max_output_diff(out, expected.at(c.name), kRelative));
      // Probabilities are in [0, 1]: the absolute bar applies as is.
      model::ModelOutputs p = out;
      p.bag_logit.assign(p.bag_logit.size(), 0.0f);
      p.segment_logits.assign(p.segment_logits.size(), 0.0f);
      nlohmann::json w = expected.at(c.name);
      w["bag_logit"] = std::vector<float>(p.bag_logit.size(), 0.0f);
      w["segment_logits"] = std::vector<float>(p.segment_logits.size(), 0.0f);
      prob = std::max(prob, testing::max_output_diff(p, w));
    }
    EXPECT_LE(excess, kTolerance);
    EXPECT_LE(prob, kTolerance);
    RecordProperty(file, std::to_string(worst));
    std::printf("%-22s %-7s vs PyTorch: max |diff| probabilities %.3g, all outputs %.3g\n", file.c_str(),
                ckpt.format.c_str(), prob, worst);
  }
}

TEST(Checkpoint, GoldenCheckpointMatchesTheReferenceOutputsAndItsOnnxTwin) {
  const auto golden = testing::shared_golden_dir();
  if (!golden) GTEST_SKIP() << "../shared/golden is not present (a fresh clone has none)";
  const auto pth = detection::open_engine((*golden / "models" / "attnmil_ref.pth").string(), {.threads = 2});
  const auto onnx =
      model::Engine::load_onnx((*golden / "models" / "attnmil_ref_opset14.onnx").string(), {.threads = 2});
  EXPECT_EQ(pth->metadata().at("epoch"), "3");
  double vs_torch = 0.0, vs_onnx = 0.0;
  const auto manifest_clips = testing::load_manifest(*golden);
  for (const auto& clip : manifest_clips.at("clips")) {
    SCOPED_TRACE(clip.at("file").get<std::string>());
    const auto mel = io::read_npy(*golden / clip.at("mel").get<std::string>());
    const int s = static_cast<int>(mel.shape.at(0));
    std::vector<float> x(static_cast<std::size_t>(s) * model::kSegmentValues);
    model::images_to_model_input(mel.data, s, x);
    const std::vector<std::uint8_t> mask(s, 1);
    const auto a = pth->run(1, s, x, mask);
    const auto b = onnx->run(1, s, x, mask);
    nlohmann::json want = {{"bag_probability", {clip.at("bag_probability")}},
                           {"bag_logit", {clip.at("bag_logit")}},
                           {"segment_probabilities", clip.at("segment_probabilities")},
                           {"segment_logits", clip.at("segment_logits")}};
    vs_torch = std::max(vs_torch, testing::max_output_diff(a, want, kRelative));
    nlohmann::json twin = {{"bag_probability", b.bag_probability},
                           {"bag_logit", b.bag_logit},
                           {"segment_probabilities", b.segment_probabilities},
                           {"segment_logits", b.segment_logits}};
    vs_onnx = std::max(vs_onnx, testing::max_output_diff(a, twin, kRelative));
  }
  // Beyond 1e-5 + 1e-4 |expected|: on AVX-512 oneDNN's kernels sum in another order than
  // PyTorch's; the largest logits then differ by ~2e-5 (probabilities far less).
  EXPECT_LE(vs_torch, kTolerance);
  EXPECT_LE(vs_onnx, kTolerance);
  std::printf(
      "golden attnmil_ref.pth: max excess over 1e-4 |expected| vs PyTorch %.3g, vs attnmil_ref_opset14.onnx %.3g\n",
      vs_torch, vs_onnx);
}

TEST(Checkpoint, MaliciousPicklesAreRefusedAndNothingRuns) {
  const auto manifest = testing::checkpoint_manifest();
  fs::remove(marker());
  for (const auto& entry : manifest.at("malicious")) {
    const auto file = entry.at("file").get<std::string>();
    SCOPED_TRACE(file);
    const auto path = (testing::checkpoint_dir() / file).string();
    const auto e = error_of([&] { read_checkpoint(path); });
    EXPECT_NE(e.find("refused global '" + entry.at("global").get<std::string>() + "'"), std::string::npos) << e;
    EXPECT_NE(e.find(file), std::string::npos) << e;
    // Through the front end too: `coughkit detect --model evil.pth` exits with an input error.
    const auto r = testing::run_cli("detect --model " + testing::quoted(path) + " nothing.wav");
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_NE(r.output.find("refused global"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(marker())) << "the payload ran";
  }
  EXPECT_FALSE(fs::exists(marker()));
}

TEST(Checkpoint, BrokenCheckpointsNameTheProblem) {
  const auto manifest_broken = testing::checkpoint_manifest();
  for (const auto& entry : manifest_broken.at("broken")) {
    const auto file = entry.at("file").get<std::string>();
    SCOPED_TRACE(file);
    const auto e = error_of([&] { detection::open_engine((testing::checkpoint_dir() / file).string(), {}); });
    EXPECT_NE(e.find(entry.at("mentions").get<std::string>()), std::string::npos) << e;
    EXPECT_NE(e.find(file), std::string::npos) << e;
  }
  const auto missing =
      error_of([] { detection::open_engine((testing::checkpoint_dir() / "bad_missing_key.pth").string(), {}); });
  EXPECT_NE(missing.find("missing key 'backbone.layer1.0.conv1.weight'"), std::string::npos) << missing;
  const auto shape =
      error_of([] { detection::open_engine((testing::checkpoint_dir() / "bad_shape.pth").string(), {}); });
  EXPECT_NE(shape.find("'seg_head.weight' has shape (2,512), expected (1,512)"), std::string::npos) << shape;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path write_bytes(const std::string& name, const std::string& bytes) {
  const auto p = testing::scratch_dir() / name;
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

TEST(Checkpoint, TruncatedAndCorruptFilesGiveClearErrors) {
  const std::string good = file_bytes(testing::checkpoint_dir() / "no_optimizer.pth");
  auto expect_error = [](const fs::path& p, const std::string& mention) {
    const auto e = error_of([&] { read_checkpoint(p.string()); });
    EXPECT_NE(e.find(p.string()), std::string::npos) << e;
    EXPECT_NE(e.find(mention), std::string::npos) << e;
  };
  expect_error(write_bytes("half.pth", good.substr(0, good.size() / 2)), "truncated or corrupt");
  expect_error(write_bytes("no_directory.pth", good.substr(0, good.size() - 100)), "truncated or corrupt");
  // A flipped byte inside tensor data: the entry's CRC no longer matches.
  std::string flipped = good;
  flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 0x5a);
  expect_error(write_bytes("flipped.pth", flipped), "corrupt");
  expect_error(write_bytes("empty.pth", ""), "empty");
  expect_error(write_bytes("text.pth", "this is not a checkpoint\n"), "not a PyTorch checkpoint");
  const std::string legacy = file_bytes(testing::checkpoint_dir() / "legacy.pth");
  expect_error(write_bytes("legacy_cut.pth", legacy.substr(0, legacy.size() - 1000)), "truncated");
  expect_error(write_bytes("legacy_cut_pickle.pth", legacy.substr(0, 5000)), "truncated");
  expect_error(testing::scratch_dir() / "absent.pth", "cannot open");
}

TEST(Checkpoint, DetectorLoadsCheckpointsWithTheirPreprocessingConfig) {
  const auto path = (testing::checkpoint_dir() / "no_optimizer.pth").string();
  const auto detector =
      detection::Detector::create({.model_path = path, .engine = {.threads = 2}, .threshold = {}, .highpass_hz = {}});
  // make_checkpoints.py's config: threshold 0.55, highpass_hz 50 -> the model's metadata.
  EXPECT_FLOAT_EQ(detector->default_threshold(), 0.55f);
  EXPECT_FLOAT_EQ(detector->preprocess_config().condition.highpass_hz, 50.0f);
  const auto& meta = detector->runner().metadata();
  EXPECT_EQ(meta.at("source_sha256"), checkpoint::read_checkpoint(path).sha256);
  EXPECT_EQ(meta.at("val_auc"), "0.9123");
  const auto pre = nlohmann::json::parse(meta.at("preprocessing"));
  EXPECT_EQ(pre.at("highpass_hz"), 50.0);
  EXPECT_EQ(pre.at("n_mels"), 160);
  // A bare state dict has no config: the reference defaults.
  const auto bare =
      detection::Detector::create({.model_path = (testing::checkpoint_dir() / "bare_state_dict.pth").string(),
                                   .engine = {.threads = 2},
                                   .threshold = {},
                                   .highpass_hz = {}});
  EXPECT_FLOAT_EQ(bare->default_threshold(), detection::kDefaultThreshold);
  EXPECT_FLOAT_EQ(bare->preprocess_config().condition.highpass_hz, 0.0f);
}

}  // namespace
}  // namespace coughkit
