#pragma once
// Training-time augmentation of a bag (docs/pipeline.md section 8), on the [-1, 1] log-mel
// images before they are normalised into model input (images_to_input). No LibTorch.
//
// Each of the four augmentations is drawn independently per bag with probability
// `probability` and applied to every segment of the bag, in this order:
//   1. Gaussian noise, std 0.01, a fresh value per pixel (no clamp, as the reference);
//   2. gain, one factor uniform in [0.9, 1.1] for the bag, then clamp to [-1, 1];
//   3. frequency mask: 12 consecutive rows set to 0;
//   4. time mask: 16 consecutive columns set to 0.
// Rows and columns are those of the 224x224 letterboxed image (rows = mel bins, low
// frequencies first, including the 23 padding rows at top and bottom; columns = frames),
// as the reference applied the masks to its cached 224x224 images. A mask's start is
// uniform over all positions where it fits, and the same for every segment of the bag.
// Masks write 0, the middle of the [-1, 1] range, not the padding value -1.
#include <cstdint>
#include <random>
#include <span>
#include <string>

namespace coughkit::training {

struct AugmentOptions {
  double probability = 0.1;  // per augmentation and bag; 0 = off
  float noise_std = 0.01f;
  float gain_min = 0.9f, gain_max = 1.1f;
  int freq_mask_rows = 12;
  int time_mask_cols = 16;

  std::string ToString() const;
};

// What was applied to one bag (for tests and debugging).
struct AugmentTrace {
  bool noise = false, gain = false, freq_mask = false, time_mask = false;
  float gain_factor = 1.0f;
  int freq_start = -1, time_start = -1;
};

// images: `segments` images of height x width floats, C order, modified in place. Draws from
// `rng` only (deterministic for a given rng state). Throws std::invalid_argument when the
// span does not hold segments*height*width values or a mask does not fit.
AugmentTrace augment_bag(std::span<float> images, int segments, int height, int width, const AugmentOptions& options,
                         std::mt19937_64& rng);

}  // namespace coughkit::training
