#pragma once
// A monitored recording's report: the settings it was made with, its window track, events,
// coughs, bouts and counts, and its forms: one JSON line (`coughkit monitor --json`,
// `GET /v1/jobs/{id}`), CSV tables and an SVG timeline.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "monitoring/counts.h"
#include "monitoring/events.h"
#include "monitoring/window_scorer.h"

namespace coughkit::monitoring {

struct MonitorSettings {
  std::string model;  // the model file's name, for the record
  WindowOptions windows{};
  EventOptions events{};                   // events.threshold: the decision threshold
  std::string threshold_source = "model";  // "model" (its own, docs/pipeline.md section 7) or "flag"
  NightWindow night{};
  std::optional<WallClock> start;  // recording start, when known
  std::string start_source;        // "flag", "metadata" or "" (unknown)

  // One line naming everything that changes a report (a rerun reuses a report only when equal).
  std::string ToString() const;
};

struct MonitorReport {
  std::string file;
  MonitorSettings settings;
  WindowTrack track;
  std::vector<Event> events;
  std::vector<Bout> bouts;
  CoughCounts counts;
  double processing_s = 0;  // wall time spent scoring
};

// Events, bouts and counts of a scored track.
MonitorReport analyse(std::string file, WindowTrack track, const MonitorSettings& settings);

// One line of JSON: file, duration_s, sample_rate, channels, codec, window_s, hop_s, windows,
// threshold, threshold_source, start_time, night, events (start_s, end_s, peak_probability,
// coughs, cough_onsets_s, cough_offsets_s, wall_start), cough_count, coughs_per_hour, coughs_per_24h, hourly,
// daily (start_s, end_s, wall_start, coughs), bouts (start_s, end_s, coughs), bout_count,
// awake and asleep (hours, coughs, per_hour; null when the start is unknown), processing_s,
// realtime_factor, settings, and with `with_track` track (hop_s, window_s, probabilities).
std::string report_json(const MonitorReport& report, bool with_track);
// The `settings` field of a report line ("" when absent or not a report).
std::string settings_of_report_json(const std::string& line);

// CSV tables: one row per cough event / per hour.
std::string events_csv(const MonitorReport& report);
std::string hourly_csv(const MonitorReport& report);

// A timeline a person can read: probability track with threshold and events above, coughs per
// hour below, time along the bottom (clock time when the start is known).
std::string timeline_svg(const MonitorReport& report);

}  // namespace coughkit::monitoring
