// End-to-end parity: the engine against PyTorch on the exported fixtures (every opset /
// folding / fp16 variant) and against the golden set's reference outputs.
#include <cmath>
#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"
#include "fixtures.h"
#include "io/npy.h"
#include "support/test_data.h"

namespace coughkit::testing {
namespace {

constexpr double kTolerance = 1e-4;

model::EngineOptions two_threads() {
  model::EngineOptions o;
  o.threads = 2;
  return o;
}

class ModelExported : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelExported, MatchesPyTorchOnEveryCase) {
  auto manifest = model_fixture_manifest();
  const nlohmann::json* entry = nullptr;
  for (const auto& m : manifest.at("models"))
    if (m.at("file") == GetParam()) entry = &m;
  ASSERT_NE(entry, nullptr) << GetParam() << " is not in the fixture manifest";
  auto engine = model::Engine::load_onnx((model_fixture_dir() / GetParam()).string(), two_threads());
  EXPECT_EQ(engine->metadata().at("coughkit.fixture"), GetParam());
  const auto& expected = manifest.at("expected").at(entry->at("expected").get<std::string>());
  double worst = 0;
  for (const auto& c : manifest.at("cases")) {
    EngineInput in = load_case(c);
    auto out = engine->run(in.batch, in.segments, in.spectrograms, in.mask);
    double diff = max_output_diff(out, expected.at(c.at("name").get<std::string>()));
    EXPECT_LE(diff, kTolerance) << GetParam() << " case " << c.at("name");
    worst = std::max(worst, diff);
  }
  std::printf("[parity] %s: max |diff| = %.3g (conv: %s)\n", GetParam().c_str(), worst,
              engine->conv_algorithms().c_str());
  RecordProperty("max_abs_diff", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelExported,
                         ::testing::Values("attnmil_op11.onnx", "attnmil_op13_nofold.onnx", "attnmil_op14_bn.onnx",
                                           "attnmil_op17_nofold_bn.onnx", "attnmil_op14_fp16.onnx"),
                         [](const auto& info) {
                           std::string s = info.param.substr(0, info.param.find('.'));
                           for (char& ch : s)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

TEST(ModelGoldenParity, ReferenceModelReproducesGoldenOutputs) {
  auto golden = shared_golden_dir();
  if (!golden) GTEST_SKIP() << "shared/golden is absent";
  auto manifest = load_manifest(*golden);
  auto engine = model::Engine::load_onnx((*golden / "models" / "attnmil_ref_opset14.onnx").string(), two_threads());
  double worst = 0;
  for (const auto& clip : manifest.at("clips")) {
    auto mel = io::read_npy(*golden / clip.at("mel").get<std::string>());
    int s = static_cast<int>(mel.shape.at(0));
    ASSERT_EQ(s, clip.at("segments").get<int>());
    std::vector<float> input(static_cast<std::size_t>(s) * model::kSegmentValues);
    model::images_to_model_input(mel.data, s, input);
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(s), 1);
    double diff = max_output_diff(engine->run(1, s, input, mask), clip);
    EXPECT_LE(diff, kTolerance) << clip.at("file");
    worst = std::max(worst, diff);
  }
  std::printf("[parity] golden attnmil_ref_opset14.onnx: max |diff| = %.3g\n", worst);
}

// One and two threads (OpenMP) both work, with Winograd F(2x2,3x3) and with oneDNN's
// direct convolution, all within the parity tolerance.
TEST(ModelEngineConfig, ThreadCountsAndWinogradAgree) {
  auto manifest = model_fixture_manifest();
  const auto& c = manifest.at("cases").at(1);  // b1_s2
  EngineInput in = load_case(c);
  const auto& want = manifest.at("expected").at("fp32").at(c.at("name").get<std::string>());
  auto path = (model_fixture_dir() / "attnmil_op11.onnx").string();
  for (int threads : {1, 2})
    for (bool winograd : {false, true}) {
      model::EngineOptions o;
      o.threads = threads;
      o.winograd = winograd;
      auto engine = model::Engine::load_onnx(path, o);
      EXPECT_EQ(engine->threads(), threads);
      double diff = max_output_diff(engine->run(in.batch, in.segments, in.spectrograms, in.mask), want);
      EXPECT_LE(diff, kTolerance) << o.ToString() << " conv " << engine->conv_algorithms();
      std::printf("[parity] %s conv=%s: max |diff| = %.3g\n", o.ToString().c_str(), engine->conv_algorithms().c_str(),
                  diff);
    }
}

TEST(ModelEngineConfig, FlopsOfResNet18Segment) {
  auto engine = model::Engine::load_onnx((model_fixture_dir() / "attnmil_op11.onnx").string(), two_threads());
  // ResNet-18 at 224x224 is 1.82 GMAC; the heads add about 0.4 MFLOP.
  EXPECT_NEAR(engine->flops_per_segment(), 3.64e9, 0.05e9);
}

TEST(ModelEngineConfig, OptionsValidateAndPrint) {
  model::EngineOptions o;
  EXPECT_EQ(o.threads, 0);
  EXPECT_TRUE(o.winograd);
  EXPECT_EQ(o.ToString(), "EngineOptions(threads=0, winograd=true)");
  o.threads = -1;
  EXPECT_THROW(o.Validate(), ConfigError);
  EXPECT_THROW(model::Engine::load_onnx((model_fixture_dir() / "tiny_mil.onnx").string(), o), ConfigError);
}

// A small model with the AttnMILResNet signature: batching, masking, concurrency and
// input-size errors without the cost of ResNet-18.
class ModelTiny : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = model::Engine::load_onnx(
        (model_fixture_dir() / model_fixture_manifest().at("bad_models").at("tiny_valid").get<std::string>()).string(),
        two_threads());
  }
  std::vector<float> input(int n, std::uint32_t seed) {
    std::vector<float> x(static_cast<std::size_t>(n) * model::kSegmentValues);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.001f * static_cast<float>(i % 100003) * (seed + 1));
    return x;
  }
  std::unique_ptr<model::Engine> engine_;
};

TEST_F(ModelTiny, BatchOfBagsEqualsBagsRunAlone) {
  auto x = input(6, 1);
  std::vector<std::uint8_t> mask = {1, 1, 1, 1, 0, 0};
  auto both = engine_->run(2, 3, x, mask);
  ASSERT_EQ(both.segment_logits.size(), 6u);
  auto first = engine_->run(1, 3, std::span<const float>(x).first(3 * model::kSegmentValues), std::span(mask).first(3));
  EXPECT_NEAR(both.bag_logit[0], first.bag_logit[0], 1e-6);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(both.segment_logits[i], first.segment_logits[i], 1e-6);
}

TEST_F(ModelTiny, ConcurrentRunsAgree) {
  auto x = input(4, 2);
  std::vector<std::uint8_t> mask(4, 1);
  auto want = engine_->run(1, 4, x, mask);
  std::vector<std::thread> threads;
  std::vector<double> diffs(4, 1.0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      double d = 0;
      for (int k = 0; k < 5; ++k) {
        auto got = engine_->run(1, 4, x, mask);
        for (std::size_t i = 0; i < 4; ++i)
          d = std::max(d, static_cast<double>(std::abs(got.segment_logits[i] - want.segment_logits[i])));
      }
      diffs[t] = d;
    });
  for (auto& th : threads) th.join();
  for (double d : diffs) EXPECT_EQ(d, 0.0);
}

TEST_F(ModelTiny, WrongSizesAreInputErrors) {
  auto x = input(2, 3);
  std::vector<std::uint8_t> mask(2, 1);
  EXPECT_THROW(engine_->run(1, 3, x, std::span(mask)), InputError);
  EXPECT_THROW(engine_->run(1, 2, std::span<const float>(x).first(100), mask), InputError);
  EXPECT_THROW(engine_->run(0, 2, x, mask), InputError);
  EXPECT_THROW(engine_->run(1, -2, x, mask), InputError);
  try {
    engine_->run(2, 1, x, std::span(mask).first(1));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("segment_mask: expected 2 values, got 1"), std::string::npos) << e.what();
  }
}

TEST(ModelInput, NormalisesLikeTorchvision) {
  std::vector<float> img(224 * 224, 0.f);
  img[0] = -1.f;
  img[1] = 1.f;
  std::vector<float> out(model::kSegmentValues);
  model::images_to_model_input(img, 1, out);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(out[c * 224 * 224 + 0], (0.f - mean[c]) / sd[c]);
    EXPECT_EQ(out[c * 224 * 224 + 1], (1.f - mean[c]) / sd[c]);
    EXPECT_EQ(out[c * 224 * 224 + 2], (0.5f - mean[c]) / sd[c]);
  }
  EXPECT_THROW(model::images_to_model_input(img, 2, out), InputError);
  EXPECT_THROW(model::images_to_model_input(img, 1, std::span(out).first(10)), InputError);
}

}  // namespace
}  // namespace coughkit::testing
