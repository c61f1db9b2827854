#pragma once
// Audio decoding with FFmpeg's libavformat/libavcodec (docs/pipeline.md section 1).
// Every container/codec FFmpeg knows is accepted; the formats the project tests are
// WAV (u8, s16, s24, s32, f32, f64), FLAC, MP3, OGG/Vorbis, Opus, WebM/Opus, M4A/AAC.
//
// Thread safety: the functions are reentrant; each call owns its FFmpeg contexts.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace coughkit::audio {

// Decoded audio at its native rate and channel count, samples as float32.
// Integer PCM is scaled by its full scale (s16: 1/32768, s24: 1/8388608, s32: 1/2^31);
// u8 is centred first, (v - 128) / 128.
struct DecodedAudio {
  int sample_rate = 0;
  int channels = 0;
  // channels x frames, one vector per channel (planar).
  std::vector<std::vector<float>> planes;
  std::string codec;  // FFmpeg codec name, e.g. "pcm_s16le", "opus"

  std::size_t frames() const { return planes.empty() ? 0 : planes.front().size(); }
  double duration_seconds() const {
    return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0;
  }
};

struct DecodeLimits {
  // Refuse to decode more than this many seconds of audio (protects memory); 0 = no limit.
  double max_duration_s = 0.0;
};

// Decodes a file. Throws coughkit::InputError naming the file and the reason when it
// cannot be opened, is not audio, is truncated/corrupt beyond the first packet, holds no
// samples, has an absurd rate (< 1000 Hz or > 768 kHz), or contains NaN/Inf samples.
DecodedAudio decode_file(const std::string& path, const DecodeLimits& limits = {});

// Decodes an in-memory file (e.g. an HTTP upload). `name` is used in error messages only.
DecodedAudio decode_memory(std::span<const std::uint8_t> bytes, const std::string& name,
                           const DecodeLimits& limits = {});

}  // namespace coughkit::audio
