// Unit tests of the dataset builder's parts: mixing math, scene rendering, splits, files.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "audio/decoder.h"
#include "common/error.h"
#include "dataset/cough_synth.h"
#include "dataset/mixing.h"
#include "dataset/output_files.h"
#include "dataset/rng.h"
#include "dataset/scene.h"
#include "dataset/segment_labels.h"
#include "dataset/sources.h"
#include "dataset/splits.h"
#include "dataset/subprocess.h"
#include "support/test_data.h"

namespace coughkit::dataset {
namespace {

std::vector<float> tone(std::size_t n, double hz, double amp = 0.5) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(amp * std::sin(2 * std::numbers::pi * hz * i / kMixRate));
  return x;
}

// A cough-like clip: noise bursts under a fast-decaying envelope.
std::vector<float> fake_cough(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(0.8 * std::exp(-8.0 * i / static_cast<double>(n)) * rng.normal() / 3.0);
  return x;
}

SourceClip clip(std::string id, SourceKind kind, std::vector<float> samples) {
  SourceClip c;
  c.id = std::move(id);
  c.kind = kind;
  c.samples = std::move(samples);
  return c;
}

// A pool with short and long clips of every kind (the long cough forces scene extension).
struct Fixture {
  std::vector<SourceClip> clips;
  SplitPool pool;
  Fixture() {
    clips.push_back(clip("c0", SourceKind::kCough, fake_cough(8000, 1)));
    clips.push_back(clip("c1", SourceKind::kCough, fake_cough(24000, 2)));
    clips.push_back(clip("v0", SourceKind::kVoice, tone(12000, 220)));
    clips.push_back(clip("v1", SourceKind::kVoice, tone(6000, 330)));
    clips.push_back(clip("s0", SourceKind::kSpeech, tone(60000, 180, 0.3)));
    clips.push_back(clip("s1", SourceKind::kSpeech, tone(200000, 140, 0.3)));  // longer than any scene
    for (const auto& c : clips)
      (c.kind == SourceKind::kCough   ? pool.coughs
       : c.kind == SourceKind::kVoice ? pool.voices
                                      : pool.speech)
          .push_back(&c);
  }
};

SceneSpec spec(std::size_t index, bool positive) {
  SceneSpec s;
  s.index = index;
  s.positive = positive;
  s.seed = Rng::derive(7, "scene", 0, index).next();
  s.file = "x.wav";
  return s;
}

// ---- mixing math ----------------------------------------------------------------------

TEST(DatasetMixing, GainForSnrHitsTheTarget) {
  Rng rng(3);
  const auto bg = synth_noise(NoiseKind::kPink, 32000, rng);
  const auto ev = fake_cough(16000, 5);
  const std::span<const float> bg_span(bg.data() + 8000, ev.size());
  for (double target : {0.0, 7.5, 18.0, 30.0}) {
    const double g = gain_for_snr(mean_power(ev), mean_power(bg_span), target);
    std::vector<float> scaled(ev);
    for (float& v : scaled) v = static_cast<float>(v * g);
    EXPECT_NEAR(snr_db(scaled, bg_span), target, 0.01);
  }
  EXPECT_THROW(gain_for_snr(0.0, 1.0, 10), ConfigError);
}

TEST(DatasetMixing, SpeedChangeResamplesToTheExpectedLength) {
  EXPECT_EQ(speed_change_rate(1.0), 16000);
  EXPECT_EQ(speed_change_rate(0.85), 18800);
  EXPECT_EQ(speed_change_rate(1.15), 13900);
  const auto x = fake_cough(12345, 9);
  for (double f : {0.85, 0.93, 1.0, 1.07, 1.15}) {
    const int rate = speed_change_rate(f);
    const auto y = change_speed(x, f);
    const auto expected =
        static_cast<std::size_t>((static_cast<std::uint64_t>(rate) * x.size() + kMixRate - 1) / kMixRate);
    EXPECT_EQ(y.size(), expected) << f;
    EXPECT_NEAR(static_cast<double>(y.size()) / x.size(), 1.0 / f, 0.01) << f;
  }
  EXPECT_THROW(speed_change_rate(10.0), ConfigError);
}

TEST(DatasetMixing, PlacementKeepsEventsInsideAndApart) {
  Rng rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::size_t> lengths(1 + rng.index(3));
    std::size_t used = 0;
    for (auto& l : lengths) used += (l = 1 + rng.index(20000));
    const std::size_t total = used + rng.index(50000);
    const auto offsets = place_non_overlapping(lengths, total, rng);
    ASSERT_EQ(offsets.size(), lengths.size());
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      EXPECT_LE(offsets[i] + lengths[i], total);
      if (i) {
        EXPECT_GE(offsets[i], offsets[i - 1] + lengths[i - 1]);
      }
    }
  }
  EXPECT_THROW(place_non_overlapping({10, 10}, 19, rng), ConfigError);
}

TEST(DatasetMixing, PeakNormalisationNeverClips) {
  std::vector<std::vector<float>> ch = {tone(1000, 100, 3.0), tone(1000, 200, 0.5)};
  const double g = normalize_peak(ch, std::pow(10.0, -1.0 / 20));
  EXPECT_NEAR(g, std::pow(10.0, -1.0 / 20) / 3.0, 1e-3);
  EXPECT_LE(peak_abs(ch), 1.0f);
  EXPECT_NEAR(peak_abs(ch), std::pow(10.0, -1.0 / 20), 1e-4);
}

TEST(DatasetMixing, NoisesHaveUnitRmsAndAreDeterministic) {
  for (auto kind : {NoiseKind::kWhite, NoiseKind::kPink, NoiseKind::kBrown, NoiseKind::kHum50, NoiseKind::kHum60,
                    NoiseKind::kFan, NoiseKind::kClicks}) {
    Rng a(5), b(5);
    const auto x = synth_noise(kind, 16000, a), y = synth_noise(kind, 16000, b);
    EXPECT_EQ(x, y) << noise_name(kind);
    EXPECT_NEAR(mean_power(x), 1.0, 1e-3) << noise_name(kind);
    for (float v : x) ASSERT_TRUE(std::isfinite(v)) << noise_name(kind);
  }
}

TEST(DatasetMixing, FftConvolutionMatchesTheDirectSum) {
  Rng rng(2);
  std::vector<float> x(300), h(200);
  for (auto& v : x) v = static_cast<float>(rng.normal());
  for (auto& v : h) v = static_cast<float>(rng.normal());
  const auto y = convolve(x, h);
  ASSERT_EQ(y.size(), x.size() + h.size() - 1);
  for (std::size_t n = 0; n < y.size(); ++n) {
    double s = 0;
    for (std::size_t k = 0; k < h.size(); ++k)
      if (n >= k && n - k < x.size()) s += static_cast<double>(x[n - k]) * h[k];
    ASSERT_NEAR(y[n], s, 1e-4) << n;
  }
  const auto ir = room_impulse_response(0.5, -6.0, rng);
  EXPECT_EQ(ir.size(), 8000u);
  EXPECT_EQ(ir[0], 1.0f);
  double tail = 0;
  for (std::size_t i = 1; i < ir.size(); ++i) tail += static_cast<double>(ir[i]) * ir[i];
  EXPECT_NEAR(10 * std::log10(tail), -6.0, 0.01);
}

TEST(DatasetMixing, TrimSilenceKeepsTheSoundAndMargins) {
  std::vector<float> x(10000, 0.0f);
  for (int i = 4000; i < 5000; ++i) x[i] = 0.5f;
  const auto y = trim_silence(x, -40.0, 100);
  EXPECT_EQ(y.size(), 1200u);
  EXPECT_TRUE(trim_silence(std::vector<float>(100, 0.0f)).empty());
}

// ---- scenes ---------------------------------------------------------------------------

TEST(DatasetScene, EventsAreWhereTheRecordSaysAtTheirSnrWithoutClipping) {
  Fixture f;
  SceneParams params;
  const OutputResamplers resamplers(params.sample_rates);
  int positives = 0, stereo = 0, reverb = 0, cropped = 0;
  std::set<int> rates;
  std::set<std::string> backgrounds;
  for (std::size_t i = 0; i < 60; ++i) {
    const bool positive = i % 2 == 0;
    const auto scene = render_scene(spec(i, positive), f.pool, params, resamplers, /*keep_stems=*/true);
    const auto& r = scene.record;
    SCOPED_TRACE(r.to_json().dump());
    positives += r.label;
    stereo += r.channels == 2;
    reverb += r.rt60_s.has_value();
    rates.insert(r.sample_rate);
    backgrounds.insert(r.background);
    const auto n = static_cast<std::size_t>(std::llround(r.duration_s * kMixRate));
    EXPECT_GE(r.duration_s, 1.0 - 1e-9);
    EXPECT_EQ(r.frames, (static_cast<std::uint64_t>(r.sample_rate) * n + kMixRate - 1) / kMixRate);
    ASSERT_EQ(static_cast<int>(scene.output.size()), r.channels);
    // No clipping: the peak is the drawn level, at most -1 dBFS.
    const float peak = peak_abs(scene.output);
    EXPECT_LE(peak, std::pow(10.0, -1.0 / 20) + 1e-6);
    EXPECT_NEAR(20 * std::log10(peak), r.peak_dbfs, 0.01);

    bool has_cough = false;
    std::vector<std::pair<double, double>> coughs;
    ASSERT_EQ(scene.event_stems.size(), r.events.size());
    for (std::size_t k = 0; k < r.events.size(); ++k) {
      const auto& e = r.events[k];
      EXPECT_GE(e.offset_s, 0.0);
      EXPECT_LE(e.offset_s + e.duration_s, r.duration_s + 1e-9);
      if (e.kind == SourceKind::kCough) {
        has_cough = true;
        EXPECT_FALSE(e.cropped);
        EXPECT_GE(e.speed, 0.85 - 0.01);
        EXPECT_LE(e.speed, 1.15 + 0.01);
        coughs.emplace_back(e.offset_s, e.offset_s + e.duration_s);
      }
      cropped += e.cropped;
      // The SNR achieved over the event's span, measured on the parts that were mixed.
      const auto [b, en] = scene.event_spans[k];
      const std::span<const float> ev(scene.event_stems[k].data() + b, en - b);
      const std::span<const float> bg(scene.background_stem.data() + b, en - b);
      EXPECT_NEAR(snr_db(ev, bg), e.snr_db, 0.5);
      EXPECT_GE(e.snr_db, 0.0);
      EXPECT_LE(e.snr_db, 30.0);
    }
    EXPECT_EQ(has_cough, r.label == 1);
    std::sort(coughs.begin(), coughs.end());
    for (std::size_t k = 1; k < coughs.size(); ++k) EXPECT_LE(coughs[k - 1].second, coughs[k].first + 1e-9);

    // At 16 kHz mono the file is exactly background + events, scaled.
    if (r.sample_rate == kMixRate && r.channels == 1) {
      for (std::size_t t = 0; t < n; t += 97) {
        double sum = scene.background_stem[t];
        for (const auto& s : scene.event_stems) sum += s[t];
        ASSERT_NEAR(scene.output[0][t], sum, 1e-5);
      }
    }
  }
  EXPECT_EQ(positives, 30);
  EXPECT_GT(stereo, 0);
  EXPECT_GT(reverb, 0);
  EXPECT_GT(cropped, 0);
  EXPECT_GE(rates.size(), 4u);
  EXPECT_GE(backgrounds.size(), 6u);
}

TEST(DatasetScene, ALongCoughLengthensAOneSecondScene) {
  Fixture f;
  SplitPool only_long = f.pool;
  only_long.coughs = {&f.clips[1]};  // 1.5 s
  SceneParams params;
  params.min_duration_s = params.max_duration_s = 1.0;
  params.reverb_probability = 0;
  const OutputResamplers resamplers(params.sample_rates);
  for (std::size_t i = 0; i < 10; ++i) {
    const auto r = render_scene(spec(i, true), only_long, params, resamplers).record;
    ASSERT_FALSE(r.events.empty());
    EXPECT_GT(r.duration_s, 1.2);
    for (const auto& e : r.events)
      if (e.kind == SourceKind::kCough) {
        EXPECT_LE(e.offset_s + e.duration_s, r.duration_s);
      }
  }
  SceneParams short_params = params;
  auto r = render_scene(spec(0, true), f.pool, short_params, resamplers).record;
  EXPECT_GE(r.duration_s, 1.0);
}

TEST(DatasetScene, SameSpecSameAudio) {
  Fixture f;
  SceneParams params;
  const OutputResamplers resamplers(params.sample_rates);
  const auto a = render_scene(spec(4, true), f.pool, params, resamplers);
  const auto b = render_scene(spec(4, true), f.pool, params, resamplers);
  EXPECT_EQ(a.output, b.output);
  EXPECT_EQ(a.record.to_json(), b.record.to_json());
  const auto c = render_scene(spec(5, true), f.pool, params, resamplers);
  EXPECT_NE(a.record.to_json(), c.record.to_json());
  SplitPool no_coughs = f.pool;
  no_coughs.coughs.clear();
  EXPECT_THROW(render_scene(spec(0, true), no_coughs, params, resamplers), ConfigError);
  EXPECT_NO_THROW(render_scene(spec(1, false), no_coughs, params, resamplers));
}

// ---- splits ---------------------------------------------------------------------------

TEST(DatasetSplits, CoughCounts) {
  auto c = cough_split_counts(5);
  EXPECT_EQ(c.train, 3u);
  EXPECT_EQ(c.val, 1u);
  EXPECT_EQ(c.test, 1u);
  c = cough_split_counts(3);
  EXPECT_EQ(c.train, 1u);
  c = cough_split_counts(10);
  EXPECT_EQ(c.train, 6u);
  EXPECT_EQ(c.val, 2u);
  EXPECT_THROW(cough_split_counts(2), InputError);
  try {
    cough_split_counts(1);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 3"), std::string::npos);
  }
  const auto f = fraction_split_counts(100);
  EXPECT_EQ(f.train, 70u);
  EXPECT_EQ(f.val, 15u);
  EXPECT_EQ(f.test, 15u);
  const auto g = fraction_split_counts(3);
  EXPECT_EQ(g.train + g.val + g.test, 3u);
  EXPECT_GE(g.val, 1u);
  EXPECT_GE(g.test, 1u);
}

TEST(DatasetSplits, DeterministicDisjointOrderIndependentAndEverySplitGetsACough) {
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) keys.push_back("cough" + std::to_string(i));
  const auto counts = cough_split_counts(keys.size());
  for (std::uint64_t seed = 1; seed < 30; ++seed) {
    const auto a = assign_splits(keys, counts, seed, "cough");
    EXPECT_EQ(a, assign_splits(keys, counts, seed, "cough"));
    std::array<int, 3> n{};
    for (auto s : a) ++n[static_cast<int>(s)];
    EXPECT_EQ(n[0], 3);
    EXPECT_EQ(n[1], 1);
    EXPECT_EQ(n[2], 1);
    // The split of a key does not depend on the order the keys come in.
    std::vector<std::string> reversed(keys.rbegin(), keys.rend());
    const auto b = assign_splits(reversed, counts, seed, "cough");
    for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(a[i], b[keys.size() - 1 - i]);
  }
  std::set<std::vector<Split>> distinct;
  for (std::uint64_t seed = 1; seed < 30; ++seed) distinct.insert(assign_splits(keys, counts, seed, "cough"));
  EXPECT_GT(distinct.size(), 5u);  // the seed matters
  EXPECT_THROW(assign_splits({"a", "a", "b"}, {1, 1, 1}, 1, "x"), ConfigError);
  EXPECT_THROW(assign_splits({"a", "b"}, {1, 1, 1}, 1, "x"), ConfigError);
}

// ---- files ----------------------------------------------------------------------------

TEST(DatasetFiles, LabelCsvAndQuoting) {
  EXPECT_EQ(
      labels_csv({{"audio/train/train_0000.wav", 1, "0110"}, {"audio/train/train_0001.wav", 0, "0"}}),
      "file_path,cough_label,segment_labels\naudio/train/train_0000.wav,1,0110\naudio/train/train_0001.wav,0,0\n");
  EXPECT_EQ(labels_csv({}), "file_path,cough_label,segment_labels\n");
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a, b"), "\"a, b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_row({"x", "y,z", ""}), "x,\"y,z\",\n");
}

TEST(DatasetFiles, WavRoundTripsThroughTheDecoderAndWritesAreAtomic) {
  const auto dir = testing::scratch_dir();
  std::vector<std::vector<float>> ch = {tone(2205, 440, 0.5), tone(2205, 440, -0.25)};
  ch[0][0] = 1.5f;  // saturates
  ch[1][0] = -1.5f;
  const std::string bytes = encode_wav_s16(ch, 22050);
  EXPECT_EQ(bytes.size(), 44u + 2205u * 2 * 2);
  EXPECT_EQ(bytes.substr(0, 4), "RIFF");
  write_file_atomic(dir / "x.wav", bytes);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);  // no temp file left
  const auto audio = audio::decode_file((dir / "x.wav").string());
  EXPECT_EQ(audio.sample_rate, 22050);
  ASSERT_EQ(audio.channels, 2);
  ASSERT_EQ(audio.frames(), 2205u);
  EXPECT_NEAR(audio.planes[0][0], 32767.0 / 32768.0, 1e-6);
  EXPECT_NEAR(audio.planes[1][0], -1.0, 1e-6);
  for (std::size_t i = 1; i < 2205; ++i) {
    ASSERT_NEAR(audio.planes[0][i], ch[0][i], 1.0 / 32768 + 1e-6);
    ASSERT_NEAR(audio.planes[1][i], ch[1][i], 1.0 / 32768 + 1e-6);
  }
  EXPECT_THROW(write_file_atomic(dir / "no-such-dir" / "x.wav", "x"), InputError);
}

// ---- sources and subprocesses -----------------------------------------------------------

TEST(DatasetSources, SentencesAreCleanAndSized) {
  const auto s = extract_sentences(
      "GNU GENERAL PUBLIC LICENSE. Version 3, 29 June 2007.  The licenses for most software are designed to take away\n"
      "your freedom to share and change it. See http://www.gnu.org/licenses/ for details.  Short one. "
      "  1. You may copy and distribute verbatim copies of the Program's source code as you receive it!");
  ASSERT_EQ(s.size(), 2u) << ::testing::PrintToString(s);
  EXPECT_EQ(s[0], "The licenses for most software are designed to take away your freedom to share and change it.");
  EXPECT_EQ(s[1].substr(0, 8), "You may ");
}

TEST(DatasetSources, UtterancePlanIsDeterministicAndTextIsOneArgument) {
  const TextPools pools = {{"de", {"Ein Satz mit einigen Wörtern darin."}},
                           {"en", {"A sentence with a few words in it.", "Another sentence, with a comma in it."}}};
  const auto a = plan_utterances(6, 9, pools), b = plan_utterances(6, 9, pools);
  ASSERT_EQ(a.size(), 6u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].voice, b[i].voice);
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_EQ(a[i].cache_key("1.51"), b[i].cache_key("1.51"));
    EXPECT_GE(a[i].speed, 120);
    EXPECT_LE(a[i].speed, 210);
    const auto argv = a[i].argv("espeak-ng", "out.wav");
    EXPECT_EQ(argv.back(), a[i].text);
    EXPECT_EQ(argv[argv.size() - 2], "--");
  }
  EXPECT_NE(a[0].cache_key("1.51"), a[0].cache_key("1.52"));
}

TEST(DatasetSubprocess, ArgumentsReachTheProgramVerbatim) {
  const auto r = run_process({"printf", "%s|", "two words", "it's $HOME; `x`"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "two words|it's $HOME; `x`|");
  const auto f = run_process({"false"});
  EXPECT_EQ(f.exit_code, 1);
  const auto cwd = run_process({"pwd"}, "/");
  EXPECT_EQ(cwd.output, "/\n");
  try {
    run_process({"coughkit-no-such-program-xyz", "a"});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("coughkit-no-such-program-xyz"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(find_program("sh").has_value());
  EXPECT_FALSE(find_program("coughkit-no-such-program-xyz").has_value());
}

}  // namespace

// ---- segment labels ----------------------------------------------------------------------

namespace {
nlohmann::json scene_with(std::uint64_t frames, int rate,
                          const std::vector<std::tuple<std::string, double, double>>& ev) {
  nlohmann::json events = nlohmann::json::array();
  for (const auto& [kind, offset, duration] : ev)
    events.push_back({{"kind", kind}, {"offset_s", offset}, {"duration_s", duration}});
  return {{"frames", frames}, {"sample_rate", rate}, {"events", events}};
}
}  // namespace

TEST(DatasetSegmentLabels, HalfOfACoughMakesASegmentPositive) {
  // 4 s at 16 kHz: segments start at 0, 0.5, 1.0, 1.5, 2.0 s.
  EXPECT_EQ(segment_labels_text(scene_segment_labels(scene_with(64000, 16000, {}))), "00000");
  // A 0.4-s cough at [1.7, 2.1): segment 0 ([0, 2)) holds 3/4 of it, segments 1 to 3 all
  // of it, segment 4 ([2, 4)) 1/4.
  EXPECT_EQ(segment_labels_text(scene_segment_labels(scene_with(64000, 16000, {{"cough", 1.7, 0.4}}))), "11110");
  // At [0.1, 0.5): only segment 0 holds it; segment 1 starts where it ends.
  EXPECT_EQ(segment_labels_text(scene_segment_labels(scene_with(64000, 16000, {{"cough", 0.1, 0.4}}))), "10000");
  // [0.35, 0.75): segment 1 holds 0.25 s of 0.4: positive.
  EXPECT_EQ(segment_labels_text(scene_segment_labels(scene_with(64000, 16000, {{"cough", 0.35, 0.4}}))), "11000");
  // [0.2, 0.6): segment 1 holds 0.1 of 0.4: negative.
  EXPECT_EQ(segment_labels_text(scene_segment_labels(scene_with(64000, 16000, {{"cough", 0.2, 0.4}}))), "10000");
  // Voices and speech never make a segment positive.
  EXPECT_EQ(
      segment_labels_text(scene_segment_labels(scene_with(64000, 16000, {{"voice", 1.0, 1.0}, {"speech", 0.0, 4.0}}))),
      "00000");
  // A scene shorter than 2 s is one (padded) segment.
  EXPECT_EQ(segment_labels_text(scene_segment_labels(scene_with(16000, 16000, {{"cough", 0.2, 0.3}}))), "1");
  // At 44.1 kHz the count follows the 16-kHz length after resampling: 3 s -> 48000 samples, 3 segments.
  EXPECT_EQ(scene_segment_labels(scene_with(132300, 44100, {})).size(), 3u);
  // 2.49 s at 22.05 kHz: ceil(16000 * 54905 / 22050) = 39841 samples: one whole window.
  EXPECT_EQ(scene_segment_labels(scene_with(54905, 22050, {})).size(), 1u);
  // 20 s: capped at the bag's 32 segments (of 37).
  EXPECT_EQ(scene_segment_labels(scene_with(320000, 16000, {})).size(), 32u);
  EXPECT_THROW(scene_segment_labels(nlohmann::json::object()), nlohmann::json::exception);
}

// ---- cough synthesiser ---------------------------------------------------------------------

namespace {
double rms(const std::vector<float>& x, std::size_t begin, std::size_t end) {
  double s = 0;
  for (std::size_t i = begin; i < end; ++i) s += static_cast<double>(x[i]) * x[i];
  return end > begin ? std::sqrt(s / static_cast<double>(end - begin)) : 0.0;
}
// The largest normalised autocorrelation of x[begin, end) over lags [lo, hi], and its lag.
std::pair<double, std::size_t> best_autocorrelation(const std::vector<float>& x, std::size_t begin, std::size_t end,
                                                    std::size_t lo, std::size_t hi) {
  double best = -1;
  std::size_t best_lag = 0;
  for (std::size_t lag = lo; lag <= hi; ++lag) {
    double xy = 0, xx = 0, yy = 0;
    for (std::size_t i = begin; i + lag < end; ++i) {
      xy += static_cast<double>(x[i]) * x[i + lag];
      xx += static_cast<double>(x[i]) * x[i];
      yy += static_cast<double>(x[i + lag]) * x[i + lag];
    }
    const double r = xx > 0 && yy > 0 ? xy / std::sqrt(xx * yy) : 0;
    if (r > best) best = r, best_lag = lag;
  }
  return {best, best_lag};
}
std::size_t at(double seconds) { return static_cast<std::size_t>(std::lround(seconds * 16000)); }
}  // namespace

TEST(CoughSynth, ParametersAreDrawnFromTheDocumentedRanges) {
  std::size_t voiced = 0;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    Rng rng(seed);
    const CoughParams p = draw_cough_params(rng);
    EXPECT_GE(p.burst_s, 0.02);
    EXPECT_LE(p.burst_s, 0.06);
    EXPECT_GE(p.intermediate_s, 0.08);
    EXPECT_LE(p.intermediate_s, 0.30);
    if (p.voiced()) {
      ++voiced;
      EXPECT_GE(p.voiced_s, 0.05);
      EXPECT_LE(p.voiced_s, 0.25);
    }
    EXPECT_GE(p.f0_hz, 90.0);
    EXPECT_LE(p.f0_hz, 320.0);
    EXPECT_LT(p.formants_hz[0], p.formants_hz[1]);
    EXPECT_LT(p.formants_hz[1], p.formants_hz[2]);
  }
  EXPECT_GT(voiced, 200u);  // about 60 % of 400
  EXPECT_LT(voiced, 280u);
}

TEST(CoughSynth, ASeedGivesOneSoundAndSeedsDiffer) {
  auto make = [](std::uint64_t seed) {
    Rng rng(seed);
    const CoughParams p = draw_cough_params(rng);
    return synthesise_cough(p, rng);
  };
  EXPECT_EQ(make(7), make(7));
  EXPECT_NE(make(7), make(8));
}

// The three phases are where the parameters put them: silence before, an explosive onset
// (the loudest 5 ms in the burst), a decay over the turbulent phase, a broadband burst, and
// periodicity at f0 in the voiced phase. (The turbulent phase is narrow-band noise around the
// formants, which over 40 ms can look periodic too: not tested.)
TEST(CoughSynth, SoundHasTheThreePhases) {
  std::size_t voiced_checked = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    Rng rng(seed);
    const CoughParams p = draw_cough_params(rng);
    const std::vector<float> x = synthesise_cough(p, rng);
    const std::size_t lead = at(p.lead_s), burst = at(p.burst_s), inter = at(p.intermediate_s), voiced = at(p.voiced_s);
    ASSERT_EQ(x.size(), lead + burst + inter + voiced + at(p.tail_s)) << seed;
    float peak = 0;
    for (float v : x) {
      ASSERT_TRUE(std::isfinite(v)) << seed;
      peak = std::max(peak, std::abs(v));
    }
    EXPECT_FLOAT_EQ(peak, 1.0f) << seed;
    EXPECT_EQ(rms(x, 0, lead), 0.0) << seed;

    // The loudest 5-ms frame lies in the burst (or the 10 ms after it, where the turbulent
    // phase has risen while the burst decays).
    const std::size_t frame = at(0.005), end = lead + burst + inter + voiced;
    std::size_t loudest = lead;
    for (std::size_t i = lead; i + frame <= end; i += frame)
      if (rms(x, i, i + frame) > rms(x, loudest, loudest + frame)) loudest = i;
    EXPECT_LT(loudest, lead + burst + at(0.01)) << seed << ": loudest frame at " << loudest;

    // Decay over the turbulent phase: its last fifth well below its first.
    const std::size_t i0 = lead + burst, i1 = i0 + inter;
    EXPECT_LT(rms(x, i1 - inter / 5, i1), 0.7 * rms(x, i0, i0 + inter / 5)) << seed;

    // Broadband burst: a real share of its energy above 2 kHz (plain DFT of the burst).
    double high = 0, all = 0;
    const std::size_t n = burst;
    for (std::size_t k = 1; k < n / 2; ++k) {
      double re = 0, im = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double w = 2.0 * std::numbers::pi * static_cast<double>(k * i) / static_cast<double>(n);
        re += x[lead + i] * std::cos(w);
        im -= x[lead + i] * std::sin(w);
      }
      const double e = re * re + im * im;
      all += e;
      if (static_cast<double>(k) * 16000.0 / static_cast<double>(n) >= 2000.0) high += e;
    }
    EXPECT_GT(high / all, 0.15) << seed;

    if (p.voiced() && p.voiced_s >= 0.1) {
      // The voiced phase repeats at the pitch period (f0 glides by at most 30 % over the phase).
      const std::size_t v0 = i1 + voiced / 3;
      const auto [r, lag] = best_autocorrelation(x, v0, v0 + at(0.04), 50, 178);
      const double period = 16000.0 / (p.f0_hz * (1.0 + (p.f0_end_ratio - 1.0) * 0.4));
      EXPECT_GT(r, 0.6) << seed;
      const bool near_period = std::abs(lag - period) < 0.15 * period || std::abs(lag - 2 * period) < 0.15 * period;
      EXPECT_TRUE(near_period) << seed << ": lag " << lag << " vs period " << period;
      ++voiced_checked;
    }
  }
  EXPECT_GT(voiced_checked, 5u);
}

}  // namespace coughkit::dataset
