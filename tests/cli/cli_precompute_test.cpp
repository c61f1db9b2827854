// `coughkit precompute` as a user runs it: the real binary on CSVs and WAVs written here,
// exit codes, the report, resumability, config checks, and entries that equal the images of
// `coughkit features` rounded to float16.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/half.h"
#include "io/npy.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::quoted;
using testing::run_cli;

// 16-bit mono PCM WAV: a tone with noise bursts, different per seed.
void write_wav(const fs::path& path, double seconds, int rate, std::uint64_t seed) {
  const auto frames = static_cast<std::size_t>(seconds * rate);
  std::vector<std::int16_t> samples;
  samples.reserve(frames);
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  for (std::size_t i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double noise = static_cast<double>(s >> 11) / 9007199254740992.0 - 0.5;
    const double v = 0.3 * std::sin(2 * M_PI * (300.0 + 25.0 * static_cast<double>(seed)) * t) +
                     (std::fmod(t, 1.1) < 0.3 ? 0.6 : 0.02) * noise;
    samples.push_back(static_cast<std::int16_t>(std::lround(v * 20000)));
  }
  testing::write_wav_s16(path, samples, rate);
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

bool has_temp_files(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) return true;
  return false;
}

// data/train.csv with two good clips (one in a subfolder), a corrupt one and a missing one.
fs::path make_split(const fs::path& dir) {
  write_wav(dir / "data" / "clips" / "a.wav", 3.0, 16000, 1);
  write_wav(dir / "data" / "b.wav", 2.4, 22050, 2);
  write_text(dir / "data" / "corrupt.wav", "this is not audio");
  write_text(dir / "data" / "train.csv",
             "file_path,cough_label,source\r\nclips/a.wav,1,x\r\nb.wav,no,y\r\ncorrupt.wav,1,z\r\nmissing.wav,0,w\r\n");
  return dir / "data" / "train.csv";
}

TEST(CliPrecompute, CachesGoodFilesReportsBadOnesAndResumes) {
  const auto dir = testing::scratch_dir();
  const auto csv = make_split(dir);
  const auto cache = dir / "cache";
  auto r = run_cli("precompute --csv " + quoted(csv) + " --cache " + quoted(cache) + " --threads 2");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("corrupt.wav"));
  EXPECT_THAT(r.output, HasSubstr("missing.wav"));
  EXPECT_THAT(r.output, HasSubstr("2 computed, 0 reused, 2 failed of 4 files"));
  EXPECT_THAT(r.output, HasSubstr("files/s"));
  EXPECT_TRUE(fs::exists(cache / "clips" / "a.wav.npy"));
  EXPECT_TRUE(fs::exists(cache / "b.wav.npy"));
  EXPECT_FALSE(fs::exists(cache / "corrupt.wav.npy"));
  EXPECT_FALSE(fs::exists(cache / "missing.wav.npy"));
  EXPECT_FALSE(has_temp_files(cache));
  auto report = read_json(cache / "precompute_report.json");
  EXPECT_EQ(report["computed"], 2);
  EXPECT_EQ(report["failed"], 2);
  ASSERT_EQ(report["failures"].size(), 2u);
  EXPECT_EQ(report["failures"][0]["file_path"], "corrupt.wav");
  EXPECT_EQ(report["failures"][1]["file_path"], "missing.wav");
  EXPECT_FALSE(report["failures"][0]["error"].get<std::string>().empty());
  EXPECT_EQ(io::read_npy_half(cache / "clips" / "a.wav.npy").shape, (std::vector<std::size_t>{3, 224, 224}));

  // Rerun: the good entries are reused.
  r = run_cli("precompute --csv " + quoted(csv) + " --cache " + quoted(cache));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("0 computed, 2 reused, 2 failed of 4 files"));

  // Fix the split and edit one clip: exit 0, only the edited clip is recomputed.
  write_text(csv, "file_path,cough_label\nclips/a.wav,1\nb.wav,0\n");
  write_wav(dir / "data" / "b.wav", 4.0, 16000, 9);
  fs::last_write_time(cache / "b.wav.npy", fs::last_write_time(dir / "data" / "b.wav") - std::chrono::seconds(2));
  r = run_cli("precompute --csv " + quoted(csv) + " --cache " + quoted(cache));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("1 computed, 1 reused, 0 failed of 2 files"));
  EXPECT_EQ(io::read_npy_half(cache / "b.wav.npy").shape[0], 5u);
  report = read_json(cache / "precompute_report.json");
  EXPECT_EQ(report["failed"], 0);
  EXPECT_TRUE(report["failures"].empty());
}

TEST(CliPrecompute, EntriesAreTheFeaturesCommandsImagesRoundedToHalf) {
  const auto dir = testing::scratch_dir();
  write_wav(dir / "audio" / "clip.wav", 3.7, 44100, 5);
  write_text(dir / "lists" / "val.csv", "file_path,cough_label\nclip.wav,yes\n");
  // Paths relative to --base-dir instead of the CSV's directory.
  auto r = run_cli("precompute --csv " + quoted(dir / "lists" / "val.csv") + " --base-dir " + quoted(dir / "audio") +
                   " --cache " + quoted(dir / "cache") + " --threads 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("features --npy-dir " + quoted(dir / "features") + " " + quoted(dir / "audio" / "clip.wav"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto images = io::read_npy(dir / "features" / "clip.mel.npy");
  const auto cached = io::read_npy_half(dir / "cache" / "clip.wav.npy");
  ASSERT_EQ(cached.shape, images.shape);
  ASSERT_EQ(cached.data.size(), images.data.size());
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < images.data.size(); ++i) mismatches += cached.data[i] != float_to_half(images.data[i]);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_THAT(cached.comment, HasSubstr("duration_s=3.7"));

  // Without --base-dir the paths are relative to the CSV's directory, where there is no audio.
  r = run_cli("precompute --csv " + quoted(dir / "lists" / "val.csv") + " --cache " + quoted(dir / "cache2"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr((dir / "lists" / "clip.wav").string()));
}

TEST(CliPrecompute, SeveralCsvsShareOneCache) {
  const auto dir = testing::scratch_dir();
  write_wav(dir / "train" / "t.wav", 2.0, 16000, 2);
  write_wav(dir / "val" / "v.wav", 2.0, 16000, 3);
  write_text(dir / "train" / "train.csv", "file_path,cough_label\nt.wav,1\n");
  write_text(dir / "val" / "val.csv", "file_path,cough_label\nv.wav,0\n");
  const auto r = run_cli("precompute --csv " + quoted(dir / "train" / "train.csv") + " --csv " +
                         quoted(dir / "val" / "val.csv") + " --cache " + quoted(dir / "cache"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "cache" / "t.wav.npy"));
  EXPECT_TRUE(fs::exists(dir / "cache" / "v.wav.npy"));
}

TEST(CliPrecompute, RefusesACacheBuiltWithAnotherConfig) {
  const auto dir = testing::scratch_dir();
  write_wav(dir / "a.wav", 2.0, 16000, 4);
  write_text(dir / "s.csv", "file_path,cough_label\na.wav,1\n");
  auto r = run_cli("precompute --csv " + quoted(dir / "s.csv") + " --cache " + quoted(dir / "cache"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("precompute --highpass-hz 50 --csv " + quoted(dir / "s.csv") + " --cache " + quoted(dir / "cache"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("another preprocessing config"));
  const auto info = read_json(dir / "cache" / "cache_info.json");
  EXPECT_THAT(info["preprocess"].get<std::string>(), HasSubstr("highpass_hz=0"));
  // A bad CSV is an input error too.
  write_text(dir / "bad.csv", "path,label\na.wav,1\n");
  r = run_cli("precompute --csv " + quoted(dir / "bad.csv") + " --cache " + quoted(dir / "cache"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("file_path"));
}

TEST(CliPrecompute, UsageErrorsAndHelp) {
  const auto dir = testing::scratch_dir();
  write_text(dir / "s.csv", "file_path,cough_label\n");
  auto r = run_cli("precompute --csv " + quoted(dir / "s.csv"));  // no --cache
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--cache"));
  r = run_cli("precompute --cache " + quoted(dir / "c"));  // no --csv
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_cli("precompute --csv " + quoted(dir / "nope.csv") + " --cache " + quoted(dir / "c"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("nope.csv"));
  r = run_cli("precompute --threads -1 --csv " + quoted(dir / "s.csv") + " --cache " + quoted(dir / "c"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_cli("precompute --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("cache_info.json"));
  EXPECT_THAT(r.output, HasSubstr("Resumable"));
  EXPECT_THAT(r.output, HasSubstr("coughkit train"));
  // An empty split is fine.
  r = run_cli("precompute --csv " + quoted(dir / "s.csv") + " --cache " + quoted(dir / "c"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace coughkit
