#pragma once
// `coughkit dataset long-form --out DIR`: a long labelled recording for benchmarking
// `coughkit monitor` + `coughkit evaluate` (docs/pipeline.md section 11), built from the
// corpus's **test split** only, so a model trained on that corpus's train split meets
// recordings it has never heard.
//
// What it holds (a 16-kHz mono 16-bit WAV of --hours, default 1):
//  - coughs, singly and in bouts of 2-6 (onsets at most 2.8 s apart, under the monitor's 3-s
//    bout gap). A cough source (a hedgewars PoisonCough line) often holds two or more coughs,
//    so it is first cut into single coughs ("units") at its pauses (split_cough_units), and
//    one unit is one labelled cough. A single cough lies at least 3.2 s from any other cough.
//  - hard negatives of the same split: grunts, "ow"/"ouch"/"ooff", laughs, moans and throat
//    sounds (is_hard_negative), other voice lines, and runs of espeak-ng speech;
//  - a noise floor that drifts: its level (-70 to -35 dBFS RMS) and colour (a white/pink/brown
//    mixture, sometimes mains hum) move linearly between control points 15-90 s apart;
//  - silence stretches of 5-60 s (digital silence or -96..-80 dBFS), entered and left
//    through 0.3-s ramps, without events.
// Events never overlap one another. Each is played 0.85-1.15x (coughs) or 0.9-1.1x (others)
// faster or slower by resampling, gets a room reverb with probability 0.3, and is scaled to
// an SNR (coughs 6-30 dB, others 0-30 dB) over the floor's RMS at its midpoint, its peak
// capped at -3 dBFS (the SNR actually reached is recorded).
//
// Truth (the rule `coughkit evaluate --truth` relies on): a cough's onset is the sample at
// which its placed signal (speed-changed, reverberated, scaled) first reaches -40 dB re that
// signal's own peak, its offset one past the last such sample; the times are those sample
// positions / 16000, written exactly (at most 7 decimals).
//
// Outputs in DIR (NAME = long_form_seed<seed>):
//   NAME.wav        the recording, written chunk by chunk (WavStreamWriter): memory does not
//                   grow with --hours
//   truth.csv       file,onset_s,offset_s,coughs,bout,source_id,snr_db: one row per cough
//                   (coughs = 1; bout = the bout's number, 0 for a single cough)
//   events.csv      every placed event, negatives included, and every silence stretch
//   long_form.json  options, counts, sources used (all of split "test"), versions, the
//                   WAV's SHA-256 and a fingerprint; written last, it marks DIR complete
// Deterministic: the same options and sources give the same bytes (every random choice
// comes from an Rng derived from --seed and a purpose; rendering does not depend on the
// chunk size). A re-run into a complete DIR with the same fingerprint only checks it.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dataset/dataset_builder.h"
#include "dataset/sources.h"

namespace coughkit::dataset {

struct LongFormParams {
  // Segment kinds, drawn per slot (weights; a kind whose pool is empty is never drawn).
  double single_cough_weight = 0.22, cough_bout_weight = 0.13, hard_negative_weight = 0.25;
  double voice_weight = 0.15, speech_run_weight = 0.15, silence_weight = 0.10;
  double min_gap_s = 0.5, mean_extra_gap_s = 8.0;  // between segments: min + exponential
  int min_bout_coughs = 2, max_bout_coughs = 6;
  double max_bout_onset_gap_s = 2.8;  // onset to onset inside a bout
  double single_isolation_s = 3.2;    // a single cough's onset vs any other cough's
  double min_cough_snr_db = 6, max_cough_snr_db = 30;
  double min_other_snr_db = 0, max_other_snr_db = 30;
  double min_cough_speed = 0.85, max_cough_speed = 1.15;
  double min_voice_speed = 0.9, max_voice_speed = 1.1;
  double reverb_probability = 0.3;
  double max_peak_dbfs = -3;
  double min_floor_dbfs = -70, max_floor_dbfs = -35;  // floor RMS at a control point
  double min_control_s = 15, max_control_s = 90;      // spacing of control points
  double hum_probability = 0.25;                      // a control point with mains hum
  double min_silence_s = 5, max_silence_s = 60;
  double silence_ramp_s = 0.3;
  double digital_silence_probability = 0.5;  // else -96..-80 dBFS white
};

// ---- sources --------------------------------------------------------------------------

// [begin, end) sample ranges of the single coughs in a cough source: the source is cut at
// the middle of every pause (at least `min_pause_s` of consecutive 10-ms frames more than
// `pause_db` below the source's peak power) that lies between louder frames. A source
// without such a pause is one unit.
std::vector<std::pair<std::size_t, std::size_t>> split_cough_units(std::span<const float> x, double pause_db = -30.0,
                                                                   double min_pause_s = 0.05);

// Grunts, ow/ouch/ooff, laughs, moans, "hmm", "nooo", "uh-oh", punches and jumps: the
// hedgewars lines (by name) most like a cough's burst.
bool is_hard_negative(const SourceClip& clip);

// What the long-form set draws from: the sources of one split (the corpus's test split).
struct CoughUnit {
  std::string id;  // "<source id>#<k>", k from 1
  const SourceClip* source = nullptr;
  std::vector<float> samples;  // the cut, with 5-ms fades where it was cut
};
struct LongFormPool {
  std::vector<CoughUnit> coughs;
  std::vector<const SourceClip*> hard, voices, speech;
};
// The pool of `split`: cough sources cut into units, hedgewars lines sorted into hard
// negatives and other voices, espeak-ng speech. The clips must outlive the pool.
LongFormPool make_long_form_pool(const std::vector<SourceClip>& clips, Split split);

// ---- plan -----------------------------------------------------------------------------

enum class EventKind { kCough, kHard, kVoice, kSpeech };
const char* event_kind_name(EventKind kind);  // "cough", "hard", "voice", "speech"

struct Placement {
  EventKind kind = EventKind::kCough;
  std::size_t source = 0;  // index into the pool's list of that kind
  std::string source_id;
  std::uint64_t seed = 0;  // the event's own Rng: speed and reverb (realise_event)
  std::size_t segment = 0;
  int bout = 0;                       // coughs: 1-based bout number, 0 for a single cough
  std::size_t start = 0;              // first sample of the realised signal in the file
  std::size_t length = 0;             // of the realised signal
  std::size_t onset = 0, offset = 0;  // audible part (the truth rule above), absolute samples
  double gain = 1;                    // applied to the realised signal
  double snr_db = 0;                  // reached: event RMS over [onset, offset) vs the floor's RMS
  double speed = 1;
  double rt60_s = 0;  // 0: no reverb
};

// The floor's state at a control point; between points everything moves linearly.
struct FloorPoint {
  std::size_t at = 0;                              // sample
  double level_db = -50;                           // RMS of the floor, dBFS
  double white = 1, pink = 0, brown = 0, hum = 0;  // component amplitudes, squares sum to 1
};

struct SilenceStretch {
  std::size_t begin = 0, end = 0;
  double level_db = -200;  // RMS of what is left inside (<= -200: digital silence)
};

struct LongFormPlan {
  std::size_t frames = 0;  // at kMixRate
  std::vector<FloorPoint> floor;
  double hum_hz = 50;
  std::vector<double> hum_amplitudes;  // harmonics 1..n, unit RMS in all
  std::vector<double> hum_phases;
  std::vector<Placement> events;  // in time order, non-overlapping
  std::vector<SilenceStretch> silences;
  int bouts = 0;
};

// Plans `frames` samples: floor control points, then segments one after another (the first
// two are a single cough and a bout, in random order, so that even a short set has both).
// Throws ConfigError when the pool has no cough.
LongFormPlan plan_long_form(const LongFormPool& pool, const LongFormParams& params, std::size_t frames,
                            std::uint64_t seed);

// The event's signal before its gain: the source, speed-changed and maybe reverberated, as
// drawn from placement.seed. The same placement always gives the same samples, so the plan
// keeps no audio and the renderer realises each event again when it reaches it.
struct RealisedEvent {
  std::vector<float> samples;
  double speed = 1, rt60_s = 0;
};
RealisedEvent realise_event(const Placement& placement, const LongFormPool& pool, const LongFormParams& params);

// The floor's RMS (linear) at sample i from the control points alone (silences ignored).
double floor_rms_at(const LongFormPlan& plan, std::size_t i);

// Which parts to render (tests look at them apart).
enum class RenderParts { kAll, kFloorOnly, kEventsOnly };
// Renders the plan in chunks of `chunk_frames`, calling sink(chunk) for each in order; the
// output does not depend on chunk_frames. Memory: one chunk plus the events under it.
void render_long_form(const LongFormPlan& plan, const LongFormPool& pool, const LongFormParams& params,
                      std::uint64_t seed, std::size_t chunk_frames,
                      const std::function<void(std::span<const float>)>& sink, RenderParts parts = RenderParts::kAll);

std::string truth_csv(const LongFormPlan& plan, const std::string& file_name);
std::string events_csv(const LongFormPlan& plan, const std::string& file_name);

// ---- the command ----------------------------------------------------------------------

struct LongFormOptions {
  std::filesystem::path out_dir;
  std::filesystem::path source_cache;  // empty: out_dir / "sources"
  std::optional<std::filesystem::path> hedgewars_deb;
  double hours = 1.0;
  std::uint64_t seed = 1;          // the long-form set's own choices
  std::uint64_t corpus_seed = 1;   // the corpus's --seed: decides which sources are "test"
  std::size_t speech_clips = 160;  // the corpus's --speech-clips (it decides the speech sources)
  unsigned jobs = 0;
  std::string command_line;
  std::filesystem::path licenses_dir = "/usr/share/common-licenses";
  LongFormParams params;
  static constexpr double kMinHours = 0.01, kMaxHours = 24.0;
  void Validate() const;  // ConfigError naming the flag
};

struct LongFormSummary {
  bool already_complete = false;
  std::filesystem::path wav, truth, events, manifest;
  double hours = 0;
  int coughs = 0, single_coughs = 0, bouts = 0, bout_coughs = 0;
  int hard = 0, voices = 0, speech = 0, silences = 0;
  double silence_s = 0;
  std::size_t cough_units = 0, cough_sources = 0;  // in the pool
  std::string wav_sha256, hedgewars_version, espeak_version;
};

// Loads the corpus's sources (load_corpus_sources with corpus_seed and speech_clips), keeps
// the test split, plans, renders and writes the files. Throws as build_dataset does.
LongFormSummary build_long_form(const LongFormOptions& options, const BuildObserver& observer = {});

}  // namespace coughkit::dataset
