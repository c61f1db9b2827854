#pragma once
// Cough counts over time, as cough monitors and trials report them (docs/pipeline.md
// section 10): in total and per hour of the recording, per clock hour and awake/asleep when
// the recording's start is known, and per 24 h.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "monitoring/events.h"

namespace coughkit::monitoring {

// When the recording started, on the clock its hours and nights are read on: seconds since
// the epoch of that clock reading, and its offset from UTC as written.
struct WallClock {
  std::int64_t seconds = 0;         // the clock reading as seconds since 1970-01-01 00:00 (of that clock)
  double fraction = 0;              // sub-second part
  std::optional<int> utc_offset_s;  // as written ("Z" = 0); nullopt: a local time without offset

  // "2026-12-01T22:30:00", "2026-12-01 22:30:00.5", "2026-12-01T22:30:00Z", "...+01:00".
  // Throws ConfigError naming `what` for anything else.
  static WallClock parse(const std::string& text, const std::string& what = "--start-time");
  // The reading `offset_s` later, in the same notation ("2026-12-01T23:30:00+01:00").
  std::string format(double offset_s) const;
  // Seconds since the clock's midnight at `offset_s` into the recording.
  double time_of_day(double offset_s) const;
};

// Asleep between two clock times, across midnight when start > end ("22:00-07:00").
struct NightWindow {
  int start_min = 22 * 60, end_min = 7 * 60;
  static NightWindow parse(const std::string& text);  // "HH:MM-HH:MM"; throws ConfigError
  std::string ToString() const;
  bool contains(double seconds_of_day) const;
};

struct CountBin {
  double start_s = 0, end_s = 0;  // into the recording
  std::string wall_start;         // when the start time is known, else ""
  int coughs = 0;
};

struct PeriodCount {
  double hours = 0;
  int coughs = 0;
  double per_hour() const { return hours > 0 ? coughs / hours : 0.0; }
};

struct CoughCounts {
  int total = 0;
  double hours = 0;
  double per_hour() const { return hours > 0 ? total / hours : 0.0; }
  double per_24h() const { return per_hour() * 24.0; }
  // Hours of the recording, or clock hours (the first partial) when the start is known.
  std::vector<CountBin> hourly;
  // Days (24 h from the start, or calendar days when the start is known).
  std::vector<CountBin> daily;
  std::optional<PeriodCount> awake, asleep;  // when the start time is known
};

// Coughs are counted by onset.
CoughCounts count_coughs(const std::vector<Cough>& coughs, double duration_s, const std::optional<WallClock>& start,
                         const NightWindow& night);

}  // namespace coughkit::monitoring
