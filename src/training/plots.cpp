#include "training/plots.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace coughkit::training {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Tick positions at 1, 2 or 5 times a power of ten, about five over the range.
std::vector<double> ticks(double lo, double hi, double min_step = 0) {
  std::vector<double> out;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / 5.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  step = std::max(step, min_step);
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return out;
}

std::string tick_label(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

// One chart drawn in the box [x0, x0 + width) x [0, height).
std::string chart_body(const ChartSpec& c, double x0, int width, int height) {
  const double left = x0 + 62, right = x0 + width - 16, top = 36, bottom = height - 48.0;
  const double xr = c.x_max > c.x_min ? c.x_max - c.x_min : 1.0;
  const double yr = c.y_max > c.y_min ? c.y_max - c.y_min : 1.0;
  auto px = [&](double x) { return left + (x - c.x_min) / xr * (right - left); };
  auto py = [&](double y) { return bottom - (y - c.y_min) / yr * (bottom - top); };

  std::string s;
  s += fmt::format(
      "<text x=\"{:.1f}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
      (left + right) / 2, escape(c.title));
  // Grid and ticks.
  const auto xt = ticks(c.x_min, c.x_max, c.integer_x ? 1.0 : 0.0), yt = ticks(c.y_min, c.y_max);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1.0, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1.0;
  for (double v : xt) {
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e5e5e5\"/>\n", px(v),
                     top, bottom);
    s +=
        fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">{}</text>\n",
                    px(v), bottom + 16, tick_label(v, xstep));
  }
  for (double v : yt) {
    s += fmt::format("<line x1=\"{1:.1f}\" y1=\"{0:.1f}\" x2=\"{2:.1f}\" y2=\"{0:.1f}\" stroke=\"#e5e5e5\"/>\n", py(v),
                     left, right);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"11\" fill=\"#444\">{}</text>\n",
                     left - 6, py(v) + 4, tick_label(v, ystep));
  }
  s += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
      right - left, bottom - top);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
                   (left + right) / 2, static_cast<double>(height) - 12, escape(c.x_label));
  s += fmt::format(
      "<text x=\"{0:.1f}\" y=\"{1:.1f}\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 {0:.1f} "
      "{1:.1f})\">{2}</text>\n",
      x0 + 16, (top + bottom) / 2, escape(c.y_label));
  // Lines, each broken where y is NaN; a lone point gets a dot.
  for (const Series& line : c.series) {
    const std::string dash = line.dashed ? " stroke-dasharray=\"5,4\"" : "";
    std::vector<std::vector<std::pair<double, double>>> runs(1);
    for (std::size_t i = 0; i < line.x.size() && i < line.y.size(); ++i) {
      if (std::isfinite(line.x[i]) && std::isfinite(line.y[i])) {
        runs.back().emplace_back(px(line.x[i]), py(line.y[i]));
      } else if (!runs.back().empty()) {
        runs.emplace_back();
      }
    }
    for (const auto& run : runs) {
      if (run.size() == 1) {
        s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", run[0].first, run[0].second,
                         line.color);
      } else if (run.size() > 1) {
        std::string points;
        for (const auto& [x, y] : run) points += fmt::format("{:.1f},{:.1f} ", x, y);
        s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", points,
                         line.color, dash);
      }
    }
  }
  // Legend, bottom right inside the plot.
  double ly = bottom - 10 - 18.0 * static_cast<double>(c.series.size() - 1);
  for (const Series& line : c.series) {
    if (line.name.empty()) continue;
    s += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
        right - 190, ly - 4, right - 166, ly - 4, line.color, line.dashed ? " stroke-dasharray=\"5,4\"" : "");
    s +=
        fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\">{}</text>\n", right - 160, ly, escape(line.name));
    ly += 18;
  }
  return s;
}

}  // namespace

std::string render_charts_svg(const std::vector<ChartSpec>& charts, int width_each, int height) {
  const int width = width_each * static_cast<int>(std::max<std::size_t>(1, charts.size()));
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  for (std::size_t i = 0; i < charts.size(); ++i)
    s += chart_body(charts[i], static_cast<double>(i) * width_each, width_each, height);
  s += "</svg>\n";
  return s;
}

std::string render_chart_svg(const ChartSpec& chart, int width, int height) {
  return render_charts_svg({chart}, width, height);
}

std::string roc_svg(const std::string& split, const Curve& roc, double auc) {
  ChartSpec c{fmt::format("ROC, {}", split), "false positive rate", "true positive rate", 0, 1, 0, 1, {}, false};
  c.series.push_back({"chance", {0, 1}, {0, 1}, "#999999", true});
  if (roc.x.empty()) {
    c.title += " (undefined: one class)";
  } else {
    c.series.push_back({fmt::format("AUC = {:.4f}", auc), roc.x, roc.y, "#1f77b4", false});
  }
  return render_chart_svg(c);
}

std::string pr_svg(const std::string& split, const Curve& pr, double ap, double positive_rate) {
  ChartSpec c{fmt::format("Precision-recall, {}", split), "recall", "precision", 0, 1, 0, 1, {}, false};
  if (std::isfinite(positive_rate))
    c.series.push_back({"positive rate", {0, 1}, {positive_rate, positive_rate}, "#999999", true});
  if (pr.x.empty()) {
    c.title += " (undefined: no positives)";
  } else {
    // Step from recall 0 at the first precision, as the AP sum reads the curve.
    Series line{fmt::format("AP = {:.4f}", ap), {0.0}, {pr.y.front()}, "#d62728", false};
    for (std::size_t i = 0; i < pr.x.size(); ++i) {
      line.x.push_back(pr.x[i]);
      line.y.push_back(pr.y[i]);
    }
    c.series.push_back(std::move(line));
  }
  return render_chart_svg(c);
}

std::string training_curves_svg(const std::vector<double>& epochs, const std::vector<double>& train_loss,
                                const std::vector<double>& val_loss, const std::vector<double>& val_auc) {
  const double last = epochs.empty() ? 1.0 : std::max(epochs.back(), epochs.front() + 1.0);
  const double first = epochs.empty() ? 0.0 : epochs.front();
  double top = 0;
  for (const auto* v : {&train_loss, &val_loss}) {
    for (double x : *v) {
      if (std::isfinite(x)) top = std::max(top, x);
    }
  }
  ChartSpec loss{"Loss", "epoch", "BCE loss (pos_weight)", first, last, 0.0, top > 0 ? top * 1.1 : 1.0, {}, false};
  loss.integer_x = true;
  loss.series.push_back({"train", epochs, train_loss, "#1f77b4", false});
  loss.series.push_back({"validation", epochs, val_loss, "#ff7f0e", false});
  double lo = 0.5;
  for (double x : val_auc) {
    if (std::isfinite(x)) lo = std::min(lo, x);
  }
  ChartSpec auc{"Validation ROC-AUC", "epoch", "ROC-AUC", first, last, std::floor(lo * 10) / 10, 1.0, {}, false};
  auc.integer_x = true;
  auc.series.push_back({"validation AUC", epochs, val_auc, "#2ca02c", false});
  return render_charts_svg({loss, auc});
}

}  // namespace coughkit::training
