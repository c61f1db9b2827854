#include "monitoring/events.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::monitoring {
namespace {

// A run of positive windows, inclusive.
struct Run {
  std::int64_t first = 0, last = 0;
};

std::vector<Run> positive_runs(const WindowTrack& track, const EventOptions& o) {
  const auto& p = track.probabilities;
  const auto gap_windows = static_cast<std::int64_t>(std::floor(o.merge_gap_s / track.windows.hop_s + 1e-9));
  std::vector<Run> runs;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(p.size()); ++i) {
    if (!(p[static_cast<std::size_t>(i)] > o.threshold)) continue;
    if (!runs.empty() && i - runs.back().last - 1 <= gap_windows)
      runs.back().last = i;
    else
      runs.push_back({i, i});
  }
  return runs;
}

// Onsets within envelope frames [from, to), per the rule in events.h.
std::vector<Cough> coughs_in(const WindowTrack& track, const EventOptions& o, std::int64_t from, std::int64_t to) {
  const auto& e = track.envelope_db;
  const double dt = track.envelope_frame_s;
  from = std::max<std::int64_t>(from, 0);
  to = std::min<std::int64_t>(to, static_cast<std::int64_t>(e.size()));
  std::vector<Cough> out;
  if (to <= from) return out;
  const float loudest = *std::max_element(e.begin() + from, e.begin() + to);
  const auto look_back = std::max<std::int64_t>(1, std::llround(o.onset_window_s / dt));
  const auto refractory = std::llround(o.refractory_s / dt);
  const auto max_len = std::max<std::int64_t>(1, std::llround(o.max_cough_s / dt));
  std::int64_t last_onset = -1'000'000'000;
  float peak_since_onset = -1e30f;
  bool armed = true;
  for (std::int64_t k = from; k < to; ++k) {
    const float v = e[static_cast<std::size_t>(k)];
    if (!armed) {
      peak_since_onset = std::max(peak_since_onset, v);
      if (v <= peak_since_onset - o.rearm_drop_db) armed = true;
    }
    if (!armed || k - last_onset < refractory || v < loudest - o.onset_floor_db) continue;
    const std::int64_t b0 = std::max<std::int64_t>(0, k - look_back);
    if (b0 >= k) continue;
    const float before = *std::min_element(e.begin() + b0, e.begin() + k);
    if (v - before < o.onset_rise_db) continue;
    out.push_back({k * dt, 0});
    last_onset = k;
    peak_since_onset = v;
    armed = false;
  }
  // Ends: offset_drop_db below the peak after the onset, the next onset, or max_cough_s.
  for (std::size_t c = 0; c < out.size(); ++c) {
    const auto k0 = std::llround(out[c].onset_s / dt);
    std::int64_t limit = std::min<std::int64_t>(static_cast<std::int64_t>(e.size()), k0 + max_len);
    if (c + 1 < out.size()) limit = std::min<std::int64_t>(limit, std::llround(out[c + 1].onset_s / dt));
    float peak = e[static_cast<std::size_t>(k0)];
    std::int64_t end = limit;
    for (std::int64_t k = k0 + 1; k < limit; ++k) {
      const float v = e[static_cast<std::size_t>(k)];
      peak = std::max(peak, v);
      if (v < peak - o.offset_drop_db) {
        end = k;
        break;
      }
    }
    out[c].offset_s = end * dt;
  }
  return out;
}

}  // namespace

void EventOptions::Validate() const {
  auto check = [](bool ok, const char* field, double v) {
    if (!ok) throw ConfigError(fmt::format("{} is out of range: {}", field, v));
  };
  check(threshold >= 0 && threshold <= 1, "threshold", threshold);
  check(merge_gap_s >= 0 && merge_gap_s <= 60, "--merge-gap", merge_gap_s);
  check(search_margin_s >= 0 && search_margin_s <= 5, "search_margin_s", search_margin_s);
  check(onset_rise_db > 0, "onset_rise_db", onset_rise_db);
  check(onset_window_s > 0 && onset_window_s <= 1, "onset_window_s", onset_window_s);
  check(onset_floor_db > 0, "onset_floor_db", onset_floor_db);
  check(refractory_s >= 0 && refractory_s <= 5, "refractory_s", refractory_s);
  check(rearm_drop_db >= 0, "rearm_drop_db", rearm_drop_db);
  check(offset_drop_db > 0, "offset_drop_db", offset_drop_db);
  check(max_cough_s > 0 && max_cough_s <= 10, "max_cough_s", max_cough_s);
  check(bout_gap_s >= 0 && bout_gap_s <= 600, "--bout-gap", bout_gap_s);
}

std::vector<Event> find_events(const WindowTrack& track, const EventOptions& o) {
  o.Validate();
  const double hop = track.windows.hop_s;
  // A recording shorter than a window is one window that long.
  const double window = std::min(track.windows.window_s, track.duration_s());
  const double dt = track.envelope_frame_s;
  std::vector<Event> events;
  for (const Run& r : positive_runs(track, o)) {
    Event ev;
    ev.first_window = r.first;
    ev.last_window = r.last;
    for (std::int64_t i = r.first; i <= r.last; ++i)
      ev.peak_probability = std::max(ev.peak_probability, track.probabilities[static_cast<std::size_t>(i)]);
    // Where the cough can be: the windows' common part, else their union.
    double a = r.last * hop, b = r.first * hop + window;
    if (!(a < b)) {
      a = r.first * hop;
      b = r.last * hop + window;
    }
    const auto from = static_cast<std::int64_t>(std::floor((a - o.search_margin_s) / dt));
    const auto to = static_cast<std::int64_t>(std::ceil((b + o.search_margin_s) / dt));
    ev.coughs = coughs_in(track, o, from, to);
    if (ev.coughs.empty()) ev.coughs.push_back({a, std::min(b, std::max(a + dt, track.duration_s()))});
    ev.start_s = ev.coughs.front().onset_s;
    ev.end_s = ev.coughs.back().offset_s;
    // Spans of neighbouring runs can overlap: a cough belongs to the earlier event only.
    if (!events.empty()) {
      auto& prev = events.back();
      std::erase_if(ev.coughs, [&](const Cough& c) { return c.onset_s <= prev.coughs.back().onset_s; });
      if (ev.coughs.empty()) {
        prev.last_window = r.last;
        prev.peak_probability = std::max(prev.peak_probability, ev.peak_probability);
        continue;
      }
      ev.start_s = ev.coughs.front().onset_s;
    }
    events.push_back(std::move(ev));
  }
  return events;
}

std::vector<Cough> all_coughs(const std::vector<Event>& events) {
  std::vector<Cough> out;
  for (const auto& e : events) out.insert(out.end(), e.coughs.begin(), e.coughs.end());
  return out;
}

std::vector<Bout> find_bouts(const std::vector<Event>& events, double bout_gap_s) {
  std::vector<Bout> groups;
  double last_onset = 0;
  for (const Cough& c : all_coughs(events)) {
    if (!groups.empty() && c.onset_s - last_onset <= bout_gap_s) {
      groups.back().end_s = c.offset_s;
      ++groups.back().coughs;
    } else {
      groups.push_back({c.onset_s, c.offset_s, 1});
    }
    last_onset = c.onset_s;
  }
  std::erase_if(groups, [](const Bout& b) { return b.coughs < 2; });  // a bout is two coughs or more
  return groups;
}

}  // namespace coughkit::monitoring
