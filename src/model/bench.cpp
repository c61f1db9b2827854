#include "model/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_text.h"
#include "model/cpu_features.h"

namespace coughkit::model {

std::string BenchResult::ToJson() const {
  nlohmann::ordered_json j;
  j["engine"] = "coughkit";
  j["segments"] = segments;
  j["threads"] = threads;
  j["repeat"] = repeat;
  j["ms_per_bag_median"] = ms_per_bag_median;
  j["ms_per_bag_min"] = ms_per_bag_min;
  j["ms_per_bag_mean"] = ms_per_bag_mean;
  j["ms_per_segment_median"] = ms_per_bag_median / segments;
  j["gflops"] = gflops_per_s;
  j["conv_algorithms"] = conv_algorithms;
  j["isa"] = isa;
  j["own_avx2_kernels"] = own_avx2_kernels;
  j["kernels"] = kernels;
  return json_text(j);
}

BenchResult bench_engine(const Engine& engine, int segments, int repeat, int warmup) {
  if (segments < 1 || repeat < 1 || warmup < 0) throw ConfigError("bench: segments and repeat must be >= 1");
  // Mel-like synthetic images: a smooth ramp with ripples, letterbox rows at -1.
  std::vector<float> images(static_cast<std::size_t>(segments) * kImageSize * kImageSize, -1.f);
  for (int s = 0; s < segments; ++s)
    for (int y = 23; y < 201; ++y)
      for (int x = 0; x < kImageSize; ++x)
        images[(static_cast<std::size_t>(s) * kImageSize + y) * kImageSize + x] =
            std::sin(0.05f * static_cast<float>(x * (s + 1)) + 0.03f * static_cast<float>(y)) * 0.9f;
  std::vector<float> input(static_cast<std::size_t>(segments) * kSegmentValues);
  images_to_model_input(images, segments, input);
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(segments), 1);
  for (int i = 0; i < warmup; ++i) engine.run(1, segments, input, mask);
  std::vector<double> ms;
  for (int i = 0; i < repeat; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    engine.run(1, segments, input, mask);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  BenchResult r;
  r.segments = segments;
  r.threads = engine.threads();
  r.repeat = repeat;
  r.ms_per_bag_median =
      sorted.size() % 2 ? sorted[sorted.size() / 2] : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  r.ms_per_bag_min = sorted.front();
  r.ms_per_bag_mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  r.gflops_per_s = engine.flops_per_segment() * segments / (r.ms_per_bag_median * 1e6);
  r.conv_algorithms = engine.conv_algorithms();
  r.isa = onednn_isa();
  r.own_avx2_kernels = own_avx2_kernels_enabled();
  r.kernels = engine.kernels_used();
  return r;
}

}  // namespace coughkit::model
