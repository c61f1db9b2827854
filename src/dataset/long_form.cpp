#include "dataset/long_form.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <numbers>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "checkpoint/sha256.h"
#include "common/error.h"
#include "common/version.h"
#include "dataset/mixing.h"
#include "dataset/output_files.h"
#include "dataset/rng.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace coughkit::dataset {
namespace {

// Bump when a change alters the output for the same options and sources (it is part of the
// fingerprint, so a re-run renders again instead of keeping the old files).
constexpr int kGeneratorVersion = 1;
constexpr double kAudibleDb = -40.0;  // the truth rule: onset/offset at -40 dB re the event's peak
constexpr double kDigitalSilenceDb = -200.0;

// A sample position in seconds, exactly (k / 16000 has at most 7 decimals), trailing zeros
// dropped: the truth lands on the sample it was placed at.
std::string exact_seconds(std::size_t samples) {
  std::string s = fmt::format("{:.7f}", static_cast<double>(samples) / kMixRate);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.push_back('0');
  return s;
}

std::size_t samples_of(double seconds) { return static_cast<std::size_t>(std::llround(seconds * kMixRate)); }
double seconds_of(std::size_t samples) { return static_cast<double>(samples) / kMixRate; }
double db_to_amplitude(double db) { return db <= kDigitalSilenceDb ? 0.0 : std::pow(10.0, db / 20.0); }
double round_to(double v, int decimals) {
  const double k = std::pow(10.0, decimals);
  return std::round(v * k) / k;
}

std::string sha256_string(std::string_view data) {
  checkpoint::Sha256 h;
  h.update(data);
  return h.hex_digest();
}

// ---- noise floor ---------------------------------------------------------------------

// Paul Kellett's refined pink filter (as synth_noise's), one sample per call.
struct PinkFilter {
  double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
  double operator()(double w) {
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.96900 * b2 + w * 0.1538520;
    b3 = 0.86650 * b3 + w * 0.3104856;
    b4 = 0.55000 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.0168980;
    const double v = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
    return v;
  }
};

// The stationary RMS of PinkFilter driven by unit white noise, computed exactly (it is a sum
// of first-order sections, w[n] and w[n-1]), so the floor's level does not depend on an
// estimate: Var = sum_ij g_i g_j / (1 - c_i c_j) + d^2 + e^2 + 2 d sum g_i + 2 e sum g_i c_i.
double pink_rms() {
  constexpr double c[] = {0.99886, 0.99332, 0.96900, 0.86650, 0.55000, -0.7616};
  constexpr double g[] = {0.0555179, 0.0750759, 0.1538520, 0.3104856, 0.5329522, -0.0168980};
  constexpr double d = 0.5362, e = 0.115926;
  double var = d * d + e * e;
  for (int i = 0; i < 6; ++i) {
    var += 2 * d * g[i] + 2 * e * g[i] * c[i];
    for (int j = 0; j < 6; ++j) var += g[i] * g[j] / (1 - c[i] * c[j]);
  }
  return std::sqrt(var);
}

// Brown noise as synth_noise makes it, y = 0.998 y + 0.05 w: RMS 0.05 / sqrt(1 - 0.998^2).
constexpr double kBrownPole = 0.998, kBrownInput = 0.05;
double brown_rms() { return kBrownInput / std::sqrt(1 - kBrownPole * kBrownPole); }

// The floor's parameters at sample i, linearly between the surrounding control points.
FloorPoint floor_at(const LongFormPlan& plan, std::size_t i) {
  const auto& f = plan.floor;
  auto it = std::upper_bound(f.begin(), f.end(), i, [](std::size_t v, const FloorPoint& p) { return v < p.at; });
  if (it == f.begin()) return f.front();
  if (it == f.end()) return f.back();
  const FloorPoint& a = *(it - 1);
  const FloorPoint& b = *it;
  const double t = static_cast<double>(i - a.at) / static_cast<double>(b.at - a.at);
  auto mix = [t](double x, double y) { return x + (y - x) * t; };
  return {i,
          mix(a.level_db, b.level_db),
          mix(a.white, b.white),
          mix(a.pink, b.pink),
          mix(a.brown, b.brown),
          mix(a.hum, b.hum)};
}

// The noise floor, sample by sample in order: white, pink and brown noise from streams of
// their own, mains hum from the absolute sample index, mixed by the interpolated control
// point and lowered inside silence stretches. State carries across generate() calls, so the
// samples do not depend on how the file is cut into chunks.
class FloorGenerator {
 public:
  FloorGenerator(const LongFormPlan& plan, std::uint64_t seed, std::size_t silence_ramp)
      : ramp_(silence_ramp),
        plan_(plan),
        white_(Rng::derive(seed, "long-form floor white")),
        pink_rng_(Rng::derive(seed, "long-form floor pink")),
        brown_rng_(Rng::derive(seed, "long-form floor brown")),
        pink_norm_(1.0 / pink_rms()),
        brown_norm_(1.0 / brown_rms()) {}

  // Fills out with samples [next, next + out.size()); calls must be consecutive.
  void generate(std::span<float> out) {
    for (float& v : out) {
      const std::size_t i = next_++;
      // The parameters move over tens of seconds: refresh them every 10 ms.
      if (i >= refresh_at_) {
        point_ = floor_at(plan_, i);
        level_ = db_to_amplitude(point_.level_db);
        refresh_at_ = i + kMixRate / 100;
      }
      const double w = white_.normal();
      const double p = pink_(pink_rng_.normal()) * pink_norm_;
      brown_ = kBrownPole * brown_ + kBrownInput * brown_rng_.normal();
      double x = point_.white * w + point_.pink * p + point_.brown * brown_ * brown_norm_;
      if (point_.hum > 0) x += point_.hum * hum(i);
      x *= level_;
      v = static_cast<float>(silence(i, x, w));
    }
  }

 private:
  double hum(std::size_t i) const {
    const double t = seconds_of(i);
    double s = 0;
    for (std::size_t k = 0; k < plan_.hum_amplitudes.size(); ++k)
      s += plan_.hum_amplitudes[k] *
           std::sin(2 * std::numbers::pi * plan_.hum_hz * static_cast<double>(k + 1) * t + plan_.hum_phases[k]);
    return s;
  }

  // Inside a stretch the floor fades (raised cosine over the ramp) to white noise at the
  // stretch's level, or to exact zeros for digital silence.
  double silence(std::size_t i, double x, double w) {
    const auto& s = plan_.silences;
    while (stretch_ < s.size() && i >= s[stretch_].end) ++stretch_;
    if (stretch_ == s.size() || i < s[stretch_].begin) return x;
    const SilenceStretch& st = s[stretch_];
    const double ramp = std::max<double>(1, static_cast<double>(ramp_));
    const double into = static_cast<double>(i - st.begin), left = static_cast<double>(st.end - i);
    double r = 1;
    if (into < ramp) r = 0.5 * (1 - std::cos(std::numbers::pi * into / ramp));
    if (left < ramp) r = std::min(r, 0.5 * (1 - std::cos(std::numbers::pi * left / ramp)));
    if (r >= 1) return db_to_amplitude(st.level_db) * w;
    return (1 - r) * x + r * db_to_amplitude(st.level_db) * w;
  }

  const std::size_t ramp_;  // samples of a silence stretch's fade in and out
  const LongFormPlan& plan_;
  Rng white_, pink_rng_, brown_rng_;
  PinkFilter pink_;
  double brown_ = 0;
  const double pink_norm_, brown_norm_;
  std::size_t next_ = 0, refresh_at_ = 0, stretch_ = 0;
  FloorPoint point_;
  double level_ = 0;
};

void plan_floor(LongFormPlan& plan, const LongFormParams& p, Rng rng) {
  std::size_t at = 0;
  for (;;) {
    FloorPoint f;
    f.at = at;
    f.level_db = rng.uniform(p.min_floor_dbfs, p.max_floor_dbfs);
    f.hum = rng.chance(p.hum_probability) ? rng.uniform(0.3, 0.8) : 0.0;
    // The colour: a random white/pink/brown mixture, scaled so all components' powers add to 1.
    f.white = rng.uniform() + 1e-3, f.pink = rng.uniform() + 1e-3, f.brown = rng.uniform() + 1e-3;
    const double k = std::sqrt((1 - f.hum * f.hum) / (f.white * f.white + f.pink * f.pink + f.brown * f.brown));
    f.white *= k, f.pink *= k, f.brown *= k;
    plan.floor.push_back(f);
    if (at >= plan.frames) break;
    at += samples_of(rng.uniform(p.min_control_s, p.max_control_s));
  }
  // One hum for the whole file (one mains supply): 50 or 60 Hz, 3-8 harmonics, odd ones stronger.
  plan.hum_hz = (rng.chance(0.5) ? 50.0 : 60.0) * rng.uniform(0.998, 1.002);
  const int harmonics = static_cast<int>(rng.integer(3, 8));
  double power = 0;
  for (int k = 1; k <= harmonics; ++k) {
    const double a = rng.uniform(0.2, 1.0) * std::pow(k, -rng.uniform(0.5, 1.5)) * (k % 2 ? 1.0 : 0.5);
    plan.hum_amplitudes.push_back(a);
    plan.hum_phases.push_back(rng.uniform(0, 2 * std::numbers::pi));
    power += a * a / 2;
  }
  for (double& a : plan.hum_amplitudes) a /= std::sqrt(power);
}

// ---- events --------------------------------------------------------------------------

const std::vector<float>& source_samples(const LongFormPool& pool, EventKind kind, std::size_t index) {
  switch (kind) {
    case EventKind::kCough: return pool.coughs.at(index).samples;
    case EventKind::kHard: return pool.hard.at(index)->samples;
    case EventKind::kVoice: return pool.voices.at(index)->samples;
    case EventKind::kSpeech: return pool.speech.at(index)->samples;
  }
  throw ConfigError("unknown event kind");
}

std::string source_id(const LongFormPool& pool, EventKind kind, std::size_t index) {
  switch (kind) {
    case EventKind::kCough: return pool.coughs.at(index).id;
    case EventKind::kHard: return pool.hard.at(index)->id;
    case EventKind::kVoice: return pool.voices.at(index)->id;
    case EventKind::kSpeech: return pool.speech.at(index)->id;
  }
  return "";
}

// [first, last + 1) of the samples at or above -40 dB re the peak: the audible part.
std::pair<std::size_t, std::size_t> audible_span(const std::vector<float>& x) {
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  if (!(peak > 0)) return {0, 0};
  const float thr = static_cast<float>(peak * std::pow(10.0, kAudibleDb / 20.0));
  std::size_t a = 0, b = x.size();
  while (a < b && std::fabs(x[a]) < thr) ++a;
  while (b > a && std::fabs(x[b - 1]) < thr) --b;
  return {a, b};
}

// Plans segments one after another. Each event is realised once here (for its length, its
// audible span and its level) and dropped; the renderer realises it again.
class SegmentPlanner {
 public:
  SegmentPlanner(LongFormPlan& plan, const LongFormPool& pool, const LongFormParams& params, Rng rng)
      : plan_(plan), pool_(pool), p_(params), rng_(rng) {}

  enum class Kind { kSingle, kBout, kHard, kVoice, kSpeechRun, kSilence };

  // A kind by the weights; kinds whose pool is empty have weight 0.
  Kind draw_kind() {
    const double w[] = {p_.single_cough_weight,
                        p_.cough_bout_weight,
                        pool_.hard.empty() ? 0 : p_.hard_negative_weight,
                        pool_.voices.empty() ? 0 : p_.voice_weight,
                        pool_.speech.empty() && pool_.voices.empty() ? 0 : p_.speech_run_weight,
                        p_.silence_weight};
    double total = 0;
    for (double v : w) total += v;
    double u = rng_.uniform() * total;
    for (int k = 0; k < 6; ++k) {
      if (u < w[k]) return static_cast<Kind>(k);
      u -= w[k];
    }
    return Kind::kSingle;
  }

  // Places a segment of `kind` at or after `cursor` and sets `end` past it; returns false,
  // placing nothing, when it would not end before the file's last half second.
  bool place(Kind kind, std::size_t cursor, std::size_t segment, std::size_t& end) {
    std::vector<Drawn> events;
    if (kind == Kind::kSilence) {
      SilenceStretch s;
      s.begin = cursor;
      s.end = cursor + samples_of(rng_.uniform(p_.min_silence_s, p_.max_silence_s));
      s.level_db = rng_.chance(p_.digital_silence_probability) ? kDigitalSilenceDb : rng_.uniform(-96.0, -80.0);
      end = s.end;
      if (end > limit()) return false;
      plan_.silences.push_back(s);
      return true;
    }
    if (kind == Kind::kSingle || kind == Kind::kBout)
      place_coughs(kind == Kind::kSingle ? 1 : static_cast<int>(rng_.integer(p_.min_bout_coughs, p_.max_bout_coughs)),
                   cursor, segment, events);
    else
      place_others(kind, cursor, segment, events);
    end = events.back().e.start + events.back().e.length;
    if (end > limit()) return false;
    const bool bout = events.size() >= 2 && events.front().e.kind == EventKind::kCough;
    if (bout) ++plan_.bouts;
    for (auto& d : events) {
      level(d);
      if (d.e.kind == EventKind::kCough) {
        d.e.bout = bout ? plan_.bouts : 0;
        last_cough_onset_ = d.e.onset;
        any_cough_ = true;
      }
      plan_.events.push_back(std::move(d.e));
    }
    return true;
  }

 private:
  struct Drawn {
    Placement e;
    float peak = 0;    // of the realised signal
    double power = 0;  // its mean square over the audible span
  };

  std::size_t limit() const { return plan_.frames - std::min(plan_.frames, samples_of(0.5)); }

  // n coughs: the first far enough from the previous cough that the monitor's bout rule
  // keeps them apart, each next one after the previous has ended and with its onset at most
  // max_bout_onset_gap_s after the previous onset (fewer when a cough is too long for that).
  void place_coughs(int n, std::size_t cursor, std::size_t segment, std::vector<Drawn>& out) {
    for (int k = 0; k < n; ++k) {
      Drawn d = draw(EventKind::kCough, rng_.index(pool_.coughs.size()), segment);
      const std::size_t lead = d.e.onset;  // start is 0 until moved
      std::size_t at = cursor;
      if (out.empty()) {
        if (any_cough_) at = std::max(at, last_cough_onset_ + samples_of(p_.single_isolation_s));
      } else {
        const Placement& prev = out.back().e;
        const std::size_t earliest = prev.start + prev.length;
        const std::size_t latest_onset = prev.onset + samples_of(p_.max_bout_onset_gap_s);
        at = earliest + samples_of(rng_.uniform(0.05, 0.8));
        if (at + lead > latest_onset) at = std::max(earliest, latest_onset >= lead ? latest_onset - lead : 0);
        if (at + lead > latest_onset) break;
      }
      move_to(d.e, at);
      out.push_back(std::move(d));
    }
  }

  // Hard negatives (1-3, 0.2-1.5 s apart), one voice line, or a run of 2-6 speech clips
  // (voice lines among them 30% of the time) 0.15-1 s apart.
  void place_others(Kind kind, std::size_t cursor, std::size_t segment, std::vector<Drawn>& out) {
    const int n = kind == Kind::kHard    ? static_cast<int>(rng_.integer(1, 3))
                  : kind == Kind::kVoice ? 1
                                         : static_cast<int>(rng_.integer(2, 6));
    std::size_t at = cursor;
    for (int k = 0; k < n; ++k) {
      EventKind ek = kind == Kind::kHard ? EventKind::kHard : EventKind::kVoice;
      if (kind == Kind::kSpeechRun && !pool_.speech.empty() && (pool_.voices.empty() || rng_.chance(0.7)))
        ek = EventKind::kSpeech;
      const std::size_t size = ek == EventKind::kHard    ? pool_.hard.size()
                               : ek == EventKind::kVoice ? pool_.voices.size()
                                                         : pool_.speech.size();
      Drawn d = draw(ek, rng_.index(size), segment);
      move_to(d.e, at);
      at = d.e.start + d.e.length + samples_of(kind == Kind::kHard ? rng_.uniform(0.2, 1.5) : rng_.uniform(0.15, 1.0));
      out.push_back(std::move(d));
    }
  }

  // A placement of source `index` with its own seed, realised to learn its shape; start 0.
  Drawn draw(EventKind kind, std::size_t index, std::size_t segment) {
    Drawn d;
    Placement& e = d.e;
    e.kind = kind;
    e.source = index;
    e.source_id = source_id(pool_, kind, index);
    e.seed = rng_.next();
    e.segment = segment;
    const RealisedEvent r = realise_event(e, pool_, p_);
    e.length = r.samples.size();
    std::tie(e.onset, e.offset) = audible_span(r.samples);
    e.speed = r.speed;
    e.rt60_s = r.rt60_s;
    // The target SNR is drawn here (a fixed number of draws per event); level() applies it.
    e.snr_db = kind == EventKind::kCough ? rng_.uniform(p_.min_cough_snr_db, p_.max_cough_snr_db)
                                         : rng_.uniform(p_.min_other_snr_db, p_.max_other_snr_db);
    for (std::size_t i = 0; i < r.samples.size(); ++i) {
      d.peak = std::max(d.peak, std::fabs(r.samples[i]));
      if (i >= e.onset && i < e.offset) d.power += static_cast<double>(r.samples[i]) * r.samples[i];
    }
    if (e.offset > e.onset) d.power /= static_cast<double>(e.offset - e.onset);
    return d;
  }

  static void move_to(Placement& e, std::size_t at) {
    const std::size_t lead = e.onset - e.start, audible = e.offset - e.onset;
    e.start = at;
    e.onset = at + lead;
    e.offset = e.onset + audible;
  }

  // The gain for the drawn SNR against the floor's RMS at the event's midpoint, with the
  // peak capped at max_peak_dbfs; snr_db becomes the SNR reached.
  void level(Drawn& d) {
    Placement& e = d.e;
    const double floor = floor_rms_at(plan_, (e.onset + e.offset) / 2);
    const double rms = std::sqrt(d.power);
    double g = rms > 0 && floor > 0 ? floor * std::pow(10.0, e.snr_db / 20.0) / rms : 0.0;
    const double cap = std::pow(10.0, p_.max_peak_dbfs / 20.0);
    if (d.peak > 0 && g * d.peak > cap) g = cap / d.peak;
    e.gain = g;
    e.snr_db = rms > 0 && floor > 0 && g > 0 ? 20.0 * std::log10(g * rms / floor) : kDigitalSilenceDb;
  }

  LongFormPlan& plan_;
  const LongFormPool& pool_;
  const LongFormParams& p_;
  Rng rng_;
  bool any_cough_ = false;  // (not std::optional: GCC 12 warns of it as maybe uninitialised)
  std::size_t last_cough_onset_ = 0;
};

}  // namespace

// ---- sources -------------------------------------------------------------------------

std::vector<std::pair<std::size_t, std::size_t>> split_cough_units(std::span<const float> x, double pause_db,
                                                                   double min_pause_s) {
  constexpr std::size_t kFrame = kMixRate / 100;
  if (x.empty()) return {};
  float peak = 0;
  for (float v : x) peak = std::max(peak, std::fabs(v));
  const std::size_t frames = (x.size() + kFrame - 1) / kFrame;
  std::vector<char> quiet(frames);
  const double limit = static_cast<double>(peak) * peak * std::pow(10.0, pause_db / 10.0);
  for (std::size_t f = 0; f < frames; ++f) {
    const std::size_t b = f * kFrame, e = std::min(x.size(), b + kFrame);
    quiet[f] = !(mean_power(x.subspan(b, e - b)) >= limit) ? 1 : 0;
  }
  const auto min_run = static_cast<std::size_t>(std::ceil(min_pause_s * 100 - 1e-9));
  std::vector<std::pair<std::size_t, std::size_t>> units;
  std::size_t unit_begin = 0;
  bool seen_loud = false;
  for (std::size_t f = 0; f < frames;) {
    if (!quiet[f]) {
      seen_loud = true;
      ++f;
      continue;
    }
    std::size_t g = f;
    while (g < frames && quiet[g]) ++g;
    // A pause between loud frames, long enough: cut in its middle.
    if (seen_loud && g < frames && g - f >= std::max<std::size_t>(1, min_run)) {
      const std::size_t cut = std::min(x.size(), (f + g) * kFrame / 2);
      units.emplace_back(unit_begin, cut);
      unit_begin = cut;
    }
    f = g;
  }
  units.emplace_back(unit_begin, x.size());
  return units;
}

bool is_hard_negative(const SourceClip& clip) {
  if (clip.kind != SourceKind::kVoice) return false;
  static const std::regex hard(R"((Ooff|Ow|Firepunch|Jump)[0-9]*|Ouch|Laugh|PoisonMoan|Hmm|Nooo|Uh-oh|Oops|Drat)",
                               std::regex::icase);
  const std::size_t slash = clip.id.rfind('/');
  return std::regex_match(slash == std::string::npos ? clip.id : clip.id.substr(slash + 1), hard);
}

LongFormPool make_long_form_pool(const std::vector<SourceClip>& clips, Split split) {
  LongFormPool pool;
  constexpr std::size_t kFade = kMixRate / 200;  // 5 ms: a cut inside a pause must not click
  for (const auto& c : clips) {
    if (c.split != split) continue;
    if (c.kind == SourceKind::kCough) {
      const auto units = split_cough_units(c.samples);
      for (std::size_t k = 0; k < units.size(); ++k) {
        CoughUnit u;
        u.id = fmt::format("{}#{}", c.id, k + 1);
        u.source = &c;
        u.samples.assign(c.samples.begin() + static_cast<std::ptrdiff_t>(units[k].first),
                         c.samples.begin() + static_cast<std::ptrdiff_t>(units[k].second));
        const std::size_t n = u.samples.size(), fade = std::min(kFade, n / 2);
        for (std::size_t i = 0; i < fade; ++i) {
          const auto g = static_cast<float>(
              0.5 * (1 - std::cos(std::numbers::pi * static_cast<double>(i) / static_cast<double>(fade))));
          if (k > 0) u.samples[i] *= g;                         // cut at the start
          if (k + 1 < units.size()) u.samples[n - 1 - i] *= g;  // cut at the end
        }
        pool.coughs.push_back(std::move(u));
      }
    } else if (c.kind == SourceKind::kSpeech) {
      pool.speech.push_back(&c);
    } else {
      (is_hard_negative(c) ? pool.hard : pool.voices).push_back(&c);
    }
  }
  return pool;
}

// ---- plan and render -----------------------------------------------------------------

const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kCough: return "cough";
    case EventKind::kHard: return "hard";
    case EventKind::kVoice: return "voice";
    case EventKind::kSpeech: return "speech";
  }
  return "?";
}

double floor_rms_at(const LongFormPlan& plan, std::size_t i) {
  if (plan.floor.empty()) return 0.0;
  const FloorPoint f = floor_at(plan, i);
  return db_to_amplitude(f.level_db) *
         std::sqrt(f.white * f.white + f.pink * f.pink + f.brown * f.brown + f.hum * f.hum);
}

RealisedEvent realise_event(const Placement& placement, const LongFormPool& pool, const LongFormParams& p) {
  Rng rng(placement.seed);
  const bool cough = placement.kind == EventKind::kCough;
  const double factor =
      cough ? rng.uniform(p.min_cough_speed, p.max_cough_speed) : rng.uniform(p.min_voice_speed, p.max_voice_speed);
  RealisedEvent r;
  r.speed = static_cast<double>(kMixRate) / speed_change_rate(factor);
  r.samples = change_speed(source_samples(pool, placement.kind, placement.source), factor);
  if (rng.chance(p.reverb_probability)) {
    r.rt60_s = rng.uniform(0.15, 0.8);
    const double wet_db = rng.uniform(-12.0, -3.0);
    // The tail is part of the event, cut where it has decayed 50 dB (as the corpus's scenes).
    r.samples = trim_silence(convolve(r.samples, room_impulse_response(r.rt60_s, wet_db, rng)), -50.0, 0);
  }
  return r;
}

LongFormPlan plan_long_form(const LongFormPool& pool, const LongFormParams& params, std::size_t frames,
                            std::uint64_t seed) {
  if (pool.coughs.empty()) throw ConfigError("the long-form set needs at least one cough source in its split");
  LongFormPlan plan;
  plan.frames = frames;
  plan_floor(plan, params, Rng::derive(seed, "long-form floor"));
  Rng rng = Rng::derive(seed, "long-form segments");
  SegmentPlanner planner(plan, pool, params, Rng::derive(seed, "long-form events"));
  using Kind = SegmentPlanner::Kind;
  const bool single_first = rng.chance(0.5);
  std::size_t cursor = samples_of(rng.uniform(0.5, 3.0));
  for (std::size_t segment = 0;; ++segment) {
    const Kind kind = segment == 0   ? (single_first ? Kind::kSingle : Kind::kBout)
                      : segment == 1 ? (single_first ? Kind::kBout : Kind::kSingle)
                                     : planner.draw_kind();
    std::size_t end = 0;
    if (!planner.place(kind, cursor, segment, end)) break;
    cursor = end + samples_of(params.min_gap_s - params.mean_extra_gap_s * std::log(1.0 - rng.uniform()));
  }
  return plan;
}

void render_long_form(const LongFormPlan& plan, const LongFormPool& pool, const LongFormParams& params,
                      std::uint64_t seed, std::size_t chunk_frames,
                      const std::function<void(std::span<const float>)>& sink, RenderParts parts) {
  if (chunk_frames == 0) throw ConfigError("render_long_form: chunk_frames must be > 0");
  FloorGenerator floor(plan, seed, samples_of(params.silence_ramp_s));
  struct Active {
    std::size_t start;
    std::vector<float> samples;  // gain applied
  };
  std::deque<Active> active;
  std::size_t next = 0;
  std::vector<float> buf(std::min(chunk_frames, std::max<std::size_t>(plan.frames, 1)));
  for (std::size_t pos = 0; pos < plan.frames;) {
    const std::size_t n = std::min(buf.size(), plan.frames - pos);
    const std::span<float> chunk(buf.data(), n);
    if (parts == RenderParts::kEventsOnly)
      std::fill(chunk.begin(), chunk.end(), 0.0f);
    else
      floor.generate(chunk);
    if (parts != RenderParts::kFloorOnly) {
      for (; next < plan.events.size() && plan.events[next].start < pos + n; ++next) {
        const Placement& e = plan.events[next];
        RealisedEvent r = realise_event(e, pool, params);
        for (float& v : r.samples) v = static_cast<float>(v * e.gain);
        active.push_back({e.start, std::move(r.samples)});
      }
      for (const Active& a : active) {
        const std::size_t b = std::max(a.start, pos), en = std::min(a.start + a.samples.size(), pos + n);
        for (std::size_t i = b; i < en; ++i) chunk[i - pos] += a.samples[i - a.start];
      }
      while (!active.empty() && active.front().start + active.front().samples.size() <= pos + n) active.pop_front();
    }
    sink(chunk);
    pos += n;
  }
}

std::string truth_csv(const LongFormPlan& plan, const std::string& file_name) {
  std::string out = csv_row({"file", "onset_s", "offset_s", "coughs", "bout", "source_id", "snr_db"});
  for (const auto& e : plan.events)
    if (e.kind == EventKind::kCough)
      out += csv_row({file_name, exact_seconds(e.onset), exact_seconds(e.offset), "1", std::to_string(e.bout),
                      e.source_id, fmt::format("{:.2f}", e.snr_db)});
  return out;
}

std::string events_csv(const LongFormPlan& plan, const std::string& file_name) {
  std::string out = csv_row({"file", "kind", "source_id", "segment", "bout", "start_s", "onset_s", "offset_s", "end_s",
                             "speed", "rt60_s", "snr_db", "silence_dbfs"});
  const auto at = exact_seconds;
  auto silence_row = [&](const SilenceStretch& s) {
    return csv_row({file_name, "silence", "", "", "", at(s.begin), at(s.begin), at(s.end), at(s.end), "", "", "",
                    s.level_db <= kDigitalSilenceDb ? "-inf" : fmt::format("{:.2f}", s.level_db)});
  };
  std::size_t k = 0;
  for (const auto& e : plan.events) {
    for (; k < plan.silences.size() && plan.silences[k].begin < e.start; ++k) out += silence_row(plan.silences[k]);
    out += csv_row({file_name, event_kind_name(e.kind), e.source_id, std::to_string(e.segment), std::to_string(e.bout),
                    at(e.start), at(e.onset), at(e.offset), at(e.start + e.length), fmt::format("{:.4f}", e.speed),
                    fmt::format("{:.3f}", e.rt60_s), fmt::format("{:.2f}", e.snr_db), ""});
  }
  for (; k < plan.silences.size(); ++k) out += silence_row(plan.silences[k]);
  return out;
}

// ---- the command ---------------------------------------------------------------------

namespace {

json params_json(const LongFormParams& p) {
  return {{"segment_weights",
           {{"single_cough", p.single_cough_weight},
            {"cough_bout", p.cough_bout_weight},
            {"hard_negative", p.hard_negative_weight},
            {"voice", p.voice_weight},
            {"speech_run", p.speech_run_weight},
            {"silence", p.silence_weight}}},
          {"gap_s", {{"min", p.min_gap_s}, {"mean_extra", p.mean_extra_gap_s}}},
          {"bout_coughs", {p.min_bout_coughs, p.max_bout_coughs}},
          {"max_bout_onset_gap_s", p.max_bout_onset_gap_s},
          {"single_isolation_s", p.single_isolation_s},
          {"cough_snr_db", {p.min_cough_snr_db, p.max_cough_snr_db}},
          {"other_snr_db", {p.min_other_snr_db, p.max_other_snr_db}},
          {"cough_speed", {p.min_cough_speed, p.max_cough_speed}},
          {"voice_speed", {p.min_voice_speed, p.max_voice_speed}},
          {"reverb_probability", p.reverb_probability},
          {"max_peak_dbfs", p.max_peak_dbfs},
          {"floor_dbfs", {p.min_floor_dbfs, p.max_floor_dbfs}},
          {"control_point_spacing_s", {p.min_control_s, p.max_control_s}},
          {"hum_probability", p.hum_probability},
          {"silence_s", {p.min_silence_s, p.max_silence_s}},
          {"silence_ramp_s", p.silence_ramp_s},
          {"digital_silence_probability", p.digital_silence_probability},
          {"truth_rule",
           "onset/offset: first sample / one past the last sample of the placed cough at >= -40 dB re its peak"}};
}

std::size_t cough_sources(const LongFormPool& pool) {
  std::set<const SourceClip*> sources;
  for (const auto& u : pool.coughs) sources.insert(u.source);
  return sources.size();
}

LongFormSummary summarise(const LongFormPlan& plan, const LongFormPool& pool) {
  LongFormSummary s;
  s.hours = seconds_of(plan.frames) / 3600.0;
  s.bouts = plan.bouts;
  for (const auto& e : plan.events) {
    switch (e.kind) {
      case EventKind::kCough:
        ++s.coughs;
        ++(e.bout ? s.bout_coughs : s.single_coughs);
        break;
      case EventKind::kHard: ++s.hard; break;
      case EventKind::kVoice: ++s.voices; break;
      case EventKind::kSpeech: ++s.speech; break;
    }
  }
  s.silences = static_cast<int>(plan.silences.size());
  for (const auto& st : plan.silences) s.silence_s += seconds_of(st.end - st.begin);
  s.cough_units = pool.coughs.size();
  s.cough_sources = cough_sources(pool);
  return s;
}

json counts_json(const LongFormSummary& s) {
  return {{"coughs", s.coughs},           {"single_coughs", s.single_coughs}, {"bouts", s.bouts},
          {"bout_coughs", s.bout_coughs}, {"hard_negatives", s.hard},         {"voice_lines", s.voices},
          {"speech_clips", s.speech},     {"silence_stretches", s.silences},  {"silence_s", round_to(s.silence_s, 2)}};
}

// The pool's sources, all of one split, with how often each was placed.
json sources_json(const LongFormPool& pool, const LongFormPlan& plan) {
  std::map<std::string, int> used;
  for (const auto& e : plan.events) ++used[e.source_id];
  json coughs = json::array();
  for (const auto& u : pool.coughs)
    coughs.push_back({{"id", u.id},
                      {"sha256", u.source->sha256},
                      {"duration_s", round_to(seconds_of(u.samples.size()), 4)},
                      {"placed", used[u.id]}});
  auto ids = [&](const std::vector<const SourceClip*>& list) {
    int placed = 0;
    for (const auto* c : list) placed += used[c->id];
    return json{{"available", list.size()}, {"placed", placed}};
  };
  return {{"split", "test"},
          {"cough_units", coughs},
          {"hard", ids(pool.hard)},
          {"voice", ids(pool.voices)},
          {"speech", ids(pool.speech)}};
}

}  // namespace

void LongFormOptions::Validate() const {
  if (out_dir.empty()) throw ConfigError("--out is required");
  if (!(hours >= kMinHours && hours <= kMaxHours))
    throw ConfigError(fmt::format("--hours must be between {} and {} (a 16-bit WAV holds at most ~37 h), got {}",
                                  kMinHours, kMaxHours, hours));
  const auto& p = params;
  auto range = [](double lo, double hi, const char* what) {
    if (!(lo <= hi)) throw ConfigError(fmt::format("long-form {}: min {} > max {}", what, lo, hi));
  };
  range(p.min_cough_snr_db, p.max_cough_snr_db, "cough SNR");
  range(p.min_other_snr_db, p.max_other_snr_db, "SNR");
  range(p.min_floor_dbfs, p.max_floor_dbfs, "floor level");
  range(p.min_silence_s, p.max_silence_s, "silence length");
  if (!(p.min_control_s > 0) || !(p.min_control_s <= p.max_control_s))
    throw ConfigError("long-form control point spacing must be > 0");
  if (p.min_bout_coughs < 2 || p.max_bout_coughs < p.min_bout_coughs)
    throw ConfigError("long-form bouts need 2 or more coughs");
}

LongFormSummary build_long_form(const LongFormOptions& options, const BuildObserver& observer) {
  options.Validate();
  const fs::path out = options.out_dir;
  try {
    fs::create_directories(out);
  } catch (const fs::filesystem_error& e) {
    throw InputError(fmt::format("cannot create the output directory: {}", e.what()));
  }
  auto log = [&](const std::string& m) {
    if (observer.log) observer.log(m);
  };

  // The corpus's sources for --corpus-seed; only its test split is kept (the others' audio is
  // released: memory holds the test split alone).
  BuildOptions corpus;
  corpus.out_dir = out;
  corpus.source_cache = options.source_cache;
  corpus.hedgewars_deb = options.hedgewars_deb;
  corpus.speech_clips = options.speech_clips;
  corpus.seed = options.corpus_seed;
  corpus.jobs = options.jobs;
  corpus.licenses_dir = options.licenses_dir;
  CorpusSources sources = load_corpus_sources(corpus, observer);
  for (auto& c : sources.clips)
    if (c.split != Split::kTest) std::vector<float>().swap(c.samples);
  const LongFormPool pool = make_long_form_pool(sources.clips, Split::kTest);
  log(fmt::format(
      "test split of the corpus with --seed {}: {} cough unit(s) cut from {} cough source(s), {} hard negatives, {} "
      "other voice lines, {} espeak-ng utterances",
      options.corpus_seed, pool.coughs.size(), cough_sources(pool), pool.hard.size(), pool.voices.size(),
      pool.speech.size()));

  const std::size_t frames = samples_of(options.hours * 3600.0);
  const std::string name = fmt::format("long_form_seed{}", options.seed);
  const fs::path wav = out / (name + ".wav");
  const json fingerprint_input = {{"generator", kGeneratorVersion},
                                  {"seed", options.seed},
                                  {"corpus_seed", options.corpus_seed},
                                  {"speech_clips", options.speech_clips},
                                  {"frames", frames},
                                  {"params", params_json(options.params)},
                                  {"hedgewars_deb_sha256", sources.hedgewars_deb_sha256},
                                  {"utterances_sha256", sources.utterances_sha256}};
  const std::string fingerprint = sha256_string(fingerprint_input.dump());

  const LongFormPlan plan = plan_long_form(pool, options.params, frames, options.seed);
  LongFormSummary summary = summarise(plan, pool);
  summary.wav = wav;
  summary.truth = out / "truth.csv";
  summary.events = out / "events.csv";
  summary.manifest = out / "long_form.json";
  summary.hedgewars_version = sources.hedgewars_version;
  summary.espeak_version = sources.espeak_version;

  // A complete earlier run of the same set: nothing to do.
  if (fs::is_regular_file(summary.manifest) && fs::is_regular_file(summary.truth) &&
      fs::is_regular_file(summary.events) && fs::is_regular_file(wav) && fs::file_size(wav) == 44 + 2 * frames) {
    try {
      const json old = json::parse(read_file(summary.manifest));
      if (old.value("fingerprint", "") == fingerprint) {
        summary.already_complete = true;
        summary.wav_sha256 = old.at("audio_sha256").get<std::string>();
        log(fmt::format("{} already holds this long-form set (same options and sources): nothing to do", out.string()));
        return summary;
      }
    } catch (const std::exception&) {
      // unreadable: build it again
    }
  }
  fs::remove(summary.manifest);
  // Sets of other seeds written here earlier would no longer match truth.csv.
  const std::regex ours(R"(long_form_seed[0-9]+\.wav)");
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(out))
    if (std::regex_match(e.path().filename().string(), ours) && e.path() != wav) stale.push_back(e.path());
  for (const auto& p : stale) fs::remove(p);

  // The audio, 10 s at a time.
  constexpr std::size_t kChunk = 10 * kMixRate;
  const std::size_t chunks = (frames + kChunk - 1) / kChunk;
  if (observer.stage) observer.stage("rendering the long-form recording", chunks);
  WavStreamWriter writer(wav, kMixRate, frames);
  std::size_t done = 0;
  render_long_form(plan, pool, options.params, options.seed, kChunk, [&](std::span<const float> chunk) {
    writer.write(chunk);
    done += chunk.size();
    if (observer.advance) observer.advance(fmt::format("{:.1f} min", seconds_of(done) / 60));
  });
  summary.wav_sha256 = writer.finish();

  write_file_atomic(summary.truth, truth_csv(plan, wav.filename().string()));
  write_file_atomic(summary.events, events_csv(plan, wav.filename().string()));
  const json manifest = {
      {"format", "coughkit-long-form"},
      {"format_version", 1},
      {"generator", kGeneratorVersion},
      {"fingerprint", fingerprint},
      {"coughkit_version", version_string()},
      {"command_line", options.command_line},
      {"seed", options.seed},
      {"corpus_seed", options.corpus_seed},
      {"speech_clips", options.speech_clips},
      {"hours", options.hours},
      {"frames", frames},
      {"sample_rate", kMixRate},
      {"files", {{"audio", wav.filename().string()}, {"truth", "truth.csv"}, {"events", "events.csv"}}},
      {"audio_sha256", summary.wav_sha256},
      {"counts", counts_json(summary)},
      {"sources", sources_json(pool, plan)},
      {"versions",
       {{"hedgewars-data", sources.hedgewars_version},
        {"hedgewars_deb_sha256", sources.hedgewars_deb_sha256},
        {"espeak-ng", sources.espeak_version}}},
      {"params", params_json(options.params)}};
  write_file_atomic(summary.manifest, manifest.dump(2) + "\n");
  return summary;
}

}  // namespace coughkit::dataset
