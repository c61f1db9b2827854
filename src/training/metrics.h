#pragma once
// Binary-classification metrics of `coughkit train` (docs/pipeline.md section 8), computed as
// scikit-learn computes them, without LibTorch. `labels` are 0/1 (any nonzero is positive),
// `scores` are bag probabilities (any monotone score works for the curves).
//
// Undefined values are NaN, never a made-up number: ROC-AUC needs both classes, average
// precision needs a positive (sklearn warns and returns 0 or nan there).
#include <span>
#include <vector>

namespace coughkit::training {

// Fraction of bags with (score > threshold) == label (docs/pipeline.md section 7's decision rule).
// NaN for an empty set.
double accuracy(std::span<const float> scores, std::span<const float> labels, double threshold = 0.5);

// Area under the ROC curve as sklearn.metrics.roc_auc_score: the trapezoid rule over the
// curve whose points are the distinct scores, so tied scores count half (equivalently the
// Mann-Whitney U statistic with average ranks). NaN unless both classes are present.
double roc_auc(std::span<const float> scores, std::span<const float> labels);

// Average precision as sklearn.metrics.average_precision_score: sum over the distinct
// scores, highest first, of (R_n - R_{n-1}) * P_n (no interpolation). NaN without positives.
double average_precision(std::span<const float> scores, std::span<const float> labels);

// The curves themselves, one point per distinct score (highest first) as sklearn's
// roc_curve (with the (0,0) start point) and precision_recall_curve (ordered by increasing
// recall, without sklearn's final (recall 0, precision 1) point). Empty when undefined.
struct Curve {
  std::vector<double> x, y;
};
Curve roc_curve(std::span<const float> scores, std::span<const float> labels);  // x = FPR, y = TPR
Curve precision_recall_curve(std::span<const float> scores,
                             std::span<const float> labels);  // x = recall, y = precision

// The decision threshold that maximises F1 for the rule score > threshold: each cut between
// two adjacent distinct scores is a candidate, the threshold being the midpoint of the two
// (half the lowest score for "all positive"). Ties in F1 go to the higher threshold (fewer
// false alarms). Returns `fallback` when F1 is undefined (no positives, empty set).
struct ThresholdChoice {
  double threshold = 0.0, f1 = 0.0, precision = 0.0, recall = 0.0;
  bool from_data = false;  // false: the fallback was used
};
ThresholdChoice best_f1_threshold(std::span<const float> scores, std::span<const float> labels, double fallback);

}  // namespace coughkit::training
