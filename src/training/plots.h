#pragma once
// The plots `coughkit train` leaves in its output directory, as small hand-written SVG
// files (no plotting library): ROC and precision-recall curves per split, and the training
// curves. No LibTorch.
#include <string>
#include <vector>

#include "training/metrics.h"

namespace coughkit::training {

struct Series {
  std::string name;
  std::vector<double> x, y;  // NaN y values break the line
  std::string color;         // CSS colour
  bool dashed = false;
};

struct ChartSpec {
  std::string title, x_label, y_label;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  std::vector<Series> series;
  bool integer_x = false;  // ticks at whole numbers only (epochs)
};

// One chart as an SVG document (width x height pixels).
std::string render_chart_svg(const ChartSpec& chart, int width = 480, int height = 400);
// Several charts side by side in one SVG.
std::string render_charts_svg(const std::vector<ChartSpec>& charts, int width_each = 480, int height = 400);

// ROC curve with its AUC and the chance diagonal; PR curve with its AP and the positive
// rate baseline. An undefined curve (one class) gives a chart that says so.
std::string roc_svg(const std::string& split, const Curve& roc, double auc);
std::string pr_svg(const std::string& split, const Curve& pr, double ap, double positive_rate);

// Train/val loss (left) and validation ROC-AUC (right) per epoch.
std::string training_curves_svg(const std::vector<double>& epochs, const std::vector<double>& train_loss,
                                const std::vector<double>& val_loss, const std::vector<double>& val_auc);

}  // namespace coughkit::training
