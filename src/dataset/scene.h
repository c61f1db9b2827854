#pragma once
// One scene of the corpus: a background plus events from one split's sources, mixed at
// 16 kHz, resampled to the scene's output rate and peak-normalised. Everything random is
// drawn from the scene's own Rng (seeded from --seed, the split and the index), so a scene
// is the same whichever thread renders it and whatever other scenes exist.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio/sinc_resampler.h"
#include "dataset/sources.h"
#include "dataset/splits.h"

namespace coughkit::dataset {

// The sources one split may draw from.
struct SplitPool {
  std::vector<const SourceClip*> coughs;            // recorded coughs
  std::vector<const SourceClip*> synthetic_coughs;  // from the cough synthesiser (training split only)
  std::vector<const SourceClip*> voices;            // hedgewars non-cough voice lines
  std::vector<const SourceClip*> speech;            // espeak-ng utterances
};

struct SceneParams {
  double min_duration_s = 1.0, max_duration_s = 10.0;  // drawn log-uniformly (short scenes more often)
  double min_snr_db = 0.0, max_snr_db = 30.0;          // each event vs the background over its span
  double min_cough_speed = 0.85, max_cough_speed = 1.15;
  double min_voice_speed = 0.9, max_voice_speed = 1.1;
  double reverb_probability = 0.4;
  double stereo_probability = 0.25;
  double noise_only_probability = 0.25;                // of negative scenes: background alone
  double speech_in_positive_probability = 0.4;         // of positive scenes: speech besides the coughs
  double synthetic_cough_share = 0.5;                  // of cough events, where the pool has synthetic coughs
  double min_peak_dbfs = -12.0, max_peak_dbfs = -1.0;  // final peak level
  std::vector<int> sample_rates = {16000, 22050, 32000, 44100, 48000};
};

struct SceneSpec {
  Split split = Split::kTrain;
  std::size_t index = 0;
  bool positive = false;
  std::uint64_t seed = 0;
  std::string file;  // relative path of the WAV in the dataset directory
};

struct EventRecord {
  std::string source_id;
  SourceKind kind = SourceKind::kVoice;
  double offset_s = 0;    // start of the audible part in the scene
  double duration_s = 0;  // length of the audible part
  bool cropped = false;   // the event runs past the scene's start or end (never for coughs)
  double speed = 1;       // playback speed actually applied
  double snr_db = 0;      // event vs background power over the event's span
  double gain_db = 0;     // applied to the peak-normalised source, final level included
  double pan = 0;         // stereo: left gain 1+pan, right 1-pan
};

struct SceneRecord {
  std::string file;
  Split split = Split::kTrain;
  std::size_t index = 0;
  int label = 0;  // 1 when a cough event is in the scene
  double duration_s = 0;
  std::size_t frames = 0;
  int sample_rate = 16000;
  int channels = 1;
  std::string background;      // white, pink, brown, hum50, hum60, fan, clicks, babble
  double background_dbfs = 0;  // RMS level of the background in the written file
  std::optional<double> rt60_s;
  double reverb_wet_db = 0;
  double peak_dbfs = 0;
  std::vector<EventRecord> events;
  nlohmann::json to_json() const;  // one line of scenes.jsonl
};

struct RenderedScene {
  SceneRecord record;
  std::vector<std::vector<float>> output;  // channels x frames at record.sample_rate, peak < 1
  // Only with keep_stems (tests): 16 kHz mono parts, final gain applied, scene length each.
  // The mono downmix of `output` (before resampling) is background + sum(events).
  std::vector<float> background_stem;
  std::vector<std::vector<float>> event_stems;
  std::vector<std::pair<std::size_t, std::size_t>> event_spans;  // [begin, end) in 16 kHz samples
};

// One resampler per output rate, built once and shared (SincResampler is immutable).
class OutputResamplers {
 public:
  explicit OutputResamplers(const std::vector<int>& rates);
  std::vector<float> to_rate(const std::vector<float>& x16k, int rate) const;

 private:
  std::map<int, std::unique_ptr<audio::SincResampler>> resamplers_;
};

// Throws ConfigError when a positive scene's split has no cough source.
RenderedScene render_scene(const SceneSpec& spec, const SplitPool& pool, const SceneParams& params,
                           const OutputResamplers& resamplers, bool keep_stems = false);

}  // namespace coughkit::dataset
