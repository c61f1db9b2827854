#include "training/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace coughkit::training {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_sizes(std::span<const float> scores, std::span<const float> labels) {
  if (scores.size() != labels.size()) throw std::invalid_argument("metrics: scores and labels differ in size");
}

// Cumulative true/false positives at each distinct score, highest score first: what
// sklearn's _binary_clf_curve returns (its `distinct_value_indices` + cumsum).
struct Cuts {
  std::vector<double> tps, fps, thresholds;
  double positives = 0, negatives = 0;
};

Cuts binary_cuts(std::span<const float> scores, std::span<const float> labels) {
  check_sizes(scores, labels);
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  Cuts c;
  double tp = 0, fp = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const bool positive = labels[order[i]] != 0.0f;
    (positive ? tp : fp) += 1;
    // A cut only after the last of a run of equal scores: ties move together.
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]]) {
      c.tps.push_back(tp);
      c.fps.push_back(fp);
      c.thresholds.push_back(scores[order[i]]);
    }
  }
  c.positives = tp;
  c.negatives = fp;
  return c;
}

}  // namespace

double accuracy(std::span<const float> scores, std::span<const float> labels, double threshold) {
  check_sizes(scores, labels);
  if (scores.empty()) return kNaN;
  std::size_t right = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) right += (scores[i] > threshold) == (labels[i] != 0.0f);
  return static_cast<double>(right) / static_cast<double>(scores.size());
}

Curve roc_curve(std::span<const float> scores, std::span<const float> labels) {
  const Cuts c = binary_cuts(scores, labels);
  Curve curve;
  if (c.positives == 0 || c.negatives == 0) return curve;
  curve.x.push_back(0.0);
  curve.y.push_back(0.0);
  for (std::size_t k = 0; k < c.tps.size(); ++k) {
    curve.x.push_back(c.fps[k] / c.negatives);
    curve.y.push_back(c.tps[k] / c.positives);
  }
  return curve;
}

double roc_auc(std::span<const float> scores, std::span<const float> labels) {
  const Curve c = roc_curve(scores, labels);
  if (c.x.empty()) return kNaN;
  double area = 0;
  for (std::size_t k = 1; k < c.x.size(); ++k) area += (c.x[k] - c.x[k - 1]) * (c.y[k] + c.y[k - 1]) / 2.0;
  return area;
}

Curve precision_recall_curve(std::span<const float> scores, std::span<const float> labels) {
  const Cuts c = binary_cuts(scores, labels);
  Curve curve;
  if (c.positives == 0) return curve;
  for (std::size_t k = 0; k < c.tps.size(); ++k) {
    curve.x.push_back(c.tps[k] / c.positives);
    curve.y.push_back(c.tps[k] / (c.tps[k] + c.fps[k]));
    if (c.tps[k] == c.positives) break;  // sklearn stops at full recall
  }
  return curve;
}

double average_precision(std::span<const float> scores, std::span<const float> labels) {
  const Curve c = precision_recall_curve(scores, labels);
  if (c.x.empty()) return kNaN;
  double ap = 0, previous_recall = 0;
  for (std::size_t k = 0; k < c.x.size(); ++k) {
    ap += (c.x[k] - previous_recall) * c.y[k];
    previous_recall = c.x[k];
  }
  return ap;
}

ThresholdChoice best_f1_threshold(std::span<const float> scores, std::span<const float> labels, double fallback) {
  const Cuts c = binary_cuts(scores, labels);
  ThresholdChoice best;
  best.threshold = fallback;
  if (c.positives == 0) return best;
  for (std::size_t k = 0; k < c.tps.size(); ++k) {
    const double tp = c.tps[k], fp = c.fps[k];
    const double f1 = 2 * tp / (tp + fp + c.positives);
    if (best.from_data && !(f1 > best.f1)) continue;  // ties keep the higher threshold
    const double here = c.thresholds[k];
    double threshold;
    if (k + 1 < c.tps.size()) {
      threshold = (here + c.thresholds[k + 1]) / 2.0;  // exactly between two floats
    } else {
      threshold = here > 0 ? here / 2.0 : here - 1e-6;  // everything positive
    }
    best = {threshold, f1, tp / (tp + fp), tp / c.positives, true};
  }
  return best;
}

}  // namespace coughkit::training
