// `coughkit features`: audio files -> the arrays the model sees, in the layout of the
// reference set (shared/golden/arrays): DIR/<stem>.wave.npy and DIR/<stem>.mel.npy.
#include <filesystem>

#include <spdlog/spdlog.h>

#include "audio/decoder.h"
#include "cli/commands.h"
#include "common/error.h"
#include "features/feature_pipeline.h"
#include "io/npy.h"

namespace coughkit::cli {
namespace {

struct FeaturesArgs {
  std::vector<std::string> files;
  std::string npy_dir;
  float highpass_hz = 0.0f;
};

int run_features(const FeaturesArgs& args) {
  features::PreprocessConfig config;
  config.condition.highpass_hz = args.highpass_hz;
  const features::FeaturePipeline pipeline(config);
  std::filesystem::create_directories(args.npy_dir);

  int failures = 0;
  for (const auto& file : args.files) {
    try {
      const auto clip = pipeline.run(audio::decode_file(file));
      const std::filesystem::path stem = std::filesystem::path(file).stem();
      const auto dir = std::filesystem::path(args.npy_dir);
      const std::size_t size = static_cast<std::size_t>(pipeline.images().image_size());
      io::write_npy(dir / (stem.string() + ".wave.npy"), clip.wave, {clip.wave.size()});
      io::write_npy(dir / (stem.string() + ".mel.npy"), clip.images, {clip.num_segments(), size, size});
      spdlog::info(
          "{}: {:.2f} s, {} segments{}", file, clip.duration_s, clip.num_segments(),
          clip.plan.truncated() ? fmt::format(" (first {} of {})", clip.num_segments(), clip.plan.total_segments) : "");
    } catch (const InputError& e) {
      ++failures;
      // The decoder's messages already start with the file name; others get it prepended.
      const std::string what = e.what();
      spdlog::error("{}", what.starts_with(file) ? what : file + ": " + what);
    }
  }
  return failures ? kExitInput : kExitOk;
}

}  // namespace

CommandRunner register_features(CLI::App& app) {
  auto args = std::make_shared<FeaturesArgs>();
  auto* cmd = app.add_subcommand("features",
                                 "Write the conditioned 16 kHz waveform and the log-mel images of audio files as .npy");
  cmd->footer(
      "Writes DIR/<stem>.wave.npy (float32 (T,)) and DIR/<stem>.mel.npy (float32 (S,224,224), values in [-1,1]).\n"
      "Example: coughkit features --npy-dir out/ clip.wav recording.webm");
  cmd->add_option("files", args->files, "Audio files (WAV, FLAC, MP3, OGG, Opus, WebM, M4A, ...)")->required();
  cmd->add_option("--npy-dir", args->npy_dir, "Directory to write the .npy arrays into (created if missing)")
      ->required();
  cmd->add_option("--highpass-hz", args->highpass_hz,
                  "High-pass biquad cutoff in Hz applied after resampling (0 = off, as in training)")
      ->check(CLI::Range(0.0f, 7999.0f))
      ->capture_default_str();
  return [args] { return run_features(*args); };
}

}  // namespace coughkit::cli
