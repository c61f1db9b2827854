// The monitor's arithmetic on known inputs: window starts (halves up), events from known
// tracks (merging, onsets, bouts), counts (hour boundaries, nights across midnight), clock
// parsing, shards, and evaluation metrics against hand-computed cases.
#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"
#include "monitoring/batch.h"
#include "monitoring/counts.h"
#include "monitoring/evaluation.h"
#include "monitoring/events.h"
#include "monitoring/window_plan.h"

namespace coughkit::monitoring {
namespace {

TEST(WindowPlan, StartsRoundHalvesUpAndCountWholeWindows) {
  const WindowPlan p11({2.0, 0.5}, 11025);
  EXPECT_EQ(p11.length(), 22050);
  EXPECT_EQ(p11.start(1), 5513);  // 5512.5 -> 5513
  EXPECT_EQ(p11.start(2), 11025);
  EXPECT_EQ(p11.start(3), 16538);  // 16537.5 -> 16538
  const WindowPlan p44({2.0, 0.5}, 44100);
  EXPECT_EQ(p44.start(7), 154350);
  EXPECT_EQ(p44.count(88200), 1);          // exactly one window
  EXPECT_EQ(p44.count(88200 + 22049), 1);  // the next does not fit yet
  EXPECT_EQ(p44.count(88200 + 22050), 2);
  EXPECT_EQ(p44.count(1000), 1);  // shorter than a window: one window
  EXPECT_EQ(p44.count(0), 0);
  const WindowPlan p10({10.0, 0.5}, 48000);
  EXPECT_EQ(p10.length(), 480000);
  EXPECT_EQ(p10.count(48000 * 60), 101);
  EXPECT_THROW(WindowOptions({1.0, 0.5}).Validate(), ConfigError);
  EXPECT_THROW(WindowOptions({2.0, 3.0}).Validate(), ConfigError);
  EXPECT_THROW(WindowOptions({2.0, 0.0000001}).Validate(), ConfigError);
}

// A 20-s track at hop 0.5 with a flat envelope except the given bursts (onset, dB above floor).
WindowTrack track_with(std::vector<float> probabilities, std::vector<std::pair<double, float>> bursts, double seconds) {
  WindowTrack t;
  t.windows = {2.0, 0.5};
  t.sample_rate = 16000;
  t.channels = 1;
  t.frames = static_cast<std::int64_t>(seconds * 16000);
  t.probabilities = std::move(probabilities);
  t.envelope_frame_s = 0.01;
  t.envelope_db.assign(static_cast<std::size_t>(seconds * 100), -60.0f);
  for (auto [onset, level] : bursts)
    for (int k = 0; k < 25; ++k)  // a 250-ms burst decaying 1 dB per frame
      t.envelope_db[static_cast<std::size_t>(std::lround(onset * 100)) + static_cast<std::size_t>(k)] =
          -60.0f + level - k;
  return t;
}

TEST(Events, RunsOfPositiveWindowsBecomeEventsWithCoughsAtTheOnsets) {
  // Windows 4-7 (2.0-5.5 s) positive around a burst at 4.0 s; windows 19-23 (those holding
  // either) around two bursts 0.5 s apart (11.0, 11.5 s); window 30 alone positive with no
  // burst in it.
  std::vector<float> p(33, 0.1f);
  for (int i : {4, 5, 6, 7}) p[static_cast<std::size_t>(i)] = 0.9f;
  for (int i : {19, 20, 21, 22, 23}) p[static_cast<std::size_t>(i)] = 0.8f;
  p[30] = 0.7f;
  const auto track = track_with(p, {{4.0, 40}, {11.0, 40}, {11.5, 38}}, 18.0);
  EventOptions o;
  o.threshold = 0.5f;
  const auto events = find_events(track, o);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_NEAR(events[0].start_s, 4.0, 1e-9);
  ASSERT_EQ(events[0].coughs.size(), 1u);
  EXPECT_FLOAT_EQ(events[0].peak_probability, 0.9f);
  ASSERT_EQ(events[1].coughs.size(), 2u);
  EXPECT_NEAR(events[1].coughs[0].onset_s, 11.0, 1e-9);
  EXPECT_NEAR(events[1].coughs[1].onset_s, 11.5, 1e-9);
  EXPECT_NEAR(events[1].coughs[0].offset_s, 11.2, 0.011);  // 20 dB below the peak
  ASSERT_EQ(events[2].coughs.size(), 1u);                  // no onset stands out: one cough over the event
  EXPECT_NEAR(events[2].coughs[0].onset_s, 15.0, 1e-9);
  // Bouts: the two coughs 0.5 s apart; 4.0 is 7 s before them and 15.0 3.5 s after.
  const auto bouts = find_bouts(events, 3.0);
  ASSERT_EQ(bouts.size(), 1u);
  EXPECT_EQ(bouts[0].coughs, 2);
  EXPECT_EQ(find_bouts(events, 4.0).size(), 1u);
  EXPECT_EQ(find_bouts(events, 4.0)[0].coughs, 3);
  // Merging: a one-window gap joins runs only when allowed.
  std::vector<float> q(20, 0.1f);
  for (int i : {4, 5, 7, 8}) q[static_cast<std::size_t>(i)] = 0.9f;
  const auto t2 = track_with(q, {{4.1, 40}, {5.6, 40}}, 12.0);
  EXPECT_EQ(find_events(t2, o).size(), 2u);
  o.merge_gap_s = 0.5;
  EXPECT_EQ(find_events(t2, o).size(), 1u);
  EXPECT_EQ(find_events(t2, o)[0].coughs.size(), 2u);
}

TEST(Counts, HoursNightsAndDays) {
  std::vector<Cough> coughs;
  for (double t : {10.0, 1800.0, 3599.0, 3601.0, 7300.0, 9000.0}) coughs.push_back({t, t + 0.3});
  // No start time: recording hours.
  auto c = count_coughs(coughs, 3.0 * 3600, std::nullopt, {});
  EXPECT_EQ(c.total, 6);
  ASSERT_EQ(c.hourly.size(), 3u);
  EXPECT_EQ(c.hourly[0].coughs, 3);
  EXPECT_EQ(c.hourly[1].coughs, 1);
  EXPECT_EQ(c.hourly[2].coughs, 2);
  EXPECT_DOUBLE_EQ(c.per_hour(), 2.0);
  EXPECT_FALSE(c.awake.has_value());
  // Start at 21:30: clock hours 21:30-22:00, 22:00-23:00, ...; night 22:00-07:00.
  const auto start = WallClock::parse("2026-12-01T21:30:00");
  c = count_coughs(coughs, 3.0 * 3600, start, NightWindow::parse("22:00-07:00"));
  ASSERT_EQ(c.hourly.size(), 4u);
  EXPECT_EQ(c.hourly[0].wall_start, "2026-12-01T21:30:00");
  EXPECT_DOUBLE_EQ(c.hourly[0].end_s, 1800.0);
  EXPECT_EQ(c.hourly[0].coughs, 1);  // 10 s
  EXPECT_EQ(c.hourly[1].coughs, 3);  // 1800, 3599, 3601 (22:00-23:00)
  ASSERT_TRUE(c.awake && c.asleep);
  EXPECT_NEAR(c.awake->hours, 0.5, 1e-9);
  EXPECT_NEAR(c.asleep->hours, 2.5, 1e-9);
  EXPECT_EQ(c.awake->coughs, 1);
  EXPECT_EQ(c.asleep->coughs, 5);
  // Across midnight and into the morning: 23:00 for 9 h, night ends 07:00.
  const auto late = WallClock::parse("2026-12-01T23:00:00+01:00");
  std::vector<Cough> morning = {{8.5 * 3600, 8.5 * 3600 + 0.3}, {1.0 * 3600, 1.0 * 3600 + 0.3}};  // 07:30 and 00:00
  c = count_coughs(morning, 9.0 * 3600, late, NightWindow::parse("22:00-07:00"));
  EXPECT_NEAR(c.asleep->hours, 8.0, 1e-9);
  EXPECT_NEAR(c.awake->hours, 1.0, 1e-9);
  EXPECT_EQ(c.asleep->coughs, 1);
  EXPECT_EQ(c.awake->coughs, 1);
  ASSERT_EQ(c.daily.size(), 2u);  // calendar days: until midnight, then the rest
  EXPECT_EQ(c.daily[1].wall_start, "2026-12-02T00:00:00+01:00");
}

TEST(WallClock, ParsesAndFormatsOffsets) {
  EXPECT_EQ(WallClock::parse("2026-12-01 22:30:00.5Z").format(1.5), "2026-12-01T22:30:02Z");
  EXPECT_EQ(WallClock::parse("2026-02-28T23:59:59-05:30").format(1), "2026-03-01T00:00:00-05:30");
  EXPECT_NEAR(WallClock::parse("2026-12-01T22:30:00").time_of_day(3600), 23.5 * 3600, 1e-9);
  for (const char* bad : {"yesterday", "2026-13-01T00:00:00", "2026-02-30T00:00:00", "2026-12-01T25:00:00"})
    EXPECT_THROW(WallClock::parse(bad), ConfigError) << bad;
  EXPECT_THROW(NightWindow::parse("22:00"), ConfigError);
  EXPECT_THROW(NightWindow::parse("07:00-07:00"), ConfigError);
  EXPECT_TRUE(NightWindow::parse("22:00-07:00").contains(3 * 3600));
  EXPECT_FALSE(NightWindow::parse("22:00-07:00").contains(12 * 3600));
  EXPECT_TRUE(NightWindow::parse("01:00-05:00").contains(2 * 3600));
}

TEST(Shard, EveryFileInExactlyOneShard) {
  std::vector<std::string> files;
  for (int i = 0; i < 200; ++i) files.push_back("night_" + std::to_string(i) + ".opus");
  for (int n : {1, 3, 7}) {
    std::vector<int> owners(files.size(), 0);
    for (int i = 1; i <= n; ++i) {
      const Shard s{i, n};
      for (std::size_t k = 0; k < files.size(); ++k) owners[k] += s.takes(files[k]) ? 1 : 0;
    }
    for (int o : owners) EXPECT_EQ(o, 1);
  }
  EXPECT_THROW(Shard::parse("0/3"), ConfigError);
  EXPECT_THROW(Shard::parse("4/3"), ConfigError);
  EXPECT_EQ(Shard::parse("2/3").index, 2);
  EXPECT_NE(report_name("a/x.wav"), report_name("b/x.wav"));
  EXPECT_EQ(report_name("a/x.wav").substr(0, 2), "x-");
}

TEST(Evaluation, CollarOverlapAndCountAgreementByHand) {
  FileForEvaluation f;
  f.file = "a.wav";
  f.duration_s = 7200;
  // Labels at 10, 20, 30, 4000 s (0.4 s long); detections: 10.1 (collar hit), 20.35
  // (overlap only: onset 0.35 off), 500 (false positive), 4000.0 (hit).
  for (double t : {10.0, 20.0, 30.0, 4000.0}) f.labels.push_back({"a.wav", t, t + 0.4, 1});
  for (double t : {10.1, 20.35, 500.0, 4000.0}) {
    f.detected.push_back({t, t + 0.4});
    f.detected_onsets.push_back(t);
  }
  const auto e = evaluate({f}, {});
  EXPECT_EQ(e.collar.true_positives, 2);
  EXPECT_EQ(e.collar.false_positives, 2);
  EXPECT_EQ(e.collar.false_negatives, 2);
  EXPECT_DOUBLE_EQ(e.collar.sensitivity(), 0.5);
  EXPECT_DOUBLE_EQ(e.collar.precision(), 0.5);
  EXPECT_DOUBLE_EQ(e.false_positives_per_hour(), 1.0);
  EXPECT_EQ(e.overlap.true_positives, 3);
  // Blocks of one hour: (3 labelled, 3 detected), (1, 1): perfect agreement.
  ASSERT_EQ(e.counts.blocks.size(), 2u);
  EXPECT_EQ(e.counts.blocks[0], std::make_pair(3, 3));
  EXPECT_NEAR(e.counts.pearson_r, 1.0, 1e-12);
  EXPECT_NEAR(e.counts.lins_ccc, 1.0, 1e-12);
  // Lin's CCC punishes a bias that Pearson ignores: detected = labelled + 2.
  FileForEvaluation g;
  g.file = "b.wav";
  g.duration_s = 3 * 3600;
  for (int h = 0; h < 3; ++h) {
    for (int k = 0; k <= h; ++k) g.labels.push_back({"b.wav", h * 3600.0 + 10 * k, h * 3600.0 + 10 * k + 0.3, 1});
    for (int k = 0; k < h + 3; ++k) g.detected_onsets.push_back(h * 3600.0 + 100 + k);
  }
  EvaluationOptions o;
  const auto biased = evaluate({g}, o);
  EXPECT_NEAR(biased.counts.pearson_r, 1.0, 1e-12);
  // x = 1,2,3; y = 3,4,5: s_xy = 2/3, s_x^2 = s_y^2 = 2/3, (mean diff)^2 = 4 -> 2*(2/3)/(4/3 + 4) = 0.25
  EXPECT_NEAR(biased.counts.lins_ccc, 0.25, 1e-12);
}

TEST(Evaluation, MaximumMatchingBeatsGreedy) {
  // Left 0 may take 0 or 1, left 1 only 0: a greedy pass giving 0->0 matches one; the maximum is two.
  EXPECT_EQ(max_matching(2, 2, {{0, 1}, {0}}), 2);
  EXPECT_EQ(max_matching(3, 1, {{0}, {0}, {0}}), 1);
  EXPECT_EQ(max_matching(0, 5, {}), 0);
}

}  // namespace
}  // namespace coughkit::monitoring
