#pragma once
// The interface between decoder.cpp and the FFmpeg module (libcoughkit_ffmpeg.so) it loads
// on first use. Both are built from the same tree; kDecoderBackendAbi guards against a
// stale module from another build.
#include "audio/decoder.h"

namespace coughkit::audio {

inline constexpr int kDecoderBackendAbi = 2;

struct DecoderBackend {
  int abi;
  DecodedAudio (*decode_file)(const std::string& path, const DecodeLimits& limits);
  DecodedAudio (*decode_memory)(std::span<const std::uint8_t> bytes, const std::string& name,
                                const DecodeLimits& limits);
  std::unique_ptr<AudioStream> (*open_stream_file)(const std::string& path);
  std::unique_ptr<AudioStream> (*open_stream_memory)(std::span<const std::uint8_t> bytes, const std::string& name);
};

}  // namespace coughkit::audio

// Exported by the module: the address of its DecoderBackend (a ModuleEntry, module_loader.h).
extern "C" const void* coughkit_ffmpeg_decoder_backend();
