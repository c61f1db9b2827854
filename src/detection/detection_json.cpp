#include "detection/detection_json.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace coughkit::detection {
namespace {

// A float as the shortest decimal that reads back as the same float (0.61f -> 0.61, not
// 0.6100000143051147): the value a script compares against is the one the model produced.
double shortest(float v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::strtod(std::string(buf, end).c_str(), nullptr) : static_cast<double>(v);
}

std::vector<double> shortest(const std::vector<float>& values) {
  std::vector<double> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(), [](float v) { return shortest(v); });
  return out;
}

}  // namespace

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
  return j.dump();
}

}  // namespace coughkit::detection
