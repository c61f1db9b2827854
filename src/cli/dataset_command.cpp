// `coughkit dataset build`: assembles a labelled cough / not-cough corpus from hedgewars-data,
// espeak-ng and synthetic backgrounds (src/dataset/dataset_builder.h describes it in full).
// `coughkit dataset long-form`: a long labelled recording from the corpus's test split
// (src/dataset/long_form.h).
#include <chrono>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/progress_bar.h"
#include "dataset/dataset_builder.h"
#include "dataset/long_form.h"

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

// Log lines and progress bars for the builders' observer callbacks.
class ConsoleObserver {
 public:
  ConsoleObserver() {
    observer.log = [this](const std::string& m) {
      if (bar_) bar_->clear();
      spdlog::info("{}", m);
    };
    observer.stage = [this](const std::string& s, std::size_t n) {
      bar_.reset();
      stage_ = s, total_ = n, done_ = 0;
      bar_ = std::make_unique<ProgressBar>(s, static_cast<double>(n), ProgressUnits::kItems, n > 1);
      if (!bar_->enabled()) spdlog::info("{}: {} items", s, n);
    };
    observer.advance = [this](const std::string& item) {
      ++done_;
      if (bar_ && bar_->enabled()) {
        bar_->advance(1, item);
      } else if (total_ && (done_ == total_ || done_ * 10 / total_ != (done_ - 1) * 10 / total_)) {
        spdlog::info("{}: {}/{}", stage_, done_, total_);  // every 10% without a terminal
      }
    };
  }
  ConsoleObserver(const ConsoleObserver&) = delete;  // the callbacks hold `this`
  ConsoleObserver& operator=(const ConsoleObserver&) = delete;
  void finish() { bar_.reset(); }
  dataset::BuildObserver observer;

 private:
  std::unique_ptr<ProgressBar> bar_;
  std::string stage_;
  std::size_t total_ = 0, done_ = 0;
};

int run_dataset_build(DatasetArgs& args) {
  auto& o = args.options;
  o.out_dir = args.out;
  if (!args.source_cache.empty()) o.source_cache = args.source_cache;
  if (!args.hedgewars_deb.empty()) o.hedgewars_deb = args.hedgewars_deb;
  o.command_line = own_command_line();

  ConsoleObserver console;
  const dataset::BuildObserver& observer = console.observer;
  const auto start = std::chrono::steady_clock::now();
  dataset::BuildSummary s;
  try {
    s = dataset::build_dataset(o, observer);
  } catch (const InputError& e) {
    console.finish();
    spdlog::error("{}", e.what());
    return kExitInput;
  } catch (const ConfigError& e) {
    console.finish();
    spdlog::error("{}", e.what());
    return kExitUsage;
  }
  console.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double audio_s = 0;
  for (const auto& sp : s.splits) audio_s += sp.audio_s;
  fmt::print("{}: {} (hedgewars-data {}, espeak-ng {}), {:.1f} s\n", args.out,
             s.already_complete ? "already complete"
                                : fmt::format("{} scene{} rendered, {} kept from an earlier run", s.rendered,
                                              s.rendered == 1 ? "" : "s", s.resumed),
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

struct LongFormArgs {
  std::string out, source_cache, hedgewars_deb;
  dataset::LongFormOptions options;
};

int run_long_form(LongFormArgs& args) {
  auto& o = args.options;
  o.out_dir = args.out;
  if (!args.source_cache.empty()) o.source_cache = args.source_cache;
  if (!args.hedgewars_deb.empty()) o.hedgewars_deb = args.hedgewars_deb;
  o.command_line = own_command_line();
  ConsoleObserver console;
  const auto start = std::chrono::steady_clock::now();
  dataset::LongFormSummary s;
  try {
    s = dataset::build_long_form(o, console.observer);
  } catch (const InputError& e) {
    console.finish();
    spdlog::error("{}", e.what());
    return kExitInput;
  } catch (const ConfigError& e) {
    console.finish();
    spdlog::error("{}", e.what());
    return kExitUsage;
  }
  console.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{}: {} (hedgewars-data {}, espeak-ng {}), {:.1f} s\n", s.wav.string(),
             s.already_complete ? "already complete" : fmt::format("{:.2f} h written", s.hours), s.hedgewars_version,
             s.espeak_version.empty() ? "unused" : s.espeak_version, seconds);
  fmt::print("  {} coughs ({} single, {} in {} bouts) from {} cough unit(s) of {} test-split cough source(s)\n",
             s.coughs, s.single_coughs, s.bout_coughs, s.bouts, s.cough_units, s.cough_sources);
  fmt::print(
      "  negatives: {} hard (grunts, ow/ouch, laughs, moans), {} voice lines, {} speech clips; {} silence stretches "
      "({:.0f} s)\n",
      s.hard, s.voices, s.speech, s.silences, s.silence_s);
  fmt::print("  truth: {}  events: {}  manifest: {}\n", s.truth.string(), s.events.string(), s.manifest.string());
  return kExitOk;
}

// Seeds and counts: CLI11 would wrap "-3" around into a huge unsigned value.
const CLI::Validator kWholeNumber(
    [](std::string& s) {
      return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos
                 ? std::string()
                 : "must be a whole number >= 0, got " + s;
    },
    "", "whole number");

void add_long_form(CLI::App* dataset, const std::shared_ptr<LongFormArgs>& args, CLI::App*& cmd) {
  cmd = dataset->add_subcommand(
      "long-form",
      "Build a long labelled recording from the corpus's test split, with a truth CSV for `coughkit evaluate`");
  cmd->footer(
      "A benchmark for `coughkit monitor` (docs/pipeline.md section 11): --hours of 16-kHz mono 16-bit WAV with\n"
      "coughs singly and in bouts (2-6 coughs, onsets under 3 s apart) among hard negatives (hedgewars grunts,\n"
      "ow/ouch, laughs, moans), other voice lines and espeak-ng speech runs, over a noise floor whose level\n"
      "(-70..-35 dBFS) and colour (white/pink/brown, mains hum) drift, with stretches of (digital) silence.\n"
      "Only the corpus's TEST split is used: the sources `coughkit dataset build --seed S` puts in test.csv, for\n"
      "S = --corpus-seed (and the same --speech-clips), so a model trained on that corpus's train split has never\n"
      "heard them. No other package's audio is used. Cough sources are cut into single coughs at their pauses.\n"
      "Truth: one row per cough; onset/offset = first sample / one past the last sample of the placed cough at\n"
      "-40 dB or more re its own peak.\n"
      "This is a subcommand of its own rather than a `build` flag: none of build's scene options apply to it.\n"
      "Outputs in DIR: long_form_seed<N>.wav (written in 10-s chunks: memory does not grow with --hours);\n"
      "truth.csv (file,onset_s,offset_s,coughs,bout,source_id,snr_db: what `coughkit evaluate --truth` reads);\n"
      "events.csv (every placed event and silence stretch); long_form.json (options, counts, sources, SHA-256).\n"
      "Same options and sources give byte-identical files. Exit codes: 0 ok; 2 usage; 3 input or environment.\n"
      "Example: coughkit dataset long-form --out data/long --source-cache data/corpus/sources --hours 1 --seed 1\n"
      "         coughkit monitor --json --out data/long/reports data/long/long_form_seed1.wav > "
      "data/long/report.jsonl\n"
      "         coughkit evaluate --truth data/long/truth.csv data/long/report.jsonl");
  cmd->add_option("--out", args->out, "Directory to write the set into (created if missing)")
      ->required()
      ->type_name("DIR");
  auto& o = args->options;
  cmd->add_option("--hours", o.hours, "Length of the recording in hours (0.01 to 24)")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed for the set's own choices (placement, levels, floor)")
      ->check(kWholeNumber)
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--corpus-seed", o.corpus_seed, "The corpus's --seed: which sources are in its test split")
      ->check(kWholeNumber)
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--speech-clips", o.speech_clips, "The corpus's --speech-clips (it decides the speech sources)")
      ->check(kWholeNumber)
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--source-cache", args->source_cache, "Where the corpus's sources are cached (default: DIR/sources)")
      ->type_name("DIR");
  cmd->add_option("--hedgewars-deb", args->hedgewars_deb,
                  "Use this hedgewars-data .deb instead of `apt-get download` (offline)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  cmd->add_option("--jobs", o.jobs, "Parallel workers for loading sources (the output does not depend on it)")
      ->check(CLI::Range(1u, 4096u))
      ->type_name("N");
}

}  // namespace

CommandRunner register_dataset(CLI::App& app) {
  auto args = std::make_shared<DatasetArgs>();
  auto* dataset = app.add_subcommand(
      "dataset", "Build a labelled training corpus (cough / not cough), or a long labelled benchmark recording");
  dataset->require_subcommand(1);
  auto* build = dataset->add_subcommand("build",
                                        "Assemble a cough / not-cough corpus from hedgewars-data, espeak-ng speech and "
                                        "synthetic noise; write train/val/test CSVs");
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
  build
      ->add_option("--source-cache", args->source_cache,
                   "Where downloaded and synthesised sources are kept (default: DIR/sources)")
      ->type_name("DIR");
  build
      ->add_option("--hedgewars-deb", args->hedgewars_deb,
                   "Use this hedgewars-data .deb instead of `apt-get download` (offline)")
      ->check(CLI::ExistingFile.description(""))
      ->type_name("FILE");
  auto& o = args->options;
  build->add_option("--train-scenes", o.train_scenes, "Number of training scenes")
      ->type_name("N")
      ->capture_default_str();
  build->add_option("--val-scenes", o.val_scenes, "Number of validation scenes")->type_name("N")->capture_default_str();
  build->add_option("--test-scenes", o.test_scenes, "Number of test scenes")->type_name("N")->capture_default_str();
  build->add_option("--positive-fraction", o.positive_fraction, "Fraction of each split's scenes that contain a cough")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  build->add_option("--speech-clips", o.speech_clips, "espeak-ng utterances to synthesise (0: no synthetic speech)")
      ->type_name("N")
      ->capture_default_str();
  build
      ->add_option("--synthetic-coughs", o.synthetic_coughs,
                   "Coughs from the parametric cough synthesiser (explosive burst, turbulent phase, optional\n"
                   "voiced phase; every parameter random) added to the training split's cough sources;\n"
                   "validation and test keep recorded coughs only (0: none, the corpus as without the option)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{10000}))
      ->type_name("N")
      ->capture_default_str();
  build
      ->add_option("--synthetic-cough-share", o.scene.synthetic_cough_share,
                   "With --synthetic-coughs: share of the training scenes' cough events drawn from the\n"
                   "synthesised coughs (the rest from the recorded ones)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  build->add_option("--seed", o.seed, "Seed for the splits and every random choice")
      ->type_name("N")
      ->capture_default_str();
  build->add_option("--jobs", o.jobs, "Parallel workers (default: all cores; the output does not depend on it)")
      ->check(CLI::Range(1u, 4096u))
      ->type_name("N");
  auto long_args = std::make_shared<LongFormArgs>();
  CLI::App* long_form = nullptr;
  add_long_form(dataset, long_args, long_form);
  return [args, build, long_args, long_form] {
    if (long_form->parsed()) return run_long_form(*long_args);
    if (!build->parsed()) return int{kExitUsage};
    return run_dataset_build(*args);
  };
}

}  // namespace coughkit::cli
