// `coughkit features` as a user runs it: the real binary, real files, exit codes, and
// arrays that match the torchaudio reference.
#include <array>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "io/npy.h"
#include "support/compare.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

using testing::quoted;
using testing::run_cli;

TEST(CliFeatures, WritesReferenceLayoutArraysThatMatchTorchaudio) {
  const auto out = testing::scratch_dir();
  const auto ref = testing::reference_dir();
  const auto clip = ref / "audio" / "flac_s16_44k_stereo_mix.flac";
  const auto r = run_cli("features --npy-dir " + quoted(out) + " " + quoted(clip));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto wave = io::read_npy(out / "flac_s16_44k_stereo_mix.wave.npy");
  const auto mel = io::read_npy(out / "flac_s16_44k_stereo_mix.mel.npy");
  ASSERT_EQ(mel.shape.size(), 3u);
  EXPECT_EQ(mel.shape[1], 224u);
  EXPECT_EQ(mel.shape[2], 224u);
  testing::expect_close(wave.data, io::read_npy(ref / "arrays" / "flac_s16_44k_stereo_mix.wave.npy").data, 1e-5,
                        "wave");
  testing::expect_close(mel.data, io::read_npy(ref / "arrays" / "flac_s16_44k_stereo_mix.mel.npy").data, 1e-4, "mel");
}

TEST(CliFeatures, OneBadFileIsReportedAndTheOthersAreStillWritten) {
  const auto out = testing::scratch_dir();
  const auto bad = out / "not_audio.wav";
  std::ofstream(bad) << "this is a text file, not a WAV";
  const auto good = testing::reference_dir() / "audio" / "wav_s16_8k_mono_100ms.wav";
  const auto missing = out / "missing.wav";
  const auto r = run_cli("features --npy-dir " + quoted(out / "npy") + " " + quoted(bad) + " " + quoted(missing) + " " +
                         quoted(good));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("not_audio.wav"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing.wav"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(out / "npy" / "wav_s16_8k_mono_100ms.mel.npy"));
  EXPECT_FALSE(std::filesystem::exists(out / "npy" / "not_audio.mel.npy"));
  // A 0.1-s clip is padded to one 2-s segment.
  EXPECT_EQ(io::read_npy(out / "npy" / "wav_s16_8k_mono_100ms.mel.npy").shape[0], 1u);
}

TEST(CliFeatures, HighpassFlagMatchesTheReference) {
  const auto out = testing::scratch_dir();
  const auto ref = testing::reference_dir();
  const auto r = run_cli("features --highpass-hz 50 --npy-dir " + quoted(out) + " " +
                         quoted(ref / "audio" / "wav_s16_16k_mono_tone_hpf.wav"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  testing::expect_close(io::read_npy(out / "wav_s16_16k_mono_tone_hpf.wave.npy").data,
                        io::read_npy(ref / "arrays" / "wav_s16_16k_mono_tone_hpf.wave_hpf50.npy").data, 1e-5, "hpf50");
}

TEST(CliFeatures, UsageErrorsExitWithTwoAndSayWhy) {
  auto r = run_cli("features --npy-dir /tmp");  // no files
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("files"), std::string::npos) << r.output;
  r = run_cli("features --highpass-hz -5 --npy-dir /tmp x.wav");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--highpass-hz"), std::string::npos) << r.output;
  r = run_cli("no-such-command");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(Cli, HelpAndVersion) {
  auto r = run_cli("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("Exit codes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("features"), std::string::npos) << r.output;
  r = run_cli("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("coughkit 0."), std::string::npos) << r.output;
  r = run_cli("features --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--npy-dir"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace coughkit
