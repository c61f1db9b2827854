// End-to-end preprocessing parity: audio file -> decode -> condition -> segment -> images,
// against the torchaudio reference for every clip of the project's reference set
// (tools/reference/make_reference.py: every format, rate 8-96 kHz, 1-6 channels, 0.1-60 s)
// and of ../shared/golden when present.
//
// Lossless clips (WAV, FLAC) must match within the contract's tolerances (wave 1e-5, mel
// 1e-4). Lossy clips were decoded by another decoder in the reference (torchaudio's sox_io,
// or ffmpeg's CLI): their differences are measured and reported in
// build/testdata/parity_report.json, and only bounded loosely.
#include <fstream>

#include <gtest/gtest.h>

#include "audio/decoder.h"
#include "features/feature_pipeline.h"
#include "io/npy.h"
#include "support/compare.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

constexpr double kWaveTolerance = 1e-5;
constexpr double kMelTolerance = 1e-4;

struct ClipResult {
  std::string set, name, format, decoder;
  bool lossy = false;
  double wave_diff = 0, mel_diff = 0, mel_mean_diff = 0;
  std::size_t segments = 0;
};

double mean_abs_difference(std::span<const float> a, std::span<const float> b) {
  double sum = 0;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) sum += std::fabs(static_cast<double>(a[i]) - b[i]);
  return n ? sum / n : 0.0;
}

std::vector<ClipResult> check_set(const std::string& set_name, const std::filesystem::path& dir) {
  const nlohmann::json manifest = testing::load_manifest(dir);
  std::vector<ClipResult> results;
  EXPECT_FALSE(manifest.at("clips").empty());
  for (const auto& clip : manifest.at("clips")) {
    ClipResult r;
    r.set = set_name;
    r.name = clip.at("file").get<std::string>();
    r.format = clip.value("format", "");
    r.lossy = clip.value("lossy", false);
    r.decoder = clip.value("reference_decoder", "exact");
    SCOPED_TRACE(set_name + ": " + r.name);

    features::PreprocessConfig config;
    const auto decoded = audio::decode_file((dir / r.name).string());
    const auto clip_features = features::FeaturePipeline(config).run(decoded);
    const auto wave = io::read_npy(dir / clip.at("wave").get<std::string>());
    const auto mel = io::read_npy(dir / clip.at("mel").get<std::string>());
    r.segments = clip_features.num_segments();
    EXPECT_EQ(clip_features.wave.size(), clip.at("samples_16k").get<std::size_t>());
    EXPECT_EQ(r.segments, clip.at("segments").get<std::size_t>());
    r.wave_diff = testing::max_abs_difference(clip_features.wave, wave.data).max_abs;
    r.mel_diff = testing::max_abs_difference(clip_features.images, mel.data).max_abs;
    r.mel_mean_diff = mean_abs_difference(clip_features.images, mel.data);
    if (!r.lossy) {
      testing::expect_close(clip_features.wave, wave.data, kWaveTolerance, "conditioned waveform");
      testing::expect_close(clip_features.images, mel.data, kMelTolerance, "mel images");
    } else {
      // Different decoders (priming, resampling inside the codec, float rounding) give
      // different samples; the images must still describe the same sound.
      EXPECT_EQ(clip_features.images.size(), mel.data.size());
      EXPECT_LT(r.mel_mean_diff, 0.05) << "lossy clip's images differ more than decoder differences explain";
    }
    if (clip.contains("wave_hpf50")) {
      config.condition.highpass_hz = 50.0f;
      const auto filtered = features::FeaturePipeline(config).run(decoded);
      const auto expected = io::read_npy(dir / clip.at("wave_hpf50").get<std::string>());
      if (!r.lossy) testing::expect_close(filtered.wave, expected.data, kWaveTolerance, "high-passed waveform");
    }
    results.push_back(r);
  }
  return results;
}

void write_report(const std::vector<ClipResult>& results, const std::string& file) {
  nlohmann::json report = nlohmann::json::array();
  for (const auto& r : results)
    report.push_back({{"set", r.set},
                      {"file", r.name},
                      {"format", r.format},
                      {"lossy", r.lossy},
                      {"reference_decoder", r.decoder},
                      {"segments", r.segments},
                      {"wave_max_abs_diff", r.wave_diff},
                      {"mel_max_abs_diff", r.mel_diff},
                      {"mel_mean_abs_diff", r.mel_mean_diff}});
  std::ofstream(testing::testdata_dir() / file) << report.dump(1) << "\n";
  for (const auto& r : results)
    std::printf("%-8s %-44s %-11s wave %.2e  mel %.2e (mean %.2e)%s\n", r.set.c_str(), r.name.c_str(), r.format.c_str(),
                r.wave_diff, r.mel_diff, r.mel_mean_diff, r.lossy ? ("  [lossy, ref: " + r.decoder + "]").c_str() : "");
}

TEST(PipelineParity, ProjectReferenceSet) {
  write_report(check_set("project", testing::reference_dir()), "parity_report_project.json");
}

TEST(PipelineParity, SharedGoldenSet) {
  const auto golden = testing::shared_golden_dir();
  if (!golden) GTEST_SKIP() << "../shared/golden is not present (a fresh clone has none)";
  write_report(check_set("golden", *golden), "parity_report_golden.json");
}

}  // namespace
}  // namespace coughkit
