#pragma once
// Audio decoding with FFmpeg's libavformat/libavcodec (docs/pipeline.md section 1).
// Every container/codec FFmpeg knows is accepted; the formats the project tests are
// WAV (u8, s16, s24, s32, f32, f64), FLAC, MP3, OGG/Vorbis, Opus, WebM/Opus, M4A/AAC.
//
// Thread safety: the functions are reentrant; each call owns its FFmpeg contexts.
#include <cstdint>
#include <memory>
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
  double duration_seconds() const { return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0; }
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

// A recording decoded block by block, for recordings of any length (`coughkit monitor`):
// memory is the blocks the caller asks for, never the whole file. Samples are scaled as in
// DecodedAudio; damage is handled as decode_file handles it.
class AudioStream {
 public:
  virtual ~AudioStream() = default;
  // Of the decoded audio (known from the first decoded frame, on opening).
  virtual int sample_rate() const = 0;
  virtual int channels() const = 0;
  virtual std::string codec() const = 0;
  // The container's own duration in seconds, 0 when it gives none (for progress only).
  virtual double duration_hint_s() const = 0;
  // The container's creation_time tag (ISO 8601, e.g. "2026-12-01T22:30:00.000000Z"), or "".
  virtual std::string creation_time() const = 0;
  // Appends the next frames, at most `max_frames`, to `planes` (resized to one vector per
  // channel). Returns the number appended: fewer than max_frames only at the end, 0 once it
  // is reached. Throws InputError for NaN/Inf samples or a mid-stream format change.
  virtual std::size_t read(std::vector<std::vector<float>>& planes, std::size_t max_frames) = 0;
};

// Throws InputError naming the file when it cannot be opened or holds no decodable audio.
std::unique_ptr<AudioStream> open_audio_stream(const std::string& path);
// The same over bytes in memory, which must outlive the stream.
std::unique_ptr<AudioStream> open_audio_stream(std::span<const std::uint8_t> bytes, const std::string& name);

}  // namespace coughkit::audio
