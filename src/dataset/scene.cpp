#include "dataset/scene.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "dataset/mixing.h"

namespace coughkit::dataset {
namespace {

// Rounded to `decimals` places (dividing by a power of ten gives the shortest JSON text).
double round_to(double v, int decimals) {
  const double k = std::pow(10.0, decimals);
  return std::round(v * k) / k;
}
double db(double power) { return power > 0 ? 10.0 * std::log10(power) : -200.0; }

struct Event {
  const SourceClip* source = nullptr;
  std::vector<float> signal;  // speed-changed, reverberated, not yet scaled
  double speed = 1;
  long long offset = 0;  // may be negative (cropped speech)
  double snr_db = 0;
  double pan = 0;
};

Event make_event(const SourceClip* src, double min_speed, double max_speed, const std::vector<float>& ir, Rng& rng) {
  Event e;
  e.source = src;
  const double factor = rng.uniform(min_speed, max_speed);
  e.speed = static_cast<double>(kMixRate) / speed_change_rate(factor);
  e.signal = change_speed(src->samples, factor);
  // The reverberant tail belongs to the event (it must end inside the scene for a cough);
  // it is cut where it has decayed 50 dB below the event's peak.
  if (!ir.empty()) e.signal = trim_silence(convolve(e.signal, ir), -50.0, 0);
  return e;
}

const SourceClip* pick_other(const SplitPool& pool, Rng& rng) {
  const bool have_voice = !pool.voices.empty(), have_speech = !pool.speech.empty();
  if (!have_voice && !have_speech) return nullptr;
  const bool voice = have_voice && (!have_speech || rng.chance(0.5));
  const auto& v = voice ? pool.voices : pool.speech;
  return v[rng.index(v.size())];
}

// Several streams of back-to-back clips from the split's own voices and speech, summed.
std::vector<float> babble(std::size_t n, const SplitPool& pool, Rng& rng) {
  std::vector<float> out(n, 0.0f);
  const int streams = static_cast<int>(rng.integer(3, 6));
  for (int s = 0; s < streams; ++s) {
    const double gain = std::pow(10.0, rng.uniform(-6.0, 0.0) / 20.0);
    long long pos = -rng.integer(0, kMixRate);
    while (pos < static_cast<long long>(n)) {
      const SourceClip* clip = pick_other(pool, rng);
      const auto& x = clip->samples;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const long long t = pos + static_cast<long long>(i);
        if (t >= 0 && t < static_cast<long long>(n))
          out[static_cast<std::size_t>(t)] += static_cast<float>(gain * x[i]);
      }
      pos += static_cast<long long>(x.size()) + rng.integer(kMixRate / 20, kMixRate * 2 / 5);
    }
  }
  const double p = mean_power(out);
  if (p > 0)
    for (float& v : out) v = static_cast<float>(v / std::sqrt(p));
  return out;
}

// ---------------------------------------------------------------------------------------
// render_scene's steps, in the order they draw from the scene's Rng (the order is part of
// the output: changing it changes every scene).

// Length (16 kHz samples), output rate and channel count.
std::size_t choose_format(const SceneParams& params, SceneRecord& rec, Rng& rng) {
  const double seconds = rng.log_uniform(params.min_duration_s, params.max_duration_s);
  const auto n = static_cast<std::size_t>(std::llround(seconds * kMixRate));
  rec.sample_rate = params.sample_rates[rng.index(params.sample_rates.size())];
  rec.channels = rng.chance(params.stereo_probability) ? 2 : 1;
  return n;
}

// The room's impulse response (empty: no reverb), shared by every event of the scene.
std::vector<float> choose_reverb(const SceneParams& params, SceneRecord& rec, Rng& rng) {
  if (!rng.chance(params.reverb_probability)) return {};
  rec.rt60_s = rng.uniform(0.15, 0.8);
  rec.reverb_wet_db = rng.uniform(-12.0, -3.0);
  return room_impulse_response(*rec.rt60_s, rec.reverb_wet_db, rng);
}

// One to three coughs, entirely inside the scene and not overlapping each other; the scene
// (`n` samples) is lengthened when even one cough would not fit.
std::vector<Event> place_coughs(const SplitPool& pool, const SceneParams& params, const std::vector<float>& ir,
                                std::size_t& n, Rng& rng) {
  std::vector<Event> events;
  const double u = rng.uniform();
  std::size_t count = u < 0.5 ? 1 : u < 0.8 ? 2 : 3;
  for (std::size_t k = 0; k < count; ++k) {
    // The draw between synthetic and recorded happens only where there are synthetic ones,
    // so a corpus without them is the same as before they existed.
    const bool synthetic = !pool.synthetic_coughs.empty() && rng.chance(params.synthetic_cough_share);
    const auto& from = synthetic ? pool.synthetic_coughs : pool.coughs;
    events.push_back(make_event(from[rng.index(from.size())], params.min_cough_speed, params.max_cough_speed, ir, rng));
  }
  auto total = [&] {
    std::size_t t = 0;
    for (const auto& e : events) t += e.signal.size();
    return t;
  };
  while (events.size() > 1 && total() > n) events.pop_back();
  const auto margin = static_cast<std::size_t>(rng.uniform(0.05, 0.3) * kMixRate);
  if (total() > n) n = total() + margin;
  std::vector<std::size_t> lengths;
  for (const auto& e : events) lengths.push_back(e.signal.size());
  const auto offsets = place_non_overlapping(lengths, n, rng);
  for (std::size_t k = 0; k < events.size(); ++k) events[k].offset = static_cast<long long>(offsets[k]);
  return events;
}

// Voices and speech besides the coughs (or instead of them), anywhere: they may overlap,
// cover the whole scene or run over an edge.
void add_other_events(const SceneSpec& spec, const SplitPool& pool, const SceneParams& params,
                      const std::vector<float>& ir, std::size_t n, Rng& rng, std::vector<Event>& events) {
  std::size_t others = 0;
  if (spec.positive ? rng.chance(params.speech_in_positive_probability) : !rng.chance(params.noise_only_probability))
    others = static_cast<std::size_t>(spec.positive ? rng.integer(1, 2) : rng.integer(1, 3));
  for (std::size_t k = 0; k < others; ++k) {
    const SourceClip* src = pick_other(pool, rng);
    if (!src) break;
    Event e = make_event(src, params.min_voice_speed, params.max_voice_speed, ir, rng);
    const auto len = static_cast<long long>(e.signal.size()), total = static_cast<long long>(n);
    long long lo = 0, hi = total - len;  // fully inside ...
    if (len > total) {
      lo = total - len, hi = 0;  // ... or covering the whole scene ...
    } else if (rng.chance(0.3)) {
      lo = -len / 3, hi = total - 2 * len / 3;  // ... or running over an edge by up to a third
    }
    e.offset = rng.integer(lo, hi);
    events.push_back(std::move(e));
  }
}

// A synthetic noise (or babble from this split's own clips) under a quieter white floor, so
// no scene is digitally silent.
std::vector<float> make_background(std::size_t n, const SplitPool& pool, SceneRecord& rec, Rng& rng) {
  const bool can_babble = !pool.voices.empty() || !pool.speech.empty();
  const std::size_t kinds = can_babble ? 8 : 7;
  const std::size_t kind = rng.index(kinds);
  std::vector<float> bg;
  if (kind == 7) {
    rec.background = "babble";
    bg = babble(n, pool, rng);
  } else {
    const auto nk = static_cast<NoiseKind>(kind);
    rec.background = noise_name(nk);
    bg = synth_noise(nk, n, rng);
  }
  if (rec.background != "white") {
    const double floor = std::pow(10.0, rng.uniform(-50.0, -30.0) / 20.0);
    for (float& v : bg) v += static_cast<float>(floor * rng.normal());
  }
  for (float& v : bg) v *= 0.05f;
  return bg;
}

// The 16 kHz mix: the background, then each event scaled to its SNR against the background
// over the event's span (the part inside the scene).
struct Mix {
  std::vector<std::vector<float>> channels;
  std::vector<double> gains;                               // per event
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // per event: [begin, end) in the scene
};

Mix mix_scene(std::size_t n, const std::vector<float>& bg, double bg_pan, const std::vector<Event>& events,
              int channels) {
  const bool stereo = channels == 2;
  Mix mix;
  mix.channels.assign(channels, std::vector<float>(n, 0.0f));
  auto add = [&](const float* x, std::size_t at, std::size_t len, double gain, double pan) {
    for (int c = 0; c < channels; ++c) {
      const double g = gain * (stereo ? (c == 0 ? 1.0 + pan : 1.0 - pan) : 1.0);
      float* dst = mix.channels[c].data() + at;
      for (std::size_t i = 0; i < len; ++i) dst[i] += static_cast<float>(g * x[i]);
    }
  };
  add(bg.data(), 0, n, 1.0, bg_pan);
  for (const auto& e : events) {
    const long long begin = std::max<long long>(0, e.offset);
    const long long end =
        std::min<long long>(static_cast<long long>(n), e.offset + static_cast<long long>(e.signal.size()));
    const auto b = static_cast<std::size_t>(begin), en = static_cast<std::size_t>(std::max(begin, end));
    const std::span<const float> visible(e.signal.data() + static_cast<std::size_t>(begin - e.offset), en - b);
    const double pe = mean_power(visible);
    const double pb = mean_power(std::span<const float>(bg.data() + b, en - b));
    const double g = pe > 0 && pb > 0 ? gain_for_snr(pe, pb, e.snr_db) : 0.0;
    add(visible.data(), b, visible.size(), g, e.pan);
    mix.gains.push_back(g);
    mix.spans.emplace_back(b, en);
  }
  return mix;
}

// The record's levels and events once the final gain is known.
void record_result(std::size_t n, const std::vector<Event>& events, const Mix& mix, const std::vector<float>& bg,
                   double final_gain, const RenderedScene& out, SceneRecord& rec) {
  rec.duration_s = static_cast<double>(n) / kMixRate;
  rec.frames = out.output.front().size();
  rec.peak_dbfs = 20.0 * std::log10(std::max(1e-10f, peak_abs(out.output)));
  rec.background_dbfs = db(mean_power(bg) * final_gain * final_gain);
  for (std::size_t k = 0; k < events.size(); ++k) {
    const auto& e = events[k];
    EventRecord r;
    r.source_id = e.source->id;
    r.kind = e.source->kind;
    r.offset_s = static_cast<double>(mix.spans[k].first) / kMixRate;
    r.duration_s = static_cast<double>(mix.spans[k].second - mix.spans[k].first) / kMixRate;
    r.cropped = e.offset < 0 || e.offset + static_cast<long long>(e.signal.size()) > static_cast<long long>(n);
    r.speed = e.speed;
    r.snr_db = e.snr_db;
    r.gain_db = 20.0 * std::log10(std::max(1e-10, mix.gains[k] * final_gain));
    r.pan = e.pan;
    rec.events.push_back(r);
  }
}

// The background and each event alone at the final level, at 16 kHz (for tests).
void fill_stems(std::size_t n, const std::vector<Event>& events, const Mix& mix, const std::vector<float>& bg,
                double final_gain, RenderedScene& out) {
  out.background_stem.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.background_stem[i] = static_cast<float>(bg[i] * final_gain);
  for (std::size_t k = 0; k < events.size(); ++k) {
    std::vector<float> stem(n, 0.0f);
    const auto& e = events[k];
    for (std::size_t i = mix.spans[k].first; i < mix.spans[k].second; ++i)
      stem[i] = static_cast<float>(e.signal[static_cast<std::size_t>(static_cast<long long>(i) - e.offset)] *
                                   mix.gains[k] * final_gain);
    out.event_stems.push_back(std::move(stem));
  }
  out.event_spans = mix.spans;
}

}  // namespace

nlohmann::json SceneRecord::to_json() const {
  nlohmann::json events_json = nlohmann::json::array();
  for (const auto& e : events)
    events_json.push_back({{"source_id", e.source_id},
                           {"kind", source_kind_name(e.kind)},
                           {"offset_s", round_to(e.offset_s, 4)},
                           {"duration_s", round_to(e.duration_s, 4)},
                           {"cropped", e.cropped},
                           {"speed", round_to(e.speed, 4)},
                           {"snr_db", round_to(e.snr_db, 2)},
                           {"gain_db", round_to(e.gain_db, 2)},
                           {"pan", round_to(e.pan, 3)}});
  nlohmann::json j = {{"file", file},
                      {"split", split_name(split)},
                      {"label", label},
                      {"duration_s", round_to(duration_s, 4)},
                      {"frames", frames},
                      {"sample_rate", sample_rate},
                      {"channels", channels},
                      {"background", background},
                      {"background_dbfs", round_to(background_dbfs, 2)},
                      {"reverb_rt60_s", rt60_s ? nlohmann::json(round_to(*rt60_s, 3)) : nlohmann::json(nullptr)},
                      {"reverb_wet_db", rt60_s ? nlohmann::json(round_to(reverb_wet_db, 2)) : nlohmann::json(nullptr)},
                      {"peak_dbfs", round_to(peak_dbfs, 2)},
                      {"events", events_json}};
  return j;
}

OutputResamplers::OutputResamplers(const std::vector<int>& rates) {
  for (int r : rates)
    if (r != kMixRate && !resamplers_.count(r)) resamplers_[r] = std::make_unique<audio::SincResampler>(kMixRate, r);
}

std::vector<float> OutputResamplers::to_rate(const std::vector<float>& x16k, int rate) const {
  if (rate == kMixRate) return x16k;
  const auto it = resamplers_.find(rate);
  if (it == resamplers_.end()) throw ConfigError(fmt::format("no resampler for output rate {}", rate));
  return it->second->process(x16k);
}

RenderedScene render_scene(const SceneSpec& spec, const SplitPool& pool, const SceneParams& params,
                           const OutputResamplers& resamplers, bool keep_stems) {
  if (spec.positive && pool.coughs.empty())
    throw ConfigError(
        fmt::format("split {} has no cough source for positive scene {}", split_name(spec.split), spec.index));
  if (params.sample_rates.empty()) throw ConfigError("SceneParams.sample_rates is empty");
  Rng rng(spec.seed);
  RenderedScene out;
  SceneRecord& rec = out.record;
  rec.file = spec.file;
  rec.split = spec.split;
  rec.index = spec.index;
  rec.label = spec.positive ? 1 : 0;

  std::size_t n = choose_format(params, rec, rng);
  const bool stereo = rec.channels == 2;
  const std::vector<float> ir = choose_reverb(params, rec, rng);
  // Events: coughs first (they may lengthen the scene), then the others.
  std::vector<Event> events = spec.positive ? place_coughs(pool, params, ir, n, rng) : std::vector<Event>{};
  add_other_events(spec, pool, params, ir, n, rng, events);
  for (auto& e : events) {
    e.snr_db = rng.uniform(params.min_snr_db, params.max_snr_db);
    e.pan = stereo ? rng.uniform(-0.3, 0.3) : 0.0;
  }
  const std::vector<float> bg = make_background(n, pool, rec, rng);
  const double bg_pan = stereo ? rng.uniform(-0.1, 0.1) : 0.0;
  Mix mix = mix_scene(n, bg, bg_pan, events, rec.channels);

  // Output rate, then the final level (after resampling, whose ringing can raise the peak).
  for (auto& c : mix.channels) c = resamplers.to_rate(c, rec.sample_rate);
  const double target_peak = std::pow(10.0, rng.uniform(params.min_peak_dbfs, params.max_peak_dbfs) / 20.0);
  const double final_gain = normalize_peak(mix.channels, target_peak);
  out.output = std::move(mix.channels);
  record_result(n, events, mix, bg, final_gain, out, rec);
  if (keep_stems) fill_stems(n, events, mix, bg, final_gain, out);
  return out;
}

}  // namespace coughkit::dataset
