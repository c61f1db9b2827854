#pragma once
// Scores a recording of any length window by window (docs/pipeline.md section 9) and keeps
// a loudness envelope for locating coughs (events.h). The recording is decoded as a stream:
// memory holds one window and one read block of native-rate audio, a few batches of
// features, and the results (4 bytes per window, 4 per 10 ms of envelope), whatever the
// recording's length.
//
// Each window is cut out of the decoded audio and run through Detector::preprocess as a clip
// of its own (peak normalisation over that window, mono, resampling of that window, its
// segments, images) and the model: its score is the bag probability the reference gives the
// same stretch uploaded as a file. Windows are batched for the model; decoding and features
// run on a second thread while the model runs.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "audio/decoder.h"
#include "detection/detector.h"
#include "monitoring/window_plan.h"

namespace coughkit::monitoring {

struct TrackOptions {
  WindowOptions windows{};
  int batch_windows = 8;            // windows per model run
  double envelope_frame_s = 0.010;  // loudness envelope resolution

  void Validate() const;  // throws ConfigError
};

struct WindowTrack {
  WindowOptions windows{};
  int sample_rate = 0, channels = 0;
  std::string codec;
  std::int64_t frames = 0;  // of the whole recording, native rate
  double duration_s() const { return sample_rate > 0 ? static_cast<double>(frames) / sample_rate : 0.0; }
  // Bag probability of window i, which starts at i * hop_s.
  std::vector<float> probabilities;
  // 10 log10(mean square + 1e-12) of the recording's mono mix (mean of the channels, as
  // decoded) over consecutive frames of envelope_frame_s.
  double envelope_frame_s = 0.010;
  std::vector<float> envelope_db;
};

// Thrown out of score_recording when its progress callback asks it to stop.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

// Called with the seconds of audio decoded so far; returning false cancels.
using ProgressFn = std::function<bool(double seconds_decoded)>;

// Throws InputError for undecodable audio (with what was scored lost), Cancelled.
WindowTrack score_recording(const detection::Detector& detector, audio::AudioStream& stream,
                            const TrackOptions& options, const ProgressFn& progress = {});

}  // namespace coughkit::monitoring
