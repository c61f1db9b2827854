// decode_file/decode_memory: load the FFmpeg module (ffmpeg_decoder.cpp, built as
// libcoughkit_ffmpeg.so) on first use and forward to it. See ffmpeg_decoder.cpp for why it
// is a module, and modules/module_loader.h for where it is looked for.
#include "audio/decoder_backend.h"
#include "modules/module_loader.h"

namespace coughkit::audio {
namespace {

const DecoderBackend& backend() {
  static LazyModule<DecoderBackend> module({.file_name = "libcoughkit_ffmpeg.so",
                                            .env_var = "COUGHKIT_FFMPEG_MODULE",
                                            .entry_symbol = "coughkit_ffmpeg_decoder_backend",
                                            .abi = kDecoderBackendAbi,
                                            .purpose = "the FFmpeg decoder module"});
  return module.get();
}

}  // namespace

DecodedAudio decode_file(const std::string& path, const DecodeLimits& limits) {
  return backend().decode_file(path, limits);
}

DecodedAudio decode_memory(std::span<const std::uint8_t> bytes, const std::string& name, const DecodeLimits& limits) {
  return backend().decode_memory(bytes, name, limits);
}

std::unique_ptr<AudioStream> open_audio_stream(const std::string& path) { return backend().open_stream_file(path); }

std::unique_ptr<AudioStream> open_audio_stream(std::span<const std::uint8_t> bytes, const std::string& name) {
  return backend().open_stream_memory(bytes, name);
}

}  // namespace coughkit::audio
