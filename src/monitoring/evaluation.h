#pragma once
// Monitor reports against labels (`coughkit evaluate`): event-level sensitivity, precision,
// F1 and false positives per hour, and agreement of cough counts over fixed blocks.
//
// Matching rule (as sed_eval's event-based metrics): a detection matches a labelled event
// when its onset is within `collar_s` of the label's onset and its offset within
// max(collar_s, offset_collar_fraction x the label's length) of the label's offset. Matches
// are one-to-one, the largest such set (maximum bipartite matching), per file. A second,
// looser figure counts any temporal overlap as a match (also one-to-one).
//
// Units: "cough" compares each detected cough ([onset, end) from the report's
// cough_onsets_s / cough_offsets_s) with each label row; "event" compares detected events
// ([start_s, end_s)) with label rows.
//
// Count agreement: every file is cut into blocks of `block_s` (the last may be shorter; it
// counts when at least half a block long); in each, labelled coughs (a row's `coughs`, by
// its onset) and detected coughs (by onset) are counted; Pearson's r and Lin's concordance
// correlation coefficient are computed over all blocks of all files.
#include <string>
#include <vector>

namespace coughkit::monitoring {

struct LabelledEvent {
  std::string file;  // matched to reports by file name (the last path component)
  double onset_s = 0, offset_s = 0;
  int coughs = 1;
};

// CSV with a header naming at least file, onset_s, offset_s (optional: coughs); other
// columns are ignored. Throws InputError naming the line.
std::vector<LabelledEvent> read_labels_csv(const std::string& path);

struct Interval {
  double onset_s = 0, offset_s = 0;
};

struct FileForEvaluation {
  std::string file;
  double duration_s = 0;
  std::vector<Interval> detected;       // in the chosen unit
  std::vector<double> detected_onsets;  // every detected cough's onset (counts)
  std::vector<LabelledEvent> labels;
};

// One report line of `coughkit monitor --json` (or a --out report) in the chosen unit;
// throws InputError for a line that is not a report.
FileForEvaluation file_from_report(const std::string& json_line, const std::string& unit);

struct EvaluationOptions {
  std::string unit = "cough";  // or "event"
  double collar_s = 0.2;
  double offset_collar_fraction = 0.5;
  double block_s = 3600;
  void Validate() const;  // throws ConfigError
};

struct MatchScores {
  int true_positives = 0, false_positives = 0, false_negatives = 0;
  double sensitivity() const;  // TP / (TP + FN)
  double precision() const;    // TP / (TP + FP)
  double f1() const;
};

struct CountAgreement {
  std::vector<std::pair<int, int>> blocks;  // (labelled, detected) per block
  double pearson_r = 0, lins_ccc = 0;       // NaN when undefined (fewer than 2 blocks, no variance)
  double mean_abs_error = 0;
};

struct Evaluation {
  int files = 0;
  double hours = 0;
  MatchScores collar, overlap;
  double false_positives_per_hour() const { return hours > 0 ? collar.false_positives / hours : 0.0; }
  CountAgreement counts;
};

Evaluation evaluate(const std::vector<FileForEvaluation>& files, const EvaluationOptions& options);

// Maximum one-to-one matching: pairs (i, j) allowed where ok(i, j); returns its size.
int max_matching(int left, int right, const std::vector<std::vector<int>>& allowed);

std::string evaluation_json(const Evaluation& e, const EvaluationOptions& options);
std::string evaluation_table(const Evaluation& e, const EvaluationOptions& options);

}  // namespace coughkit::monitoring
