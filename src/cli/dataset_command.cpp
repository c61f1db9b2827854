// `coughkit dataset build`: assembles a labelled cough / not-cough corpus from hedgewars-data,
// espeak-ng and synthetic backgrounds (src/dataset/dataset_builder.h describes it in full).
#include <chrono>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/progress_bar.h"
#include "dataset/dataset_builder.h"

namespace coughkit::cli {
namespace {

struct DatasetArgs {
  std::string out, source_cache, hedgewars_deb;
  dataset::BuildOptions options;
};

// argv as given, for dataset.json (the runner does not see argv itself).
std::string own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  for (char& c : raw)
    if (c == '\0') c = ' ';
  return raw;
}

int run_dataset_build(DatasetArgs& args) {
  auto& o = args.options;
  o.out_dir = args.out;
  if (!args.source_cache.empty()) o.source_cache = args.source_cache;
  if (!args.hedgewars_deb.empty()) o.hedgewars_deb = args.hedgewars_deb;
  o.command_line = own_command_line();

  std::unique_ptr<ProgressBar> bar;
  std::string stage;
  std::size_t total = 0, done = 0;
  dataset::BuildObserver observer;
  observer.log = [&](const std::string& m) {
    if (bar) bar->clear();
    spdlog::info("{}", m);
  };
  observer.stage = [&](const std::string& s, std::size_t n) {
    bar.reset();
    stage = s, total = n, done = 0;
    bar = std::make_unique<ProgressBar>(s, static_cast<double>(n), ProgressUnits::kItems, n > 1);
    if (!bar->enabled()) spdlog::info("{}: {} items", s, n);
  };
  observer.advance = [&](const std::string& item) {
    ++done;
    if (bar && bar->enabled()) {
      bar->advance(1, item);
    } else if (total && (done == total || done * 10 / total != (done - 1) * 10 / total)) {
      spdlog::info("{}: {}/{}", stage, done, total);  // every 10% without a terminal
    }
  };

  const auto start = std::chrono::steady_clock::now();
  dataset::BuildSummary s;
  try {
    s = dataset::build_dataset(o, observer);
  } catch (const InputError& e) {
    bar.reset();
    spdlog::error("{}", e.what());
    return kExitInput;
  } catch (const ConfigError& e) {
    bar.reset();
    spdlog::error("{}", e.what());
    return kExitUsage;
  }
  bar.reset();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double audio_s = 0;
  for (const auto& sp : s.splits) audio_s += sp.audio_s;
  fmt::print("{}: {} (hedgewars-data {}, espeak-ng {}), {:.1f} s\n", args.out,
             s.already_complete ? "already complete"
                                : fmt::format("{} scene{} rendered, {} kept from an earlier run", s.rendered, s.rendered == 1 ? "" : "s", s.resumed),
             s.hedgewars_version, s.espeak_version.empty() ? "unused" : s.espeak_version, seconds);
  for (dataset::Split split : dataset::kSplits) {
    const auto& sp = s.splits[static_cast<int>(split)];
    fmt::print("  {:<5} {:4} scenes: {:4} cough, {:4} not cough, {:6.1f} min; sources: {} cough, {} voice, {} speech\n",
               dataset::split_name(split), sp.scenes, sp.positive, sp.negative, sp.audio_s / 60.0, sp.cough_sources,
               sp.voice_sources, sp.speech_sources);
  }
  fmt::print("  {:.1f} min of audio, {:.1f} MB of WAV\n", audio_s / 60.0, static_cast<double>(s.bytes) / 1e6);
  return kExitOk;
}

}  // namespace

CommandRunner register_dataset(CLI::App& app) {
  auto args = std::make_shared<DatasetArgs>();
  auto* dataset = app.add_subcommand("dataset", "Build a labelled training corpus (cough / not cough)");
  dataset->require_subcommand(1);
  auto* build = dataset->add_subcommand(
      "build", "Assemble a cough / not-cough corpus from hedgewars-data, espeak-ng speech and synthetic noise; write train/val/test CSVs");
  build->footer(
      "Sources (fetched into the source cache, default DIR/sources):\n"
      "  hedgewars-data (Debian package; `apt-get download` + `dpkg -x`, never installed, or --hedgewars-deb):\n"
      "    its voice packs' PoisonCough.ogg are the real coughs (5 unique), its ~800 other unique voice\n"
      "    lines real non-cough voices. Audio from any other Debian package is held out for independent evaluation.\n"
      "  espeak-ng speech: --speech-clips utterances of license texts and hedgewars' translated tips in 23\n"
      "    voices with variants, speeds and pitches (needs the espeak-ng program).\n"
      "  Synthetic backgrounds: white/pink/brown noise, 50/60 Hz hum, fan, clicks, babble; optional room reverb.\n"
      "Splits are by source: each unique clip is in exactly one of train/val/test (coughs 3/1/1), chosen\n"
      "from --seed; a split's scenes use only its own sources.\n"
      "Scenes: 1-10 s (log-uniform: short scenes favoured, as training cost grows with the number of 2-s\n"
      "segments); positives hold 1-3 coughs (0.85-1.15x speed) fully inside, maybe speech too; negatives\n"
      "hold voice/speech or noise only; events 0-30 dB above the background; 16-bit WAV at 16-48 kHz, some\n"
      "stereo, peak -12..-1 dBFS.\n"
      "Outputs in DIR: audio/<split>/<split>_NNNN.wav; train.csv, val.csv, test.csv (file_path,cough_label,\n"
      "paths relative to DIR); scenes.jsonl (per-scene events, levels, background); sources.csv (every\n"
      "source, its split and hash); dataset.json (counts, seed, versions, command line).\n"
      "Same options and sources give byte-identical WAVs and CSVs, whatever --jobs. Interrupted runs resume;\n"
      "re-running into a complete DIR returns at once.\n"
      "Exit codes: 0 ok; 2 usage; 3 input or environment error (no network for apt-get, no espeak-ng, ...).\n"
      "Example: coughkit dataset build --out data/corpus --seed 1");
  build->add_option("--out", args->out, "Directory to write the dataset into (created if missing)")
      ->required()
      ->type_name("DIR");
  build->add_option("--source-cache", args->source_cache, "Where downloaded and synthesised sources are kept (default: DIR/sources)")
      ->type_name("DIR");
  build->add_option("--hedgewars-deb", args->hedgewars_deb, "Use this hedgewars-data .deb instead of `apt-get download` (offline)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  auto& o = args->options;
  build->add_option("--train-scenes", o.train_scenes, "Number of training scenes")->type_name("N")->capture_default_str();
  build->add_option("--val-scenes", o.val_scenes, "Number of validation scenes")->type_name("N")->capture_default_str();
  build->add_option("--test-scenes", o.test_scenes, "Number of test scenes")->type_name("N")->capture_default_str();
  build->add_option("--positive-fraction", o.positive_fraction, "Fraction of each split's scenes that contain a cough")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  build->add_option("--speech-clips", o.speech_clips, "espeak-ng utterances to synthesise (0: no synthetic speech)")
      ->type_name("N")
      ->capture_default_str();
  build->add_option("--seed", o.seed, "Seed for the splits and every random choice")->type_name("N")->capture_default_str();
  build->add_option("--jobs", o.jobs, "Parallel workers (default: all cores; the output does not depend on it)")
      ->check(CLI::Range(1u, 4096u))
      ->type_name("N");
  return [args, build] {
    if (!build->parsed()) return int{kExitUsage};
    return run_dataset_build(*args);
  };
}

}  // namespace coughkit::cli
