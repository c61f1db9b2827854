#include <string>

#include "common/error.h"
#include "features/model_input_contract.h"
#include "model/engine.h"

namespace coughkit::model {

void images_to_model_input(std::span<const float> images, int segments, std::span<float> out) {
  constexpr std::size_t plane = std::size_t{kImageSize} * kImageSize;
  if (segments < 0) throw InputError("segment count must not be negative");
  auto s = static_cast<std::size_t>(segments);
  if (images.size() != s * plane)
    throw InputError("images: expected " + std::to_string(s * plane) + " values (" + std::to_string(segments) +
                     " x 224 x 224), got " + std::to_string(images.size()));
  if (out.size() != s * kSegmentValues)
    throw InputError("model input: expected " + std::to_string(s * kSegmentValues) + " values, got " +
                     std::to_string(out.size()));
  const auto& mean = features::kImageNetMean;
  const auto& stdev = features::kImageNetStd;
  for (std::size_t i = 0; i < s; ++i)
    for (int c = 0; c < kChannels; ++c) {
      const float* src = images.data() + i * plane;
      float* dst = out.data() + i * kSegmentValues + c * plane;
      for (std::size_t p = 0; p < plane; ++p) {
        float x01 = (src[p] + 1.0f) / 2.0f;
        dst[p] = (x01 - mean[c]) / stdev[c];
      }
    }
}

}  // namespace coughkit::model
