#pragma once
// Conditioning (docs/pipeline.md section 2, the reference's `load_audio`): decoded audio at any
// rate and channel count -> the mono 16 kHz waveform the features are computed from.
#include <span>
#include <string>
#include <vector>

#include "audio/decoder.h"

namespace coughkit::audio {

struct ConditionOptions {
  int target_rate = 16000;   // the model's rate; fixed by training
  float highpass_hz = 0.0f;  // 0 = off (the default: the published training never filtered)

  void Validate() const;  // throws ConfigError naming the field
  std::string ToString() const;
};

// 1. peak-normalise over all channels together (x /= max|x| when max|x| > 0);
// 2. mono: mean over channels;
// 3. resample to target_rate as torchaudio.transforms.Resample;
// 4. optional high-pass biquad with torchaudio semantics.
// Throws InputError when the audio holds no samples or non-finite values.
std::vector<float> condition(const DecodedAudio& audio, const ConditionOptions& options = {});

}  // namespace coughkit::audio
