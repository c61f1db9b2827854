#include "monitoring/report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/float_text.h"
#include "common/json_text.h"

namespace coughkit::monitoring {
namespace {

using nlohmann::ordered_json;

// Seconds rounded to the millisecond (times), to keep reports short and stable.
double ms(double s) { return std::round(s * 1000.0) / 1000.0; }
double rate(double v) { return std::round(v * 1000.0) / 1000.0; }

ordered_json bin_json(const CountBin& b) {
  ordered_json j;
  j["start_s"] = ms(b.start_s);
  j["end_s"] = ms(b.end_s);
  if (!b.wall_start.empty()) j["wall_start"] = b.wall_start;
  j["coughs"] = b.coughs;
  return j;
}

ordered_json period_json(const std::optional<PeriodCount>& p) {
  if (!p) return nullptr;
  return {{"hours", rate(p->hours)}, {"coughs", p->coughs}, {"per_hour", rate(p->per_hour())}};
}

std::string clock_label(const MonitorReport& r, double t) {
  if (r.settings.start) return r.settings.start->format(t).substr(11, 5);  // HH:MM
  const auto s = static_cast<long long>(std::llround(t));
  return r.track.duration_s() >= 3600 ? fmt::format("{}:{:02d}", s / 3600, (s / 60) % 60)
                                      : fmt::format("{}:{:02d}", s / 60, s % 60);
}

}  // namespace

std::string MonitorSettings::ToString() const {
  return fmt::format("model={} window_s={} hop_s={} threshold={} merge_gap_s={} bout_gap_s={} night={} start={}", model,
                     windows.window_s, windows.hop_s, shortest(events.threshold), events.merge_gap_s, events.bout_gap_s,
                     night.ToString(), start ? start->format(0) : "unknown");
}

MonitorReport analyse(std::string file, WindowTrack track, const MonitorSettings& settings) {
  MonitorReport r;
  r.file = std::move(file);
  r.settings = settings;
  r.track = std::move(track);
  r.events = find_events(r.track, settings.events);
  r.bouts = find_bouts(r.events, settings.events.bout_gap_s);
  r.counts = count_coughs(all_coughs(r.events), r.track.duration_s(), settings.start, settings.night);
  return r;
}

std::string report_json(const MonitorReport& r, bool with_track) {
  const auto& t = r.track;
  ordered_json j;
  j["file"] = r.file;
  j["duration_s"] = ms(t.duration_s());
  j["sample_rate"] = t.sample_rate;
  j["channels"] = t.channels;
  j["codec"] = t.codec;
  j["window_s"] = t.windows.window_s;
  j["hop_s"] = t.windows.hop_s;
  j["windows"] = t.probabilities.size();
  j["threshold"] = shortest(r.settings.events.threshold);
  j["threshold_source"] = r.settings.threshold_source;
  j["start_time"] = r.settings.start ? ordered_json(r.settings.start->format(0)) : ordered_json(nullptr);
  j["start_time_source"] =
      r.settings.start_source.empty() ? ordered_json(nullptr) : ordered_json(r.settings.start_source);
  j["night"] = r.settings.night.ToString();
  auto events = ordered_json::array();
  for (const auto& e : r.events) {
    ordered_json ev;
    ev["start_s"] = ms(e.start_s);
    ev["end_s"] = ms(e.end_s);
    if (r.settings.start) ev["wall_start"] = r.settings.start->format(e.start_s);
    ev["peak_probability"] = shortest(e.peak_probability);
    ev["coughs"] = e.coughs.size();
    auto onsets = ordered_json::array(), offsets = ordered_json::array();
    for (const auto& c : e.coughs) {
      onsets.push_back(ms(c.onset_s));
      offsets.push_back(ms(c.offset_s));
    }
    ev["cough_onsets_s"] = std::move(onsets);
    ev["cough_offsets_s"] = std::move(offsets);
    events.push_back(std::move(ev));
  }
  j["events"] = std::move(events);
  j["cough_count"] = r.counts.total;
  j["coughs_per_hour"] = rate(r.counts.per_hour());
  j["coughs_per_24h"] = rate(r.counts.per_24h());
  auto hourly = ordered_json::array(), daily = ordered_json::array();
  for (const auto& b : r.counts.hourly) hourly.push_back(bin_json(b));
  for (const auto& b : r.counts.daily) daily.push_back(bin_json(b));
  j["hourly"] = std::move(hourly);
  j["daily"] = std::move(daily);
  auto bouts = ordered_json::array();
  for (const auto& b : r.bouts)
    bouts.push_back({{"start_s", ms(b.start_s)}, {"end_s", ms(b.end_s)}, {"coughs", b.coughs}});
  j["bout_count"] = r.bouts.size();
  j["bouts"] = std::move(bouts);
  j["awake"] = period_json(r.counts.awake);
  j["asleep"] = period_json(r.counts.asleep);
  j["processing_s"] = ms(r.processing_s);
  j["realtime_factor"] = r.processing_s > 0 ? rate(t.duration_s() / r.processing_s) : 0.0;
  j["settings"] = r.settings.ToString();
  if (with_track) {
    ordered_json track;
    track["hop_s"] = t.windows.hop_s;
    track["window_s"] = t.windows.window_s;
    track["probabilities"] = shortest(t.probabilities);
    j["track"] = std::move(track);
  }
  return json_text(j);
}

std::string settings_of_report_json(const std::string& line) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("settings") || !j["settings"].is_string()) return "";
  return j["settings"].get<std::string>();
}

std::string events_csv(const MonitorReport& r) {
  std::string out = "file,event,start_s,end_s,wall_start,peak_probability,coughs,cough_onsets_s\n";
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    const auto& e = r.events[i];
    std::string onsets;
    for (const auto& c : e.coughs) onsets += (onsets.empty() ? "" : " ") + fmt::format("{:.3f}", c.onset_s);
    out += fmt::format("\"{}\",{},{:.3f},{:.3f},{},{},{},{}\n", r.file, i + 1, e.start_s, e.end_s,
                       r.settings.start ? r.settings.start->format(e.start_s) : "", shortest(e.peak_probability),
                       e.coughs.size(), onsets);
  }
  return out;
}

std::string hourly_csv(const MonitorReport& r) {
  std::string out = "file,hour,start_s,end_s,wall_start,coughs,coughs_per_hour\n";
  for (std::size_t i = 0; i < r.counts.hourly.size(); ++i) {
    const auto& b = r.counts.hourly[i];
    const double hours = (b.end_s - b.start_s) / 3600.0;
    out += fmt::format("\"{}\",{},{:.3f},{:.3f},{},{},{:.3f}\n", r.file, i + 1, b.start_s, b.end_s, b.wall_start,
                       b.coughs, hours > 0 ? b.coughs / hours : 0.0);
  }
  return out;
}

std::string timeline_svg(const MonitorReport& r) {
  const double W = 1100, L = 60, R = 20, plot_w = W - L - R;
  const double top = 40, track_h = 180, gap = 50, bars_h = 110, H = top + track_h + gap + bars_h + 40;
  const double duration = std::max(r.track.duration_s(), 1e-3);
  auto x = [&](double t) { return L + plot_w * std::clamp(t / duration, 0.0, 1.0); };
  auto y = [&](double p) { return top + track_h * (1.0 - std::clamp(p, 0.0, 1.0)); };
  std::string s = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}" font-family="sans-serif" font-size="12">)"
      "\n",
      W, H, W, H);
  s += R"(<rect width="100%" height="100%" fill="#ffffff"/>)"
       "\n";
  s += fmt::format(
      R"(<text x="{:.0f}" y="20" font-size="14" font-weight="bold">{} — {} coughs in {} events, {:.1f} per hour</text>)"
      "\n",
      L, r.file.substr(r.file.find_last_of('/') == std::string::npos ? 0 : r.file.find_last_of('/') + 1),
      r.counts.total, r.events.size(), r.counts.per_hour());
  // Track panel: axes, gridlines, threshold.
  s += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#f8fafc" stroke="#d0d5dd"/>)"
                   "\n",
                   L, top, plot_w, track_h);
  for (double p : {0.0, 0.5, 1.0})
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" fill="#667085">{}</text>)"
                     "\n",
                     L - 6, y(p) + 4, p);
  s += fmt::format(
      R"svg(<text x="14" y="{:.1f}" transform="rotate(-90 14 {:.1f})" text-anchor="middle" fill="#667085">probability</text>)svg"
      "\n",
      top + track_h / 2, top + track_h / 2);
  // Events as bands behind the track.
  for (const auto& e : r.events) {
    const double x0 = x(e.start_s), x1 = std::max(x(e.end_s), x0 + 1.5);
    s += fmt::format(
        R"(<rect class="event" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#b42318" fill-opacity="0.25"/>)"
        "\n",
        x0, top, x1 - x0, track_h);
  }
  // The track: the highest probability per pixel column (peaks stay visible on long recordings).
  const auto& p = r.track.probabilities;
  const double hop = r.track.windows.hop_s, win = std::min(r.track.windows.window_s, duration);
  const int columns = static_cast<int>(plot_w);
  std::vector<float> col(static_cast<std::size_t>(columns), -1.0f);
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double centre = i * hop + win / 2;
    const int c = std::clamp(static_cast<int>((x(centre) - L)), 0, columns - 1);
    col[static_cast<std::size_t>(c)] = std::max(col[static_cast<std::size_t>(c)], p[i]);
  }
  std::string points;
  for (int c = 0; c < columns; ++c)
    if (col[static_cast<std::size_t>(c)] >= 0)
      points += fmt::format("{:.1f},{:.1f} ", L + c + 0.5, y(col[static_cast<std::size_t>(c)]));
  s += fmt::format(R"(<polyline class="track" points="{}" fill="none" stroke="#2563eb" stroke-width="1.2"/>)"
                   "\n",
                   points);
  const double thr = r.settings.events.threshold;
  s += fmt::format(R"(<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#b42318" stroke-dasharray="6 4"/>)"
                   "\n",
                   L, L + plot_w, y(thr), y(thr));
  s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" fill="#b42318">threshold {}</text>)"
                   "\n",
                   L + plot_w - 4, y(thr) - 5, shortest(static_cast<float>(thr)));
  // Coughs per hour.
  const double bars_top = top + track_h + gap;
  int most = 1;
  for (const auto& b : r.counts.hourly) most = std::max(most, b.coughs);
  s += fmt::format(R"(<text x="{:.0f}" y="{:.1f}" fill="#667085">coughs per hour (most: {})</text>)"
                   "\n",
                   L, bars_top - 8, most);
  for (const auto& b : r.counts.hourly) {
    const double h = bars_h * b.coughs / most, x0 = x(b.start_s), x1 = x(b.end_s);
    s += fmt::format(
        R"(<rect class="hour" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#067647" fill-opacity="0.7"/>)"
        "\n",
        x0 + 1, bars_top + bars_h - h, std::max(x1 - x0 - 2, 1.0), h);
    if (b.coughs > 0)
      s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" fill="#1d2330">{}</text>)"
                       "\n",
                       (x0 + x1) / 2, bars_top + bars_h - h - 3, b.coughs);
  }
  s += fmt::format(R"(<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#d0d5dd"/>)"
                   "\n",
                   L, L + plot_w, bars_top + bars_h, bars_top + bars_h);
  // Time axis: about eight labelled ticks.
  const double steps[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400};
  double step = steps[0];
  for (double st : steps)
    if (duration / st <= 8) {
      step = st;
      break;
    }
  for (double t = 0; t <= duration + 1e-9; t += step) {
    s += fmt::format(R"(<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#d0d5dd"/>)"
                     "\n",
                     x(t), x(t), top, bars_top + bars_h + 4);
    s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" fill="#667085">{}</text>)"
                     "\n",
                     x(t), bars_top + bars_h + 18, clock_label(r, t));
  }
  s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" fill="#667085">{}</text>)"
                   "\n",
                   L + plot_w / 2, H - 6, r.settings.start ? "clock time" : "time into the recording");
  s += "</svg>\n";
  return s;
}

}  // namespace coughkit::monitoring
