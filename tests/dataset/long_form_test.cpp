// The long-form benchmark set (src/dataset/long_form.h) on synthetic sources: cutting coughs
// at their pauses, the placement rules, truth exactly where the cough signal is, a floor that
// drifts, silences, determinism and independence from the chunk size, the streaming WAV.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numbers>
#include <set>

#include <gtest/gtest.h>

#include "audio/decoder.h"
#include "common/error.h"
#include "dataset/long_form.h"
#include "dataset/mixing.h"
#include "dataset/output_files.h"
#include "dataset/rng.h"
#include "monitoring/evaluation.h"
#include "support/test_data.h"

namespace coughkit::dataset {
namespace {

namespace fs = std::filesystem;

// A decaying noise burst of `ms` milliseconds at `amp`.
std::vector<float> burst(double ms, double amp, Rng& rng) {
  const auto n = static_cast<std::size_t>(ms * kMixRate / 1000);
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(amp * std::exp(-3.0 * static_cast<double>(i) / static_cast<double>(n)) * rng.normal());
  return x;
}

void append(std::vector<float>& x, const std::vector<float>& y) { x.insert(x.end(), y.begin(), y.end()); }
void append_silence(std::vector<float>& x, double ms) {
  x.resize(x.size() + static_cast<std::size_t>(ms * kMixRate / 1000), 0.0f);
}

SourceClip clip(const std::string& id, SourceKind kind, Split split, std::vector<float> samples) {
  SourceClip c;
  c.id = id;
  c.kind = kind;
  c.split = split;
  c.sha256 = id;
  float peak = 0;
  for (float v : samples) peak = std::max(peak, std::fabs(v));
  for (float& v : samples) v /= peak;
  c.samples = std::move(samples);
  return c;
}

// Sources of all three splits; the test split has one two-cough source, grunts, voices and speech.
std::vector<SourceClip> synthetic_clips() {
  Rng rng(7);
  std::vector<SourceClip> clips;
  std::vector<float> two_coughs = burst(150, 1.0, rng);
  append_silence(two_coughs, 80);
  append(two_coughs, burst(160, 0.8, rng));
  clips.push_back(clip("hw:Default_ru/PoisonCough", SourceKind::kCough, Split::kTest, two_coughs));
  clips.push_back(clip("hw:Default/PoisonCough", SourceKind::kCough, Split::kTrain, burst(300, 1, rng)));
  clips.push_back(clip("hw:Pirate/PoisonCough", SourceKind::kCough, Split::kVal, burst(300, 1, rng)));
  for (const char* name : {"Ow1", "Ooff2", "Laugh", "PoisonMoan"})
    clips.push_back(clip(std::string("hw:Default_ru/") + name, SourceKind::kVoice, Split::kTest, burst(400, 1, rng)));
  for (const char* name : {"Hello", "Incoming", "Victory"})
    clips.push_back(clip(std::string("hw:Default_ru/") + name, SourceKind::kVoice, Split::kTest, burst(900, 1, rng)));
  clips.push_back(clip("hw:Default/Hello", SourceKind::kVoice, Split::kTrain, burst(900, 1, rng)));
  for (int i = 0; i < 3; ++i)
    clips.push_back(clip("espeak:000" + std::to_string(i), SourceKind::kSpeech, Split::kTest, burst(2000, 1, rng)));
  clips.push_back(clip("espeak:0009", SourceKind::kSpeech, Split::kTrain, burst(2000, 1, rng)));
  return clips;
}

std::vector<float> render(const LongFormPlan& plan, const LongFormPool& pool, std::uint64_t seed, std::size_t chunk,
                          RenderParts parts = RenderParts::kAll) {
  std::vector<float> out;
  render_long_form(
      plan, pool, LongFormParams{}, seed, chunk,
      [&](std::span<const float> c) { out.insert(out.end(), c.begin(), c.end()); }, parts);
  return out;
}

double db_power(std::span<const float> x) { return 10.0 * std::log10(mean_power(x) + 1e-30); }

class LongForm : public ::testing::Test {
 protected:
  std::vector<SourceClip> clips = synthetic_clips();
  LongFormPool pool = make_long_form_pool(clips, Split::kTest);
};

// Steady noise of `ms` milliseconds: every 10-ms frame of it is loud.
std::vector<float> steady(double ms, double amp, Rng& rng) {
  std::vector<float> x(static_cast<std::size_t>(ms * kMixRate / 1000));
  for (float& v : x) v = static_cast<float>(amp * rng.normal());
  return x;
}

TEST(LongFormUnits, ACoughSourceIsCutAtItsPauses) {
  Rng rng(1);
  std::vector<float> x = steady(120, 1, rng);
  append_silence(x, 100);
  append(x, steady(120, 0.5, rng));
  append_silence(x, 30);  // too short a pause: same cough
  append(x, steady(60, 0.5, rng));
  const auto units = split_cough_units(x);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].first, 0u);
  EXPECT_EQ(units[0].second, units[1].first);
  EXPECT_EQ(units[1].second, x.size());
  // The cut lies inside the 100-ms pause.
  EXPECT_GT(units[0].second, static_cast<std::size_t>(0.12 * kMixRate));
  EXPECT_LT(units[0].second, static_cast<std::size_t>(0.22 * kMixRate));
  // Quiet lead-in and tail do not make units of their own; no pause: one unit.
  std::vector<float> padded(800, 0.0f);
  append(padded, steady(200, 1, rng));
  append_silence(padded, 200);
  EXPECT_EQ(split_cough_units(padded).size(), 1u);
  EXPECT_TRUE(split_cough_units({}).empty());
}

TEST_F(LongForm, PoolHoldsOnlyTheSplitSortedIntoKinds) {
  ASSERT_EQ(pool.coughs.size(), 2u);  // the test split's two-cough source, cut in two
  EXPECT_EQ(pool.coughs[0].id, "hw:Default_ru/PoisonCough#1");
  EXPECT_EQ(pool.coughs[1].id, "hw:Default_ru/PoisonCough#2");
  EXPECT_EQ(pool.hard.size(), 4u);
  EXPECT_EQ(pool.voices.size(), 3u);
  EXPECT_EQ(pool.speech.size(), 3u);
  for (const auto* c : pool.hard) EXPECT_EQ(c->split, Split::kTest) << c->id;
  for (const auto* c : pool.voices) EXPECT_EQ(c->split, Split::kTest) << c->id;
  for (const auto* c : pool.speech) EXPECT_EQ(c->split, Split::kTest) << c->id;
  SourceClip c;
  c.kind = SourceKind::kVoice;
  for (const char* hard : {"hw:A/Ow3", "hw:A/Ooff1", "hw:A/Ouch", "hw:A/laugh", "hw:A/Uh-oh", "hw:A/Firepunch2"}) {
    c.id = hard;
    EXPECT_TRUE(is_hard_negative(c)) << hard;
  }
  for (const char* plain : {"hw:A/Hello", "hw:A/Owned", "hw:A/Incoming", "hw:A/Victory"}) {
    c.id = plain;
    EXPECT_FALSE(is_hard_negative(c)) << plain;
  }
}

TEST_F(LongForm, PlacementFollowsTheRules) {
  const std::size_t frames = static_cast<std::size_t>(0.25 * 3600 * kMixRate);
  const LongFormPlan plan = plan_long_form(pool, LongFormParams{}, frames, 5);
  const LongFormParams p;
  ASSERT_GT(plan.events.size(), 20u);
  std::vector<const Placement*> coughs;
  std::map<int, std::vector<const Placement*>> bouts;
  std::set<std::string> kinds;
  for (std::size_t i = 0; i < plan.events.size(); ++i) {
    const auto& e = plan.events[i];
    kinds.insert(event_kind_name(e.kind));
    EXPECT_LE(e.start, e.onset);
    EXPECT_LT(e.onset, e.offset);
    EXPECT_LE(e.offset, e.start + e.length);
    EXPECT_LE(e.start + e.length, frames);
    if (i > 0) {
      EXPECT_GE(e.start, plan.events[i - 1].start + plan.events[i - 1].length) << "events overlap at " << i;
    }
    for (const auto& s : plan.silences)
      EXPECT_TRUE(e.start + e.length <= s.begin || e.start >= s.end) << "event in a silence";
    if (e.kind == EventKind::kCough) {
      coughs.push_back(&e);
      if (e.bout) bouts[e.bout].push_back(&e);
      EXPECT_LE(e.snr_db, p.max_cough_snr_db + 1e-9);
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"cough", "hard", "voice", "speech"}));
  EXPECT_FALSE(plan.silences.empty());
  EXPECT_EQ(static_cast<int>(bouts.size()), plan.bouts);
  ASSERT_GE(plan.bouts, 1);
  for (const auto& [id, members] : bouts) {
    ASSERT_GE(members.size(), 2u) << "bout " << id;
    for (std::size_t k = 1; k < members.size(); ++k)
      EXPECT_LE(members[k]->onset - members[k - 1]->onset,
                static_cast<std::size_t>(p.max_bout_onset_gap_s * kMixRate) + 1);
  }
  // Consecutive coughs of different bouts, or singles, are at least single_isolation_s apart.
  int singles = 0;
  for (std::size_t k = 1; k < coughs.size(); ++k)
    if (coughs[k]->bout == 0 || coughs[k]->bout != coughs[k - 1]->bout) {
      EXPECT_GE(coughs[k]->onset - coughs[k - 1]->onset, static_cast<std::size_t>(p.single_isolation_s * kMixRate) - 1);
    }
  for (const auto* c : coughs) singles += c->bout == 0;
  EXPECT_GE(singles, 1);

  // The first two segments are a single cough and a bout, whatever the seed.
  for (std::uint64_t seed : {1, 2, 3}) {
    const LongFormPlan short_plan =
        plan_long_form(pool, LongFormParams{}, static_cast<std::size_t>(60 * kMixRate), seed);
    EXPECT_GE(short_plan.bouts, 1) << seed;
    EXPECT_TRUE(std::any_of(short_plan.events.begin(), short_plan.events.end(), [](const Placement& e) {
      return e.kind == EventKind::kCough && e.bout == 0;
    })) << seed;
  }
  EXPECT_THROW(plan_long_form(LongFormPool{}, LongFormParams{}, frames, 1), ConfigError);
}

TEST_F(LongForm, TruthIsExactlyWhereTheCoughSignalIs) {
  const std::size_t frames = static_cast<std::size_t>(240 * kMixRate);
  const LongFormPlan plan = plan_long_form(pool, LongFormParams{}, frames, 11);
  const auto events = render(plan, pool, 11, 16000, RenderParts::kEventsOnly);
  const auto floor = render(plan, pool, 11, 16000, RenderParts::kFloorOnly);
  const auto all = render(plan, pool, 11, 16000);
  ASSERT_EQ(all.size(), frames);
  // The parts add up to the whole, bit for bit.
  for (std::size_t i = 0; i < frames; ++i) ASSERT_EQ(all[i], floor[i] + events[i]) << i;
  std::vector<char> covered(frames, 0);
  int coughs = 0;
  for (const auto& e : plan.events) {
    std::fill(covered.begin() + static_cast<std::ptrdiff_t>(e.start),
              covered.begin() + static_cast<std::ptrdiff_t>(e.start + e.length), 1);
    float peak = 0;
    for (std::size_t i = e.start; i < e.start + e.length; ++i) peak = std::max(peak, std::fabs(events[i]));
    const float thr = static_cast<float>(peak * 0.01);
    std::size_t first = e.start, last = e.start + e.length;
    while (first < last && std::fabs(events[first]) < thr) ++first;
    while (last > first && std::fabs(events[last - 1]) < thr) --last;
    // Gain scaling may move a sample across the -40 dB line by one rounding: allow one sample.
    EXPECT_NEAR(static_cast<double>(first), static_cast<double>(e.onset), 1.0) << e.source_id;
    EXPECT_NEAR(static_cast<double>(last), static_cast<double>(e.offset), 1.0) << e.source_id;
    EXPECT_LE(20 * std::log10(peak), LongFormParams{}.max_peak_dbfs + 1e-3);
    if (e.kind != EventKind::kCough) continue;
    ++coughs;
    // The SNR recorded is the one in the audio: event power over [onset, offset) vs the
    // floor's RMS at its midpoint from the plan, and close to the floor actually rendered.
    const std::span<const float> ev(events.data() + e.onset, e.offset - e.onset);
    const double snr = db_power(ev) - 20 * std::log10(floor_rms_at(plan, (e.onset + e.offset) / 2));
    EXPECT_NEAR(snr, e.snr_db, 0.01);
    const std::span<const float> fl(floor.data() + e.onset, e.offset - e.onset);
    EXPECT_NEAR(db_power(fl), 20 * std::log10(floor_rms_at(plan, (e.onset + e.offset) / 2)), 6.0);
  }
  EXPECT_GT(coughs, 3);
  for (std::size_t i = 0; i < frames; ++i)
    if (!covered[i]) {
      ASSERT_EQ(events[i], 0.0f) << "event audio outside every placement at " << i;
    }

  // The truth CSV: one row per cough, read by `coughkit evaluate`'s reader, times as placed.
  const fs::path dir = testing::scratch_dir();
  write_file_atomic(dir / "truth.csv", truth_csv(plan, "long_form_seed11.wav"));
  const auto labels = monitoring::read_labels_csv((dir / "truth.csv").string());
  ASSERT_EQ(static_cast<int>(labels.size()), coughs);
  std::size_t k = 0;
  for (const auto& e : plan.events) {
    if (e.kind != EventKind::kCough) continue;
    EXPECT_EQ(labels[k].file, "long_form_seed11.wav");
    EXPECT_EQ(labels[k].onset_s, static_cast<double>(e.onset) / kMixRate);  // exact: on the sample
    EXPECT_EQ(labels[k].offset_s, static_cast<double>(e.offset) / kMixRate);
    EXPECT_EQ(labels[k].coughs, 1);
    ++k;
  }
  const std::string ev = events_csv(plan, "x.wav");
  EXPECT_EQ(ev.substr(0, ev.find('\n')),
            "file,kind,source_id,segment,bout,start_s,onset_s,offset_s,end_s,speed,rt60_s,snr_db,silence_dbfs");
}

TEST_F(LongForm, FloorDriftsInLevelAndSilencesAreQuiet) {
  const std::size_t frames = static_cast<std::size_t>(0.2 * 3600 * kMixRate);
  const LongFormPlan plan = plan_long_form(pool, LongFormParams{}, frames, 3);
  ASSERT_GT(plan.floor.size(), 5u);
  ASSERT_FALSE(plan.silences.empty());
  const auto floor = render(plan, pool, 3, 48000, RenderParts::kFloorOnly);
  auto in_silence = [&](std::size_t b, std::size_t e) {
    for (const auto& s : plan.silences)
      if (b < s.end && e > s.begin) return true;
    return false;
  };
  double lo = 1e9, hi = -1e9;
  int blocks = 0;
  for (std::size_t b = 0; b + kMixRate <= frames; b += 5 * kMixRate) {
    if (in_silence(b, b + kMixRate)) continue;
    const double measured = db_power(std::span<const float>(floor.data() + b, kMixRate));
    const double planned = 20 * std::log10(floor_rms_at(plan, b + kMixRate / 2));
    EXPECT_NEAR(measured, planned, 3.0) << "at " << b / kMixRate << " s";  // brown noise wanders a little
    lo = std::min(lo, measured), hi = std::max(hi, measured);
    ++blocks;
  }
  EXPECT_GT(blocks, 50);
  EXPECT_GT(hi - lo, 10.0) << "the floor level should drift";
  // Colour drifts too: control points differ in their white/pink/brown mixture.
  double wmin = 1, wmax = 0;
  for (const auto& f : plan.floor) {
    wmin = std::min(wmin, f.white), wmax = std::max(wmax, f.white);
    EXPECT_NEAR(f.white * f.white + f.pink * f.pink + f.brown * f.brown + f.hum * f.hum, 1.0, 1e-9);
  }
  EXPECT_GT(wmax - wmin, 0.3);
  for (const auto& s : plan.silences) {
    const std::size_t ramp = static_cast<std::size_t>(LongFormParams{}.silence_ramp_s * kMixRate);
    const std::span<const float> inner(floor.data() + s.begin + ramp, s.end - s.begin - 2 * ramp);
    if (s.level_db <= -200)
      EXPECT_TRUE(std::all_of(inner.begin(), inner.end(), [](float v) { return v == 0.0f; }));
    else
      EXPECT_NEAR(db_power(inner), s.level_db, 0.5);
  }
}

TEST_F(LongForm, DeterministicAndIndependentOfTheChunkSize) {
  const std::size_t frames = static_cast<std::size_t>(90 * kMixRate);
  const LongFormPlan a = plan_long_form(pool, LongFormParams{}, frames, 21);
  const LongFormPlan b = plan_long_form(pool, LongFormParams{}, frames, 21);
  const LongFormPlan c = plan_long_form(pool, LongFormParams{}, frames, 22);
  EXPECT_EQ(truth_csv(a, "f.wav"), truth_csv(b, "f.wav"));
  EXPECT_EQ(events_csv(a, "f.wav"), events_csv(b, "f.wav"));
  EXPECT_NE(events_csv(a, "f.wav"), events_csv(c, "f.wav"));
  const auto x = render(a, pool, 21, 160000);
  EXPECT_EQ(x, render(b, pool, 21, 977));  // an odd chunk size cuts events and ramps anywhere
  EXPECT_NE(x, render(c, pool, 22, 160000));
}

TEST(LongFormWav, StreamedWavMatchesTheWholeFileEncoderAndIsAtomic) {
  const fs::path dir = testing::scratch_dir();
  std::vector<float> x(5000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 * std::sin(0.01 * static_cast<double>(i)));
  {
    WavStreamWriter w(dir / "a.wav", 16000, x.size());
    w.write(std::span<const float>(x).first(1234));
    EXPECT_FALSE(fs::exists(dir / "a.wav"));  // only the temp file until finish()
    w.write(std::span<const float>(x).subspan(1234));
    const std::string sha = w.finish();
    EXPECT_EQ(sha.size(), 64u);
  }
  EXPECT_EQ(testing::file_contents(dir / "a.wav"), encode_wav_s16({x}, 16000));
  const auto decoded = audio::decode_file((dir / "a.wav").string());
  EXPECT_EQ(decoded.sample_rate, 16000);
  EXPECT_NEAR(decoded.duration_seconds(), 5000.0 / 16000, 1e-9);
  {
    WavStreamWriter w(dir / "b.wav", 16000, 10);
    w.write(std::span<const float>(x).first(4));
    EXPECT_THROW(w.finish(), ConfigError);  // fewer frames than declared
    EXPECT_THROW(w.write(std::span<const float>(x).first(7)), ConfigError);
  }
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_NE(e.path().filename(), "b.wav");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1) << "temp file left behind";
}

TEST(LongFormOptions, BadArgumentsAreRefusedByName) {
  LongFormOptions o;
  EXPECT_THROW(o.Validate(), ConfigError);  // no --out
  o.out_dir = "x";
  o.Validate();
  for (double hours : {0.0, -1.0, 0.001, 24.5, std::nan("")}) {
    o.hours = hours;
    try {
      o.Validate();
      ADD_FAILURE() << hours << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--hours"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace coughkit::dataset
