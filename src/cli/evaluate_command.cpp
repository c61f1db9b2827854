// `coughkit evaluate`: monitor reports against labelled events (monitoring/evaluation.h).
#include <fstream>
#include <map>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/error.h"
#include "monitoring/evaluation.h"

namespace coughkit::cli {
namespace {

struct EvaluateArgs {
  std::string truth;
  std::vector<std::string> reports;
  bool json = false;
  monitoring::EvaluationOptions options;
};

int run_evaluate(const EvaluateArgs& args) {
  args.options.Validate();
  const auto labels = monitoring::read_labels_csv(args.truth);
  std::map<std::string, monitoring::FileForEvaluation> files;
  for (const auto& path : args.reports) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open the report");
    int lines = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line.front() != '{') continue;
      auto f = monitoring::file_from_report(line, args.options.unit);
      if (files.count(f.file)) throw InputError(path + ": " + f.file + " is reported twice");
      files[f.file] = std::move(f);
      ++lines;
    }
    if (lines == 0) throw InputError(path + ": holds no monitor report (the output of `coughkit monitor --json`)");
  }
  for (const auto& l : labels) {
    const auto it = files.find(l.file);
    if (it == files.end()) throw InputError(args.truth + ": labels for " + l.file + ", which no report covers");
    it->second.labels.push_back(l);
  }
  std::vector<monitoring::FileForEvaluation> list;
  for (auto& [name, f] : files) list.push_back(std::move(f));
  const auto result = monitoring::evaluate(list, args.options);
  if (args.json)
    std::printf("%s\n", monitoring::evaluation_json(result, args.options).c_str());
  else
    std::printf("%s", monitoring::evaluation_table(result, args.options).c_str());
  return kExitOk;
}

}  // namespace

CommandRunner register_evaluate(CLI::App& app) {
  auto args = std::make_shared<EvaluateArgs>();
  auto* cmd = app.add_subcommand(
      "evaluate", "Score monitor reports against labelled coughs: sensitivity, FP/hour, count agreement");
  cmd->footer(
      "LABELS.csv has a header naming file, onset_s, offset_s (and optionally coughs): one row per labelled event.\n"
      "REPORT files hold `coughkit monitor --json` lines (or --out reports). A detection matches a label when its\n"
      "onset is within --collar of the label's and its offset within max(--collar, half the label's length); matches\n"
      "are one-to-one. Also reported: matching by any overlap, and cough counts per --block-seconds (Pearson r,\n"
      "Lin's concordance). --unit cough compares detected coughs with the rows, --unit event detected events.\n"
      "Example: coughkit monitor --json long/*.flac > reports.jsonl && coughkit evaluate --truth long/truth.csv "
      "reports.jsonl");
  cmd->add_option("--truth", args->truth, "Labels CSV (file, onset_s, offset_s[, coughs])")->required();
  cmd->add_option("reports", args->reports, "Files of monitor report lines")->required();
  cmd->add_option("--unit", args->options.unit, "What is matched: cough or event")
      ->check(CLI::IsMember({"cough", "event"}))
      ->capture_default_str();
  cmd->add_option("--collar", args->options.collar_s, "Onset collar in seconds")->capture_default_str();
  cmd->add_option("--block-seconds", args->options.block_s, "Block length for count agreement")->capture_default_str();
  cmd->add_flag("--json", args->json, "One JSON object instead of a table");
  return [args] { return run_evaluate(*args); };
}

}  // namespace coughkit::cli
