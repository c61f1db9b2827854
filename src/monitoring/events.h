#pragma once
// From a window track to cough events, individual coughs and bouts (docs/pipeline.md
// section 10).
//
//   1. A window is positive when its probability exceeds the threshold (the decision rule of
//      section 7). A run of consecutive positive windows, joined across at most
//      merge_gap_s of negative ones, is one event. Where the run's windows all overlap, the
//      cough must lie in their common part [last start, first end); a longer run (a bout,
//      or sustained coughing) spans [first start, last end). That span, widened by
//      search_margin_s on each side, is where the event's coughs are looked for.
//   2. Each cough is one explosive onset in the loudness envelope (10-ms frames of the mono
//      mix): the envelope rises by at least onset_rise_db within onset_window_s above its
//      minimum just before, at a level no more than onset_floor_db below the span's loudest
//      frame. A new onset needs refractory_s since the last one and a fall of at least
//      rearm_drop_db after the last one's peak (one cough's phases are not counted twice).
//      A cough ends where the envelope has fallen offset_drop_db below its peak, at the next
//      onset, or max_cough_s after its onset, whichever is first. An event in which no onset
//      stands out counts as one cough spanning the event.
//   3. Two or more consecutive coughs whose onsets are at most bout_gap_s apart form a bout.
// The event's start and end are its first cough's onset and last cough's end.
#include <cstdint>
#include <string>
#include <vector>

#include "monitoring/window_scorer.h"

namespace coughkit::monitoring {

struct EventOptions {
  float threshold = 0.5f;    // the model's own, unless the caller gives one
  double merge_gap_s = 0.0;  // negative windows tolerated inside an event
  double search_margin_s = 0.25;
  double onset_rise_db = 9.0;
  double onset_window_s = 0.05;
  double onset_floor_db = 30.0;
  double refractory_s = 0.2;
  double rearm_drop_db = 6.0;
  double offset_drop_db = 20.0;
  double max_cough_s = 0.8;
  double bout_gap_s = 3.0;

  void Validate() const;  // throws ConfigError naming the field
};

struct Cough {
  double onset_s = 0, offset_s = 0;
};

struct Event {
  double start_s = 0, end_s = 0;  // first onset, last cough's end
  std::int64_t first_window = 0, last_window = 0;
  float peak_probability = 0;
  std::vector<Cough> coughs;
};

struct Bout {
  double start_s = 0, end_s = 0;
  int coughs = 0;
};

std::vector<Event> find_events(const WindowTrack& track, const EventOptions& options);
// Every cough of `events`, in time order.
std::vector<Cough> all_coughs(const std::vector<Event>& events);
std::vector<Bout> find_bouts(const std::vector<Event>& events, double bout_gap_s);

}  // namespace coughkit::monitoring
