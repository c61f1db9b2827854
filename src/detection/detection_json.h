#pragma once
// The JSON shape of a detection, shared by `coughkit detect --json` and `POST /v1/detect`.
#include <string>

#include "detection/detector.h"

namespace coughkit::detection {

// One line of JSON: file, duration_s, num_segments, total_segments, truncated,
// bag_probability, bag_logit, segment_probabilities, segment_logits, segment_timestamps,
// max_segment_probability, mean_segment_probability, cough_detected, threshold.
std::string to_json_line(const Detection& d);

}  // namespace coughkit::detection
