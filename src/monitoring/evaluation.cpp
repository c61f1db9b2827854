#include "monitoring/evaluation.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_text.h"

namespace coughkit::monitoring {
namespace {

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r')
      cur += c;
  }
  out.push_back(cur);
  return out;
}

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

double pearson(const std::vector<std::pair<int, int>>& xy) {
  if (xy.size() < 2) return nan();
  double mx = 0, my = 0;
  for (auto [x, y] : xy) mx += x, my += y;
  mx /= static_cast<double>(xy.size());
  my /= static_cast<double>(xy.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (auto [x, y] : xy) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx), syy += (y - my) * (y - my);
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : nan();
}

// Lin (1989): 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2), population moments.
double lins_ccc(const std::vector<std::pair<int, int>>& xy) {
  if (xy.size() < 2) return nan();
  const double n = static_cast<double>(xy.size());
  double mx = 0, my = 0;
  for (auto [x, y] : xy) mx += x, my += y;
  mx /= n;
  my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (auto [x, y] : xy) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx), syy += (y - my) * (y - my);
  sxy /= n, sxx /= n, syy /= n;
  const double denom = sxx + syy + (mx - my) * (mx - my);
  return denom > 0 ? 2 * sxy / denom : nan();
}

nlohmann::ordered_json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::vector<LabelledEvent> read_labels_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the labels file");
  std::string line;
  if (!std::getline(in, line)) throw InputError(path + ": empty labels file (need a header: file,onset_s,offset_s)");
  if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
  const auto header = split_csv(line);
  auto col = [&](const char* name) -> int {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int f = col("file"), on = col("onset_s"), off = col("offset_s"), n = col("coughs");
  if (f < 0 || on < 0 || off < 0) throw InputError(path + ": the header must name file, onset_s and offset_s");
  std::vector<LabelledEvent> out;
  for (int lineno = 2; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto cells = split_csv(line);
    auto cell = [&](int i) -> const std::string& {
      if (i >= static_cast<int>(cells.size())) throw InputError(fmt::format("{}:{}: too few columns", path, lineno));
      return cells[static_cast<std::size_t>(i)];
    };
    LabelledEvent e;
    e.file = base_name(cell(f));
    try {
      e.onset_s = std::stod(cell(on));
      e.offset_s = std::stod(cell(off));
      if (n >= 0 && !cell(n).empty()) e.coughs = std::stoi(cell(n));
    } catch (const std::logic_error&) {
      throw InputError(fmt::format("{}:{}: onset_s, offset_s and coughs must be numbers: {}", path, lineno, line));
    }
    if (!std::isfinite(e.onset_s) || !std::isfinite(e.offset_s) || !(e.offset_s >= e.onset_s) || e.onset_s < 0 ||
        e.coughs < 0)
      throw InputError(fmt::format("{}:{}: need 0 <= onset_s <= offset_s and coughs >= 0: {}", path, lineno, line));
    out.push_back(std::move(e));
  }
  return out;
}

namespace {

// A report field read for evaluation: its absence or another type is the report's fault
// (InputError naming the field), never a JSON library exception.
const nlohmann::json& report_field(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key))
    throw InputError(fmt::format("monitor report: {} has no \"{}\"", where, key));
  return object[key];
}

double report_seconds(const nlohmann::json& value, const std::string& what) {
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0)
    throw InputError(fmt::format("monitor report: {} must be a number of seconds >= 0", what));
  return value.get<double>();
}

const nlohmann::json& report_array(const nlohmann::json& value, const std::string& what) {
  if (!value.is_array()) throw InputError(fmt::format("monitor report: {} must be an array", what));
  return value;
}

}  // namespace

FileForEvaluation file_from_report(const std::string& json_line, const std::string& unit) {
  const auto j = nlohmann::json::parse(json_line, nullptr, false);
  if (!j.is_object() || !j.contains("events") || !j.contains("file") || !j.contains("duration_s"))
    throw InputError("not a coughkit monitor report: " + json_line.substr(0, 80));
  FileForEvaluation f;
  if (!j["file"].is_string()) throw InputError("monitor report: \"file\" must be a string");
  f.file = base_name(j["file"].get<std::string>());
  f.duration_s = report_seconds(j["duration_s"], "duration_s");
  const auto& events = report_array(j["events"], "events");
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const std::string where = fmt::format("event {}", i);
    const auto& on = report_array(report_field(e, "cough_onsets_s", where), where + " cough_onsets_s");
    const auto& off =
        e.contains("cough_offsets_s") ? report_array(e["cough_offsets_s"], where + " cough_offsets_s") : on;
    if (off.size() != on.size())
      throw InputError(
          fmt::format("monitor report: {} has {} cough onsets and {} offsets", where, on.size(), off.size()));
    for (std::size_t k = 0; k < on.size(); ++k) {
      const double onset = report_seconds(on[k], where + " cough onset");
      const double offset = report_seconds(off[k], where + " cough offset");
      if (offset < onset)
        throw InputError(fmt::format("monitor report: {} has a cough ending before it starts", where));
      f.detected_onsets.push_back(onset);
      if (unit == "cough") f.detected.push_back({onset, offset});
    }
    if (unit == "event") {
      const double start = report_seconds(report_field(e, "start_s", where), where + " start_s");
      const double end = report_seconds(report_field(e, "end_s", where), where + " end_s");
      if (end < start) throw InputError(fmt::format("monitor report: {} ends before it starts", where));
      f.detected.push_back({start, end});
    }
  }
  return f;
}

void EvaluationOptions::Validate() const {
  if (unit != "cough" && unit != "event") throw ConfigError("--unit must be cough or event, got " + unit);
  if (!(collar_s >= 0 && collar_s <= 10))
    throw ConfigError(fmt::format("--collar must be in [0, 10] s, got {}", collar_s));
  if (!(offset_collar_fraction >= 0 && offset_collar_fraction <= 1))
    throw ConfigError("offset_collar_fraction must be in [0, 1]");
  if (!(block_s >= 1)) throw ConfigError(fmt::format("--block-seconds must be >= 1, got {}", block_s));
}

double MatchScores::sensitivity() const {
  const int d = true_positives + false_negatives;
  return d ? static_cast<double>(true_positives) / d : nan();
}
double MatchScores::precision() const {
  const int d = true_positives + false_positives;
  return d ? static_cast<double>(true_positives) / d : nan();
}
double MatchScores::f1() const {
  const int d = 2 * true_positives + false_positives + false_negatives;
  return d ? 2.0 * true_positives / d : nan();
}

int max_matching(int left, int right, const std::vector<std::vector<int>>& allowed) {
  // Kuhn's augmenting paths: each left node tries to take, or free up, a right node.
  std::vector<int> owner(static_cast<std::size_t>(right), -1);
  int matched = 0;
  for (int i = 0; i < left; ++i) {
    std::vector<char> seen(static_cast<std::size_t>(right), 0);
    std::function<bool(int)> take = [&](int u) {
      for (int v : allowed[static_cast<std::size_t>(u)]) {
        if (seen[static_cast<std::size_t>(v)]) continue;
        seen[static_cast<std::size_t>(v)] = 1;
        if (owner[static_cast<std::size_t>(v)] < 0 || take(owner[static_cast<std::size_t>(v)])) {
          owner[static_cast<std::size_t>(v)] = u;
          return true;
        }
      }
      return false;
    };
    if (take(i)) ++matched;
  }
  return matched;
}

Evaluation evaluate(const std::vector<FileForEvaluation>& files, const EvaluationOptions& o) {
  o.Validate();
  Evaluation ev;
  for (const auto& f : files) {
    ++ev.files;
    ev.hours += f.duration_s / 3600.0;
    const int nl = static_cast<int>(f.labels.size()), nd = static_cast<int>(f.detected.size());
    std::vector<std::vector<int>> collar(static_cast<std::size_t>(nl)), overlap(static_cast<std::size_t>(nl));
    for (int i = 0; i < nl; ++i) {
      const auto& l = f.labels[static_cast<std::size_t>(i)];
      const double offset_collar = std::max(o.collar_s, o.offset_collar_fraction * (l.offset_s - l.onset_s));
      for (int k = 0; k < nd; ++k) {
        const auto& d = f.detected[static_cast<std::size_t>(k)];
        if (std::abs(d.onset_s - l.onset_s) <= o.collar_s + 1e-9 &&
            std::abs(d.offset_s - l.offset_s) <= offset_collar + 1e-9)
          collar[static_cast<std::size_t>(i)].push_back(k);
        if (d.onset_s < l.offset_s && l.onset_s < d.offset_s) overlap[static_cast<std::size_t>(i)].push_back(k);
      }
    }
    for (auto [scores, allowed] : {std::pair{&ev.collar, &collar}, std::pair{&ev.overlap, &overlap}}) {
      const int tp = max_matching(nl, nd, *allowed);
      scores->true_positives += tp;
      scores->false_negatives += nl - tp;
      scores->false_positives += nd - tp;
    }
    // Counts per block.
    for (double a = 0; a < f.duration_s; a += o.block_s) {
      const double b = std::min(a + o.block_s, f.duration_s);
      if (b - a < o.block_s / 2 && a > 0) break;
      int labelled = 0, detected = 0;
      for (const auto& l : f.labels)
        if (l.onset_s >= a && l.onset_s < b) labelled += l.coughs;
      for (double t : f.detected_onsets)
        if (t >= a && t < b) ++detected;
      ev.counts.blocks.push_back({labelled, detected});
    }
  }
  ev.counts.pearson_r = pearson(ev.counts.blocks);
  ev.counts.lins_ccc = lins_ccc(ev.counts.blocks);
  double err = 0;
  for (auto [x, y] : ev.counts.blocks) err += std::abs(x - y);
  ev.counts.mean_abs_error = ev.counts.blocks.empty() ? 0 : err / static_cast<double>(ev.counts.blocks.size());
  return ev;
}

std::string evaluation_json(const Evaluation& e, const EvaluationOptions& o) {
  nlohmann::ordered_json j;
  j["files"] = e.files;
  j["hours"] = e.hours;
  j["unit"] = o.unit;
  j["collar_s"] = o.collar_s;
  for (auto [name, s] : {std::pair{"collar", &e.collar}, std::pair{"overlap", &e.overlap}}) {
    nlohmann::ordered_json m;
    m["true_positives"] = s->true_positives;
    m["false_positives"] = s->false_positives;
    m["false_negatives"] = s->false_negatives;
    m["sensitivity"] = number_or_null(s->sensitivity());
    m["precision"] = number_or_null(s->precision());
    m["f1"] = number_or_null(s->f1());
    m["false_positives_per_hour"] = e.hours > 0 ? s->false_positives / e.hours : 0.0;
    j[name] = std::move(m);
  }
  nlohmann::ordered_json c;
  c["block_s"] = o.block_s;
  c["blocks"] = e.counts.blocks.size();
  c["pearson_r"] = number_or_null(e.counts.pearson_r);
  c["lins_ccc"] = number_or_null(e.counts.lins_ccc);
  c["mean_abs_error"] = e.counts.mean_abs_error;
  auto pairs = nlohmann::ordered_json::array();
  for (auto [x, y] : e.counts.blocks) pairs.push_back({x, y});
  c["labelled_detected"] = std::move(pairs);
  j["counts"] = std::move(c);
  return json_text(j);
}

std::string evaluation_table(const Evaluation& e, const EvaluationOptions& o) {
  auto f3 = [](double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : std::string("-"); };
  std::string s = fmt::format("{} files, {:.2f} h, unit {}, onset collar {} s\n", e.files, e.hours, o.unit, o.collar_s);
  s += fmt::format("{:<9} {:>5} {:>5} {:>5} {:>11} {:>9} {:>6} {:>8}\n", "matching", "TP", "FP", "FN", "sensitivity",
                   "precision", "F1", "FP/hour");
  for (auto [name, m] : {std::pair{"collar", &e.collar}, std::pair{"overlap", &e.overlap}})
    s += fmt::format("{:<9} {:>5} {:>5} {:>5} {:>11} {:>9} {:>6} {:>8.2f}\n", name, m->true_positives,
                     m->false_positives, m->false_negatives, f3(m->sensitivity()), f3(m->precision()), f3(m->f1()),
                     e.hours > 0 ? m->false_positives / e.hours : 0.0);
  s += fmt::format("counts over {} blocks of {} s: Pearson r {}, Lin's CCC {}, mean |error| {:.2f}\n",
                   e.counts.blocks.size(), o.block_s, f3(e.counts.pearson_r), f3(e.counts.lins_ccc),
                   e.counts.mean_abs_error);
  return s;
}

}  // namespace coughkit::monitoring
