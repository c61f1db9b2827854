#pragma once
// The facts about the model's input and decision that every stage shares, defined once
// (docs/pipeline.md sections 5 and 7): the ImageNet statistics the images are normalised
// with, the image size, and the reference's decision threshold.
#include <array>

namespace coughkit::features {

// torchvision's ImageNet statistics, per channel (docs/pipeline.md section 5).
inline constexpr std::array<float, 3> kImageNetMean = {0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImageNetStd = {0.229f, 0.224f, 0.225f};

// The side of the letterboxed square image the model takes (docs/pipeline.md section 4).
inline constexpr int kModelImageSize = 224;

// The reference HTTP API's decision threshold: used only for a model that carries none of
// its own and a request that gives none (docs/pipeline.md section 7).
inline constexpr float kReferenceThreshold = 0.61f;

}  // namespace coughkit::features
