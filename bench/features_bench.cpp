// Micro-benchmarks of the preprocessing chain (Google Benchmark), single thread.
// The clip: COUGHKIT_BENCH_WAV if set (bench/features_vs_torchaudio.py passes the file it
// also times torchaudio on), else a synthesised 30-s 44.1-kHz stereo clip.
#include <cmath>
#include <cstdlib>
#include <random>

#include <benchmark/benchmark.h>

#include "audio/conditioning.h"
#include "audio/decoder.h"
#include "features/feature_pipeline.h"

namespace {

using namespace coughkit;

const audio::DecodedAudio& bench_clip() {
  static const audio::DecodedAudio clip = [] {
    if (const char* path = std::getenv("COUGHKIT_BENCH_WAV")) return audio::decode_file(path);
    audio::DecodedAudio a;
    a.sample_rate = 44100;
    a.channels = 2;
    std::mt19937 rng(42);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    a.planes.assign(2, std::vector<float>(44100 * 30));
    for (std::size_t i = 0; i < a.planes[0].size(); ++i) {
      const float t = static_cast<float>(i) / 44100.0f;
      a.planes[0][i] = 0.4f * std::sin(2.0f * 3.14159265f * 440.0f * t) + noise(rng);
      a.planes[1][i] = 0.3f * std::sin(2.0f * 3.14159265f * 660.0f * t) + noise(rng);
    }
    return a;
  }();
  return clip;
}

void BM_Condition(benchmark::State& state) {
  const auto& clip = bench_clip();
  for (auto _ : state) benchmark::DoNotOptimize(audio::condition(clip));
  state.counters["audio_s"] = clip.duration_seconds();
}

void BM_MelImages(benchmark::State& state) {
  const auto wave = audio::condition(bench_clip());
  features::SegmentOptions all;
  all.max_segments = 0;  // every window of the clip, not only the first bag's 32
  const features::LogMelImageComputer computer({}, all);
  const auto plan = features::plan_segments(wave.size(), all);
  for (auto _ : state) benchmark::DoNotOptimize(computer.compute(wave, plan));
  state.counters["segments"] = static_cast<double>(plan.starts.size());
}

// What bench/features_vs_torchaudio.py compares with torchaudio: conditioned waveform plus the
// images of every segment of the clip, from decoded samples.
void BM_ConditionAndMelImages(benchmark::State& state) {
  const auto& clip = bench_clip();
  features::PreprocessConfig config;
  config.segments.max_segments = 0;
  const features::FeaturePipeline pipeline(config);
  std::size_t segments = 0;
  for (auto _ : state) {
    auto out = pipeline.run(clip);
    segments = out.num_segments();
    benchmark::DoNotOptimize(out);
  }
  state.counters["segments"] = static_cast<double>(segments);
}

BENCHMARK(BM_Condition)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_MelImages)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_ConditionAndMelImages)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
