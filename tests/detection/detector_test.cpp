// The whole chain audio -> probabilities: against the reference model's outputs in
// ../shared/golden (decoded, conditioned, imaged and inferred by coughkit alone), batching
// of bags with different lengths, and the decision rule.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "audio/decoder.h"
#include "common/error.h"
#include "detection/detection_json.h"
#include "detection/detector.h"
#include "model/fixtures.h"
#include "support/compare.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

using detection::Detector;

std::filesystem::path fixture_model() { return testing::model_fixture_dir() / "attnmil_op14_bn.onnx"; }

TEST(Detector, GoldenClipsEndToEndMatchTheReferenceModel) {
  const auto golden = testing::shared_golden_dir();
  if (!golden) GTEST_SKIP() << "../shared/golden is not present (a fresh clone has none)";
  const auto detector = Detector::create({.model_path = (*golden / "models" / "attnmil_ref_opset14.onnx").string()});
  const auto manifest = testing::load_manifest(*golden);
  double worst = 0.0;
  for (const auto& clip : manifest.at("clips")) {
    SCOPED_TRACE(clip.at("file").get<std::string>());
    const auto d = detector->detect(audio::decode_file((*golden / clip.at("file").get<std::string>()).string()));
    ASSERT_EQ(d.num_segments, clip.at("segments").get<std::size_t>());
    const std::vector<float> want_seg = clip.at("segment_probabilities").get<std::vector<float>>();
    const std::vector<float> want_logit = clip.at("segment_logits").get<std::vector<float>>();
    worst = std::max(worst,
                     testing::expect_close(d.segment_probabilities, want_seg, 1e-4, "segment_probabilities").max_abs);
    worst = std::max(worst, testing::expect_close(d.segment_logits, want_logit, 1e-4, "segment_logits").max_abs);
    const float bag = clip.at("bag_probability").get<float>();
    EXPECT_NEAR(d.bag_probability, bag, 1e-4);
    EXPECT_NEAR(d.bag_logit, clip.at("bag_logit").get<float>(), 1e-4);
    worst = std::max(worst, static_cast<double>(std::fabs(d.bag_probability - bag)));
    EXPECT_EQ(d.cough_detected, d.bag_probability > 0.61f);
  }
  RecordProperty("max_abs_diff", std::to_string(worst));
  std::printf("golden end-to-end: max |diff| over all outputs %.3g\n", worst);
}

TEST(Detector, BatchedBagsOfDifferentLengthsGiveTheSameResultsAsAlone) {
  const auto detector = Detector::create({.model_path = fixture_model().string(), .engine = {.threads = 2}});
  const auto ref = testing::reference_dir() / "audio";
  const auto a =
      detector->preprocess(audio::decode_file((ref / "wav_s16_16k_mono_tone_hpf.wav").string()));         // 3 segments
  const auto b = detector->preprocess(audio::decode_file((ref / "wav_s16_8k_mono_100ms.wav").string()));  // 1 segment
  const auto c =
      detector->preprocess(audio::decode_file((ref / "mp3_44k_stereo_cough_hpf.mp3").string()));  // 7 segments
  ASSERT_NE(a.num_segments(), b.num_segments());
  const auto together = detector->infer({&a, &b, &c});
  ASSERT_EQ(together.size(), 3u);
  const features::ClipFeatures* bags[] = {&a, &b, &c};
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const auto alone = detector->infer({bags[i]}).front();
    EXPECT_EQ(together[i].num_segments, alone.num_segments);
    EXPECT_NEAR(together[i].bag_probability, alone.bag_probability, 1e-5);
    testing::expect_close(together[i].segment_probabilities, alone.segment_probabilities, 1e-5, "segments");
  }
}

TEST(Detector, DecisionIsStrictlyGreaterThanTheThresholdAndReportsIt) {
  const auto detector = Detector::create({.model_path = fixture_model().string()});
  EXPECT_FLOAT_EQ(detector->default_threshold(), detection::kDefaultThreshold);  // fixture model carries none
  const auto bag = detector->preprocess(
      audio::decode_file((testing::reference_dir() / "audio" / "wav_s16_16k_mono_silence.wav").string()));
  const float p = detector->infer({&bag}).front().bag_probability;
  EXPECT_FALSE(detector->infer({&bag}, p).front().cough_detected);  // equal is not above
  EXPECT_TRUE(detector->infer({&bag}, std::nextafter(p, 0.0f)).front().cough_detected);
  EXPECT_FLOAT_EQ(detector->infer({&bag}, 0.25f).front().threshold, 0.25f);
  EXPECT_THROW(detector->infer({&bag}, 1.5f), ConfigError);
}

TEST(Detector, SummaryFieldsAndTimestampsFollowTheContract) {
  const auto detector = Detector::create({.model_path = fixture_model().string()});
  const auto d = detector->detect(
      audio::decode_file((testing::reference_dir() / "audio" / "wav_s16_11k_mono_long_20s.wav").string()));
  EXPECT_EQ(d.num_segments, 32u);
  EXPECT_EQ(d.total_segments, 37u);
  EXPECT_TRUE(d.truncated());
  ASSERT_EQ(d.segment_timestamps.size(), 32u);
  EXPECT_DOUBLE_EQ(d.segment_timestamps[5].first, 2.5);
  EXPECT_DOUBLE_EQ(d.segment_timestamps[5].second, 4.5);
  float sum = 0, mx = 0;
  for (float v : d.segment_probabilities) sum += v, mx = std::max(mx, v);
  EXPECT_FLOAT_EQ(d.max_segment_probability, mx);
  EXPECT_NEAR(d.mean_segment_probability, sum / 32, 1e-6);
  const auto json = nlohmann::json::parse(detection::to_json_line(d));
  for (const char* key :
       {"file", "duration_s", "num_segments", "bag_probability", "bag_logit", "segment_probabilities", "segment_logits",
        "segment_timestamps", "max_segment_probability", "mean_segment_probability", "cough_detected", "threshold"})
    EXPECT_TRUE(json.contains(key)) << key;
  EXPECT_EQ(json["segment_timestamps"][1], nlohmann::json::array({0.5, 2.5}));
}

TEST(Detector, UnusableModelsAreInputErrorsNamingTheFile) {
  EXPECT_THROW(Detector::create({.model_path = "/nonexistent/model.onnx"}), InputError);
  EXPECT_THROW(Detector::create({.model_path = ""}), ConfigError);
  const auto junk = testing::scratch_dir() / "junk.onnx";
  std::ofstream(junk) << "definitely not protobuf";
  try {
    Detector::create({.model_path = junk.string()});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("junk.onnx"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace coughkit
