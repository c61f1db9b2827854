#include "fixtures.h"

#include <cmath>

#include <gtest/gtest.h>

#include "io/npy.h"
#include "support/test_data.h"

namespace coughkit::testing {

std::filesystem::path model_fixture_dir() { return COUGHKIT_MODEL_FIXTURE_DIR; }

nlohmann::json model_fixture_manifest() { return load_manifest(model_fixture_dir()); }

EngineInput load_case(const nlohmann::json& c) {
  EngineInput in;
  in.batch = c.at("batch").get<int>();
  in.segments = c.at("segments").get<int>();
  auto images = io::read_npy(model_fixture_dir() / c.at("images").get<std::string>());
  auto mask = io::read_npy(model_fixture_dir() / c.at("mask").get<std::string>());
  std::size_t n = static_cast<std::size_t>(in.batch) * in.segments;
  EXPECT_EQ(images.size(), n * model::kImageSize * model::kImageSize);
  EXPECT_EQ(mask.size(), n);
  in.spectrograms.assign(n * model::kSegmentValues, 0.f);
  in.mask.resize(n);
  constexpr std::size_t plane = std::size_t{model::kImageSize} * model::kImageSize;
  for (std::size_t i = 0; i < n; ++i) {
    in.mask[i] = mask.data[i] != 0.f;
    if (!in.mask[i]) continue;  // padding: all-zero model input (docs/pipeline.md section 5)
    model::images_to_model_input(
        std::span<const float>(images.data).subspan(i * plane, plane), 1,
        std::span<float>(in.spectrograms).subspan(i * model::kSegmentValues, model::kSegmentValues));
  }
  return in;
}

}  // namespace coughkit::testing
