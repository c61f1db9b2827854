#include "detection/detection_json.h"

#include <nlohmann/json.hpp>

#include "common/float_text.h"
#include "common/json_text.h"

namespace coughkit::detection {

std::string to_json_line(const Detection& d) {
  nlohmann::ordered_json j;
  j["file"] = d.source;
  j["duration_s"] = d.duration_s;
  j["num_segments"] = d.num_segments;
  j["total_segments"] = d.total_segments;
  j["truncated"] = d.truncated();
  j["bag_probability"] = shortest(d.bag_probability);
  j["bag_logit"] = shortest(d.bag_logit);
  j["segment_probabilities"] = shortest(d.segment_probabilities);
  j["segment_logits"] = shortest(d.segment_logits);
  auto stamps = nlohmann::ordered_json::array();
  for (const auto& [start, end] : d.segment_timestamps) stamps.push_back({start, end});
  j["segment_timestamps"] = std::move(stamps);
  j["max_segment_probability"] = shortest(d.max_segment_probability);
  j["mean_segment_probability"] = shortest(d.mean_segment_probability);
  j["cough_detected"] = d.cough_detected;
  j["threshold"] = shortest(d.threshold);
  return json_text(j);
}

}  // namespace coughkit::detection
