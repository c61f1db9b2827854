// Audio decoding from memory, as `POST /v1/detect` and the legacy route decode an upload:
// every container and codec FFmpeg knows, with the server's default duration limit.
#include <cstdint>
#include <span>

#include "audio/decoder.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  coughkit::fuzz::expect_clean_refusal("audio_decode", [&] {
    const auto audio = coughkit::audio::decode_memory(std::span(data, size), "fuzz input", {.max_duration_s = 600.0});
    // What the decoder promises of a result: a sane rate, and as many frames in every plane.
    if (audio.sample_rate < 1000 || audio.channels < 1 ||
        audio.planes.size() != static_cast<std::size_t>(audio.channels))
      coughkit::fuzz::report_finding("audio_decode", "decoded audio without a usable rate or channel layout");
    for (const auto& plane : audio.planes)
      if (plane.size() != audio.frames()) coughkit::fuzz::report_finding("audio_decode", "planes of unequal length");
  });
  return 0;
}
