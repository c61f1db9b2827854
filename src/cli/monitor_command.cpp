// `coughkit monitor`: recordings of any length -> cough events, counts per hour, awake and
// asleep, bouts (docs/pipeline.md sections 9-10). Each file is decoded as a stream; with
// --out DIR its report is written atomically and a rerun skips the files already done.
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audio/decoder.h"
#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "common/error.h"
#include "common/float_text.h"
#include "common/progress_bar.h"
#include "detection/detector.h"
#include "io/atomic_file.h"
#include "monitoring/batch.h"
#include "monitoring/report.h"
#include "monitoring/window_scorer.h"

namespace coughkit::cli {
namespace {

namespace fs = std::filesystem;

struct MonitorArgs {
  std::vector<std::string> files;
  std::string model;
  bool json = false, track = false;
  std::string out_dir, csv_dir, plot_dir;
  std::optional<float> threshold;
  std::string start_time, night = "22:00-07:00", shard = "1/1";
  monitoring::WindowOptions windows;
  double bout_gap_s = 3.0, merge_gap_s = 0.0;
  int batch = 8;
  bool progress = true;
  model::EngineOptions engine;
  detection::Backend backend = detection::Backend::kEngine;
};

void print_summary(const monitoring::MonitorReport& r) {
  const auto& c = r.counts;
  std::printf("%s: %.1f min, %zu windows of %g s every %g s, threshold %g (%s)\n", r.file.c_str(),
              r.track.duration_s() / 60, r.track.probabilities.size(), r.track.windows.window_s, r.track.windows.hop_s,
              shortest(r.settings.events.threshold), r.settings.threshold_source.c_str());
  std::printf("  %d coughs in %zu events and %zu bouts: %.1f per hour, %.1f per 24 h\n", c.total, r.events.size(),
              r.bouts.size(), c.per_hour(), c.per_24h());
  if (c.awake && c.asleep)
    std::printf("  awake %.1f h: %d coughs (%.1f/h); asleep (%s) %.1f h: %d coughs (%.1f/h)\n", c.awake->hours,
                c.awake->coughs, c.awake->per_hour(), r.settings.night.ToString().c_str(), c.asleep->hours,
                c.asleep->coughs, c.asleep->per_hour());
  for (const auto& h : c.hourly)
    std::printf("  %s  %3d coughs\n",
                h.wall_start.empty() ? fmt::format("{:>6.2f} h", h.start_s / 3600).c_str() : h.wall_start.c_str(),
                h.coughs);
  const std::size_t shown = std::min<std::size_t>(r.events.size(), 20);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& e = r.events[i];
    std::printf("  event %zu: %.2f-%.2f s, %zu cough%s, peak %.3f\n", i + 1, e.start_s, e.end_s, e.coughs.size(),
                e.coughs.size() == 1 ? "" : "s", e.peak_probability);
  }
  if (r.events.size() > shown)
    std::printf("  ... %zu more events (--json or --csv for all)\n", r.events.size() - shown);
  std::printf("  scored at %.1fx realtime\n", r.processing_s > 0 ? r.track.duration_s() / r.processing_s : 0.0);
}

// When the recording started: the flag, else the file's creation_time tag, else unknown.
std::pair<std::optional<monitoring::WallClock>, std::string> start_of(const MonitorArgs& args,
                                                                      const audio::AudioStream& stream,
                                                                      const std::string& file) {
  if (!args.start_time.empty()) return {monitoring::WallClock::parse(args.start_time), "flag"};
  const std::string tag = stream.creation_time();
  if (tag.empty()) return {std::nullopt, ""};
  try {
    return {monitoring::WallClock::parse(tag, "creation_time"), "metadata"};
  } catch (const ConfigError&) {
    spdlog::warn("{}: creation_time '{}' is not a date and time; clock hours and nights are not reported", file, tag);
    return {std::nullopt, ""};
  }
}

class MonitorRun {
 public:
  MonitorRun(const MonitorArgs& args, const detection::Detector& detector) : args_(args), detector_(detector) {
    settings_.model = fs::path(detector.config().model_path).filename().string();
    settings_.windows = args.windows;
    settings_.events.threshold = args.threshold.value_or(detector.default_threshold());
    settings_.threshold_source = args.threshold ? "flag" : "model";
    settings_.events.bout_gap_s = args.bout_gap_s;
    settings_.events.merge_gap_s = args.merge_gap_s;
    settings_.night = monitoring::NightWindow::parse(args.night);
    settings_.events.Validate();
    if (!args.start_time.empty()) monitoring::WallClock::parse(args.start_time);  // a bad flag fails before any work
  }

  // 0 done (or already done), else the exit code of the failure.
  int one(const std::string& file) {
    const std::string name = monitoring::report_name(file);
    const fs::path report_path = args_.out_dir.empty() ? fs::path() : fs::path(args_.out_dir) / (name + ".json");
    if (!report_path.empty() && reuse(report_path, file)) return kExitOk;

    if (!report_path.empty()) remove_stale_temporaries(report_path.parent_path(), name);
    const auto t0 = std::chrono::steady_clock::now();
    auto stream = audio::open_audio_stream(file);
    auto settings = settings_;
    std::tie(settings.start, settings.start_source) = start_of(args_, *stream, file);
    ProgressBar bar(fs::path(file).filename().string(), stream->duration_hint_s(), ProgressUnits::kAudioSeconds,
                    args_.progress);
    monitoring::TrackOptions options{.windows = args_.windows, .batch_windows = args_.batch};
    auto track = monitoring::score_recording(detector_, *stream, options, [&](double seconds) {
      bar.set(seconds);
      return true;
    });
    bar.clear();
    auto report = monitoring::analyse(file, std::move(track), settings);
    report.processing_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_outputs(report, name, report_path);
    return kExitOk;
  }

 private:
  // A finished report from an earlier run with the same settings: printed, not redone.
  bool reuse(const fs::path& report_path, const std::string& file) {
    std::error_code ec;
    if (!fs::exists(report_path, ec)) return false;
    std::string line = file_line(report_path);
    const std::string want = settings_for_file_check();
    const std::string got = monitoring::settings_of_report_json(line);
    // The start time may come from the file's metadata: compare everything before it.
    if (got.substr(0, got.rfind(" start=")) != want) return false;
    spdlog::info("{}: done in an earlier run ({}); skipped", file, report_path.string());
    if (args_.json) std::printf("%s\n", line.c_str());
    return true;
  }

  // What a run killed while writing this file's outputs left behind (io/atomic_file.h's
  // hidden temporaries, ".<name>....tmp-<pid>-<n>").
  static void remove_stale_temporaries(const fs::path& dir, const std::string& name) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string f = e.path().filename().string();
      if (f.starts_with("." + name) && f.find(".tmp-") != std::string::npos) fs::remove(e.path(), ec);
    }
  }

  std::string settings_for_file_check() const {
    const std::string s = settings_.ToString();
    return s.substr(0, s.rfind(" start="));
  }

  static std::string file_line(const fs::path& p) {
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return "";
    std::string out;
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  void write_outputs(const monitoring::MonitorReport& report, const std::string& name, const fs::path& report_path) {
    // Tables and plot first, the report (the "done" mark) last.
    if (!args_.csv_dir.empty()) {
      fs::create_directories(args_.csv_dir);
      io::write_file_atomically(fs::path(args_.csv_dir) / (name + ".events.csv"), monitoring::events_csv(report));
      io::write_file_atomically(fs::path(args_.csv_dir) / (name + ".hourly.csv"), monitoring::hourly_csv(report));
    }
    if (!args_.plot_dir.empty()) {
      fs::create_directories(args_.plot_dir);
      io::write_file_atomically(fs::path(args_.plot_dir) / (name + ".timeline.svg"), monitoring::timeline_svg(report));
    }
    if (!report_path.empty()) {
      fs::create_directories(report_path.parent_path());
      io::write_file_atomically(report_path, monitoring::report_json(report, true) + "\n");
    }
    if (args_.json)
      std::printf("%s\n", monitoring::report_json(report, args_.track).c_str());
    else
      print_summary(report);
    std::fflush(stdout);
  }

  const MonitorArgs& args_;
  const detection::Detector& detector_;
  monitoring::MonitorSettings settings_;
};

int run_monitor(const MonitorArgs& args) {
  const auto shard = monitoring::Shard::parse(args.shard);
  args.windows.Validate();
  std::string model_path = args.model;
  if (!resolve_default_model(model_path)) return kExitUsage;
  const auto detector = detection::Detector::create({.model_path = model_path,
                                                     .engine = args.engine,
                                                     .threshold = std::nullopt,
                                                     .highpass_hz = std::nullopt,
                                                     .backend = args.backend});
  MonitorRun run(args, *detector);
  std::vector<std::string> mine;
  for (const auto& f : args.files)
    if (shard.takes(f)) mine.push_back(f);
  if (shard.count > 1)
    spdlog::info("shard {}/{}: {} of {} files", shard.index, shard.count, mine.size(), args.files.size());
  int worst = kExitOk;
  for (const auto& file : mine) {
    try {
      run.one(file);
    } catch (const std::exception& e) {
      const ErrorKind kind = kind_of(e);
      if (kind == ErrorKind::kUsage) throw;
      const std::string what = e.what();
      spdlog::error("{}", what.starts_with(file) ? what : file + ": " + what);
      // One bad file does not stop the others; an internal error outranks an input error.
      const int code = exit_code_for(kind);
      if (worst == kExitOk || code == kExitInternal) worst = code;
    }
  }
  return worst;
}

}  // namespace

CommandRunner register_monitor(CLI::App& app) {
  auto args = std::make_shared<MonitorArgs>();
  auto* cmd =
      app.add_subcommand("monitor", "Count coughs in long recordings: events, coughs per hour, awake/asleep, bouts");
  cmd->footer(
      "Each recording is scored in windows of --window-seconds every --hop-seconds, each window exactly as the\n"
      "model scores that stretch uploaded as a clip of its own (docs/pipeline.md section 9); memory stays the same\n"
      "whatever the length. A window is positive when its probability exceeds the threshold (the model's own\n"
      "unless --threshold); runs of positive windows are events. Coughs are counted as explosive onsets in the\n"
      "loudness envelope inside each event (a rise of >= 9 dB within 50 ms, >= 200 ms apart); coughs at most\n"
      "--bout-gap apart form a bout. With a start time (--start-time, else the file's creation_time) hours are\n"
      "clock hours and coughs are split into awake and asleep (--night).\n"
      "--json prints one object per file per line: file, duration_s, window_s, hop_s, threshold, events\n"
      "(start_s, end_s, peak_probability, coughs, cough_onsets_s), cough_count, coughs_per_hour, hourly, daily,\n"
      "bouts, awake, asleep, and with --track the window track (track.probabilities[i] starts at i * hop_s).\n"
      "--out DIR writes DIR/<name>.json per file (atomically); a rerun with the same settings skips those files,\n"
      "so a killed run loses only the file in progress. --shard i/N takes every N-th file by path hash.\n"
      "Exit codes: 0 ok, 2 usage, 3 an input could not be used (the others are still processed).\n"
      "Example: coughkit monitor --start-time 2026-12-01T22:00:00 --plot plots/ --csv tables/ night.opus");
  cmd->add_option("files", args->files, "Recordings (any format FFmpeg decodes, any length)")->required();
  cmd->add_option("--model,-m", args->model, "Model file (.onnx or .pth; default: the bundled default model)")
      ->envname("COUGHKIT_MODEL");
  cmd->add_flag("--json", args->json, "One JSON object per file per line on stdout instead of a summary");
  cmd->add_flag("--track", args->track, "With --json: include the window track (one probability per window)");
  cmd->add_option("--out", args->out_dir, "Write DIR/<name>.json reports (with the track); reruns skip finished files");
  cmd->add_option("--csv", args->csv_dir, "Write DIR/<name>.events.csv and DIR/<name>.hourly.csv");
  cmd->add_option("--plot", args->plot_dir,
                  "Write DIR/<name>.timeline.svg: probability track, events, coughs per hour");
  cmd->add_option("--threshold", args->threshold,
                  "Decision threshold on a window's probability (default: the model's own)")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--start-time", args->start_time,
                  "When the recording started, e.g. 2026-12-01T22:30:00 (local clock) or ...Z / ...+01:00 "
                  "(default: the file's creation_time tag, else unknown)");
  cmd->add_option("--night", args->night, "Asleep between these clock times (needs a start time)")
      ->capture_default_str();
  cmd->add_option("--bout-gap", args->bout_gap_s, "Seconds between cough onsets within one bout")
      ->capture_default_str();
  cmd->add_option("--merge-gap", args->merge_gap_s, "Seconds of negative windows tolerated inside one event")
      ->capture_default_str();
  cmd->add_option("--window-seconds", args->windows.window_s, "Window length (2 = one segment; 10 = a bag of 17)")
      ->capture_default_str();
  cmd->add_option("--hop-seconds", args->windows.hop_s, "Window hop")->capture_default_str();
  cmd->add_option("--shard", args->shard, "Take shard i of N of the files (by path hash), e.g. 2/4")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "Windows per model run")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_flag("!--no-progress", args->progress, "No progress bar (it is shown only on a terminal anyway)");
  add_engine_flags(cmd, args->engine, args->backend);
  return [args] { return run_monitor(*args); };
}

}  // namespace coughkit::cli
