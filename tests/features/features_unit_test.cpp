// Stage-by-stage parity with torchaudio 0.13 (values from tools/reference/make_unit_reference.py):
// mel filter bank, resampler for many integer rate pairs, high-pass biquad, one segment's
// image; plus segmentation rules and the pinned option defaults.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/highpass_biquad.h"
#include "audio/sinc_resampler.h"
#include "common/error.h"
#include "features/feature_pipeline.h"
#include "features/log_mel_image.h"
#include "features/mel_filter_bank.h"
#include "features/segmenter.h"
#include "io/npy.h"
#include "support/compare.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

using testing::expect_close;

std::filesystem::path unit_reference() { return testing::testdata_dir() / "unit_reference"; }
io::NpyArray load(const std::string& name) { return io::read_npy(unit_reference() / name); }

TEST(MelImageOptions, DefaultsArePinnedToTheTrainingPipeline) {
  const features::MelImageOptions o;
  EXPECT_EQ(o.n_fft, 1024);
  EXPECT_EQ(o.win_length, 1024);
  EXPECT_EQ(o.hop_length, 160);
  EXPECT_EQ(o.mel.sample_rate, 16000);
  EXPECT_EQ(o.mel.n_mels, 160);
  EXPECT_FLOAT_EQ(o.mel.f_min, 50.0f);
  EXPECT_FLOAT_EQ(o.mel.f_max, 4000.0f);
  EXPECT_FLOAT_EQ(o.top_db, 80.0f);
  EXPECT_FLOAT_EQ(o.amin, 1e-10f);
  EXPECT_EQ(o.image_size, 224);
  EXPECT_FLOAT_EQ(o.pad_value, -1.0f);
  EXPECT_NE(o.ToString().find("hop_length=160"), std::string::npos) << o.ToString();
  const features::SegmentOptions s;
  EXPECT_EQ(s.window_samples, 32000);
  EXPECT_EQ(s.hop_samples, 8000);
  EXPECT_EQ(s.max_segments, 32);
}

TEST(MelImageOptions, InvalidValuesAreRejectedWithTheFieldName) {
  features::MelImageOptions o;
  o.hop_length = 0;
  EXPECT_THROW(o.Validate(), ConfigError);
  o = {};
  o.mel.f_max = 9000.0f;  // above Nyquist
  try {
    o.Validate();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("f_max"), std::string::npos) << e.what();
  }
}

// The config serialises itself under the names a model's "preprocessing" metadata uses, and
// reads back what it wrote; values coughkit cannot follow are refused with the key's name.
TEST(PreprocessConfig, JsonRoundTripAndRefusals) {
  const auto defaults = features::PreprocessConfig::from_json(features::PreprocessConfig().to_json());
  EXPECT_EQ(defaults.ToString(), features::PreprocessConfig().ToString());
  const auto j = nlohmann::json::parse(features::PreprocessConfig().to_json());
  for (const char* key :
       {"sample_rate", "highpass_hz", "segment_seconds", "segment_hop_seconds", "max_segments", "n_fft", "win_length",
        "hop_length", "n_mels", "f_min", "f_max", "top_db", "image_size", "mean", "std"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_DOUBLE_EQ(j["segment_hop_seconds"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["segment_seconds"].get<double>(), 2.0);

  features::PreprocessConfig other;
  other.condition.highpass_hz = 50;
  other.segments.hop_samples = 4000;
  other.mel.mel.n_mels = 128;
  other.mel.mel.f_max = 7000;
  const auto back = features::PreprocessConfig::from_json(other.to_json());
  EXPECT_EQ(back.ToString(), other.ToString());
  EXPECT_EQ(features::PreprocessConfig::from_json("{}").ToString(), features::PreprocessConfig().ToString());

  auto refused = [](const std::string& text, const std::string& words) {
    try {
      features::PreprocessConfig::from_json(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  refused(R"({"sample_rate": 8000})", "sample_rate 8000");
  refused(R"({"image_size": 256})", "image_size 256");
  refused(R"({"mean": [0.5, 0.5, 0.5]})", "'mean'");
  refused(R"({"n_mels": "160"})", "'n_mels' must be a number");
  refused(R"({"n_fft": 1000.5})", "'n_fft' must be an integer");
  refused(R"({"f_min": 5000})", "f_min");
  refused("not json", "not a JSON object");
}

TEST(MelFilterBank, MatchesTorchaudioMelscaleFbanks) {
  const auto expected = load("mel_fb.npy");  // (513, 160)
  ASSERT_EQ(expected.shape, (std::vector<std::size_t>{513, 160}));
  const features::MelFilterBank bank;
  std::vector<float> dense(513 * 160);
  for (int k = 0; k < 513; ++k)
    for (int m = 0; m < 160; ++m) dense[k * 160 + m] = bank.weight(k, m);
  // torch evaluates 10^(m/2595) with SLEEF's vectorised pow (1-ulp accurate, not correctly
  // rounded): 5 of the 162 band edges differ from std::pow by one float ulp, which moves a
  // few weights by up to ~1.1e-5 — 1e-5 relative in a mel band, < 1e-4 dB in the image.
  // Everything else (linspace, slopes) is reproduced exactly.
  expect_close(dense, expected.data, 2e-5, "mel filter bank");
}

class ResamplerParity : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(ResamplerParity, MatchesTorchaudioResample) {
  const auto [orig, target] = GetParam();
  const auto input = load("resample_input.npy");
  const auto expected = load("resample_" + std::to_string(orig) + "_" + std::to_string(target) + ".npy");
  const audio::SincResampler resampler(orig, target);
  const auto out = resampler.process(input.data);
  ASSERT_EQ(out.size(), expected.size()) << resampler.ToString();
  const auto d = expect_close(out, expected.data, 1e-5, resampler.ToString());
  RecordProperty("max_abs_diff", std::to_string(d.max_abs));
}

INSTANTIATE_TEST_SUITE_P(RatePairs, ResamplerParity,
                         ::testing::Values(std::pair{8000, 16000}, std::pair{11025, 16000}, std::pair{22050, 16000},
                                           std::pair{32000, 16000}, std::pair{44100, 16000}, std::pair{48000, 16000},
                                           std::pair{96000, 16000}, std::pair{12345, 16000}, std::pair{1000, 16000},
                                           std::pair{7000, 16000}, std::pair{192000, 16000}, std::pair{768000, 16000},
                                           std::pair{16001, 16000}, std::pair{44100, 48000}, std::pair{16000, 44100}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + "_to_" + std::to_string(info.param.second);
                         });

TEST(SincResampler, SameRateIsIdentityAndLengthsFollowTorchaudio) {
  const std::vector<float> x = {0.1f, -0.2f, 0.3f};
  EXPECT_EQ(audio::SincResampler(16000, 16000).process(x), x);
  EXPECT_EQ(audio::SincResampler(44100, 16000).output_length(44100), 16000u);
  EXPECT_EQ(audio::SincResampler(44100, 16000).output_length(1), 1u);  // ceil(160 / 441)
  EXPECT_EQ(audio::SincResampler(8000, 16000).output_length(0), 0u);
  EXPECT_THROW(audio::SincResampler(0, 16000), ConfigError);
}

class HighpassParity : public ::testing::TestWithParam<int> {};

TEST_P(HighpassParity, MatchesTorchaudioHighpassBiquadIncludingClamp) {
  const auto input = load("highpass_input.npy");
  const auto expected = load("highpass_" + std::to_string(GetParam()) + ".npy");
  const auto out = audio::highpass_biquad(input.data, 16000, {.cutoff_hz = static_cast<float>(GetParam())});
  expect_close(out, expected.data, 1e-5, "highpass");
  // The input is a near-full-scale square wave: the filter overshoots, lfilter clamps.
  EXPECT_EQ(*std::max_element(out.begin(), out.end()), 1.0f);
}

INSTANTIATE_TEST_SUITE_P(Cutoffs, HighpassParity, ::testing::Values(50, 300));

TEST(HighpassBiquad, RejectsCutoffOutsideTheBand) {
  const std::vector<float> x(10, 0.0f);
  EXPECT_THROW(audio::highpass_biquad(x, 16000, {.cutoff_hz = 8000.0f}), ConfigError);
  EXPECT_THROW(audio::highpass_biquad(x, 16000, {.cutoff_hz = -1.0f}), ConfigError);
}

TEST(LogMelImage, OneSegmentMatchesTorchaudioMelSpectrogramAndAmplitudeToDB) {
  const auto segment = load("segment.npy");
  const auto expected = load("segment_image.npy");  // (160, 201)
  ASSERT_EQ(expected.shape, (std::vector<std::size_t>{160, 201}));
  const features::LogMelImageComputer computer;
  EXPECT_EQ(computer.frames_per_segment(), 201);
  expect_close(computer.segment_image(segment.data), expected.data, 1e-4, "segment image");
}

TEST(LogMelImage, SharedFramesGiveTheSameImagesAsPerSegmentComputation) {
  // 5 s of deterministic audio: 7 overlapping segments whose interior frames are shared.
  std::vector<float> wave(80000);
  for (std::size_t i = 0; i < wave.size(); ++i)
    wave[i] = 0.3f * std::sin(0.01f * i * (1.0f + i / 80000.0f)) + 0.05f * std::sin(1.3f * i);
  const features::LogMelImageComputer computer;
  const auto plan = features::plan_segments(wave.size());
  ASSERT_EQ(plan.starts.size(), 7u);
  const auto images = computer.compute(wave, plan);
  for (std::size_t k = 0; k < plan.starts.size(); ++k) {
    features::SegmentPlan single;
    single.padded_length = 32000;
    single.total_segments = 1;
    single.starts = {0};
    const auto alone = computer.compute(std::span<const float>(wave).subspan(plan.starts[k], 32000), single);
    const std::span<const float> shared(images.data() + k * computer.image_pixels(), computer.image_pixels());
    EXPECT_EQ(testing::max_abs_difference(shared, alone).max_abs, 0.0) << "segment " << k;
  }
}

TEST(Segmenter, FollowsTheReferenceRules) {
  using features::plan_segments;
  EXPECT_EQ(plan_segments(0).starts.size(), 1u);  // empty -> padded to one window
  EXPECT_EQ(plan_segments(1600).padded_length, 32000u);
  EXPECT_EQ(plan_segments(32000).starts.size(), 1u);  // exactly 2.0 s
  EXPECT_EQ(plan_segments(39840).starts.size(), 1u);  // 2.49 s: the partial window is dropped
  EXPECT_EQ(plan_segments(40000).starts.size(), 2u);  // 2.5 s
  const auto long_clip = plan_segments(960000);       // 60 s
  EXPECT_EQ(long_clip.total_segments, 117u);
  EXPECT_EQ(long_clip.starts.size(), 32u);
  EXPECT_TRUE(long_clip.truncated());
  EXPECT_EQ(long_clip.starts.back(), 31u * 8000u);
  features::SegmentOptions unlimited;
  unlimited.max_segments = 0;
  EXPECT_EQ(plan_segments(960000, unlimited).starts.size(), 117u);
  const auto [start, end] = features::segment_time_range(3);
  EXPECT_DOUBLE_EQ(start, 1.5);
  EXPECT_DOUBLE_EQ(end, 3.5);
}

}  // namespace
}  // namespace coughkit
