// decode_file/decode_memory: load the FFmpeg module (ffmpeg_decoder.cpp, built as
// libcoughkit_ffmpeg.so) on first use and forward to it. See ffmpeg_decoder.cpp for why it
// is a module, and common/module_loader.h for where it is looked for.
#include <mutex>
#include <stdexcept>

#include "audio/decoder_backend.h"
#include "common/module_loader.h"

namespace coughkit::audio {
namespace {

const DecoderBackend& backend() {
  static const DecoderBackend* loaded = nullptr;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      loaded = static_cast<const DecoderBackend*>(load_module({.file_name = "libcoughkit_ffmpeg.so",
                                                               .env_var = "COUGHKIT_FFMPEG_MODULE",
                                                               .entry_symbol = "coughkit_ffmpeg_decoder_backend",
                                                               .abi = kDecoderBackendAbi,
                                                               .purpose = "the FFmpeg decoder module"}));
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  });
  if (!loaded) throw std::runtime_error(error);
  return *loaded;
}

}  // namespace

DecodedAudio decode_file(const std::string& path, const DecodeLimits& limits) { return backend().decode_file(path, limits); }

DecodedAudio decode_memory(std::span<const std::uint8_t> bytes, const std::string& name, const DecodeLimits& limits) {
  return backend().decode_memory(bytes, name, limits);
}

}  // namespace coughkit::audio
