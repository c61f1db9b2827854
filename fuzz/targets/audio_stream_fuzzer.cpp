// Block-by-block decoding (`coughkit monitor`, POST /v1/monitor): open a stream over the
// bytes and read it to the end in monitor-sized blocks.
#include <cstdint>
#include <span>
#include <vector>

#include "audio/decoder.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  coughkit::fuzz::expect_clean_refusal("audio_stream", [&] {
    auto stream = coughkit::audio::open_audio_stream(std::span(data, size), "fuzz input");
    if (stream->sample_rate() < 1000 || stream->channels() < 1)
      coughkit::fuzz::report_finding("audio_stream", "stream opened without a usable rate or channel count");
    std::vector<std::vector<float>> planes;
    // An hour of audio at most: a tiny input of a highly compressed codec may describe a
    // long recording; the harness must not spend minutes on one input.
    const std::size_t max_frames = static_cast<std::size_t>(stream->sample_rate()) * 3600;
    std::size_t frames = 0;
    while (frames < max_frames) {
      planes.clear();
      const std::size_t n = stream->read(planes, 8192);
      if (n == 0) break;
      if (n > 8192 || planes.size() != static_cast<std::size_t>(stream->channels()))
        coughkit::fuzz::report_finding("audio_stream", "read() returned more frames or planes than asked");
      for (const auto& p : planes)
        if (p.size() != n)
          coughkit::fuzz::report_finding("audio_stream", "a plane's length differs from read()'s count");
      frames += n;
    }
  });
  return 0;
}
