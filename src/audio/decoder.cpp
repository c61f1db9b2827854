// decode_file/decode_memory: load the FFmpeg module (ffmpeg_decoder.cpp, built as
// libcoughkit_ffmpeg.so) on first use and forward to it. See ffmpeg_decoder.cpp for why it
// is a module. It is looked for, in order, at $COUGHKIT_FFMPEG_MODULE, next to the program
// (../lib/ and the program's own directory, so build trees and installs both work), then
// through the dynamic linker's search path.
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "audio/decoder_backend.h"

namespace coughkit::audio {
namespace {

constexpr const char* kModuleName = "libcoughkit_ffmpeg.so";

std::vector<std::string> module_candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("COUGHKIT_FFMPEG_MODULE"); env && *env) paths.emplace_back(env);
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&module_candidates), &info) && info.dli_fname) {
    const auto dir = std::filesystem::path(info.dli_fname).parent_path();
    paths.push_back((dir / ".." / "lib" / kModuleName).lexically_normal().string());
    paths.push_back((dir / kModuleName).string());
  }
  paths.emplace_back(kModuleName);
  return paths;
}

const DecoderBackend& backend() {
  static const DecoderBackend* loaded = nullptr;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string tried;
    for (const auto& path : module_candidates()) {
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        tried += fmt::format("\n  {}: {}", path, dlerror());
        continue;
      }
      using Entry = const DecoderBackend* (*)();
      auto entry = reinterpret_cast<Entry>(dlsym(handle, "coughkit_ffmpeg_decoder_backend"));
      const DecoderBackend* candidate = entry ? entry() : nullptr;
      if (!candidate || candidate->abi != kDecoderBackendAbi) {
        tried += fmt::format("\n  {}: not a matching coughkit FFmpeg module", path);
        dlclose(handle);
        continue;
      }
      loaded = candidate;  // the handle stays open for the life of the process
      return;
    }
    error = "the FFmpeg decoder module (" + std::string(kModuleName) + ") could not be loaded; tried:" + tried;
  });
  // Not an InputError: no input is at fault, the installation is broken.
  if (!loaded) throw std::runtime_error(error);
  return *loaded;
}

}  // namespace

DecodedAudio decode_file(const std::string& path, const DecodeLimits& limits) { return backend().decode_file(path, limits); }

DecodedAudio decode_memory(std::span<const std::uint8_t> bytes, const std::string& name, const DecodeLimits& limits) {
  return backend().decode_memory(bytes, name, limits);
}

}  // namespace coughkit::audio
