// `coughkit precompute`: the log-mel images of every clip of labelled CSVs, cached as
// float16 .npy for `coughkit train` (src/features/feature_cache.h).
#include <filesystem>
#include <mutex>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/progress_bar.h"
#include "features/feature_cache.h"
#include "features/labels_csv.h"

namespace coughkit::cli {
namespace {

struct PrecomputeArgs {
  std::vector<std::string> csvs;
  std::string base_dir;
  std::string cache;
  int threads = 0;
  float highpass_hz = 0.0f;
};

int run_precompute(const PrecomputeArgs& args) {
  features::PreprocessConfig config;
  config.condition.highpass_hz = args.highpass_hz;

  std::vector<features::PrecomputeItem> items;
  for (const auto& csv : args.csvs) {
    // Relative file_paths are relative to --base-dir, else to the CSV's own directory.
    std::string base = args.base_dir;
    if (base.empty()) {
      base = std::filesystem::path(csv).parent_path().string();
      if (base.empty()) base = ".";
    }
    const auto rows = features::read_labels_csv(csv);
    spdlog::info("{}: {} rows (audio under {})", csv, rows.size(), base);
    for (const auto& row : rows) items.push_back({row.file_path, features::resolve_audio_path(base, row.file_path)});
  }

  features::FeatureCache cache(args.cache, config);
  const features::FeaturePipeline pipeline(config);

  ProgressBar bar("precompute", static_cast<double>(items.size()), ProgressUnits::kItems, items.size() > 1);
  const auto report =
      features::precompute_items(items, cache, pipeline, args.threads, [&](const features::PrecomputeProgress& p) {
        // precompute_items calls this from one thread at a time.
        bar.clear();
        if (p.outcome == features::PrecomputeOutcome::kFailed) spdlog::error("{}", p.error);
        bar.advance(1, p.item->file_path);
      });
  bar.clear();

  const double rate = report.seconds > 0 ? static_cast<double>(report.total) / report.seconds : 0.0;
  spdlog::info("precompute: {} computed, {} reused, {} failed of {} files{} in {:.1f} s ({:.2f} files/s); cache {}",
               report.computed, report.reused, report.failures.size(), report.total,
               report.duplicates ? fmt::format(" ({} duplicate rows skipped)", report.duplicates) : "", report.seconds,
               rate, cache.dir());
  if (!report.failures.empty())
    spdlog::warn("{} file(s) failed and have no cache entry (listed in {}/precompute_report.json)",
                 report.failures.size(), cache.dir());
  return report.failures.empty() ? kExitOk : kExitInput;
}

}  // namespace

CommandRunner register_precompute(CLI::App& app) {
  auto args = std::make_shared<PrecomputeArgs>();
  auto* cmd =
      app.add_subcommand("precompute", "Cache the log-mel images of labelled clips (float16 .npy) for training");
  cmd->footer(
      "Reads file_path,cough_label CSVs and writes, for each row, OUT/<file_path>.npy: float16 (S,224,224) log-mel\n"
      "images in [-1,1], exactly the images `coughkit features` computes, rounded to nearest even; S <= 32 (a longer\n"
      "clip keeps its first 32 segments). Absolute paths and paths with '..' go to OUT/_external/<hash>.npy.\n"
      "OUT/cache_info.json records the preprocessing config; a cache built with another config (e.g. another\n"
      "--highpass-hz) is refused. OUT/precompute_report.json lists the counts and the files that failed.\n"
      "Resumable: entries are written atomically, and a rerun recomputes only missing entries and those older than\n"
      "their audio file. A file that cannot be decoded is reported (exit 3) and gets no entry; the others are cached.\n"
      "`coughkit train` with the same CSVs and --cache OUT reads each row's entry instead of decoding its audio.\n"
      "Example: coughkit precompute --csv data/train.csv --csv data/val.csv --cache cache/mel");
  cmd->add_option("--csv", args->csvs, "Labelled CSV (file_path,cough_label); repeat for several splits")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--base-dir", args->base_dir,
                  "Directory that relative file_paths are relative to (default: each CSV's directory)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--cache", args->cache, "Cache directory (created if missing)")->required();
  cmd->add_option("--threads", args->threads, "Worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_option("--highpass-hz", args->highpass_hz,
                  "High-pass biquad cutoff in Hz applied after resampling (0 = off, as in training)")
      ->check(CLI::Range(0.0f, 7999.0f))
      ->capture_default_str();
  return [args] { return run_precompute(*args); };
}

}  // namespace coughkit::cli
