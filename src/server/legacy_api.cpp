// The reference Flask API's routes, same request and response shapes:
//   POST /api/detect-cough  multipart `audio` (+ optional `threshold`, form or query)
//   POST /api/analyze-tb    501: no tuberculosis model exists (the reference never reported TB)
#include <filesystem>

#include <nlohmann/json.hpp>

#include "detection/detector.h"
#include "server/json_util.h"
#include "server/routes.h"

namespace coughkit::server {
namespace {

// The reference's threshold default when neither the form nor the query sets one.
constexpr float kLegacyDefaultThreshold = 0.61f;

std::string client_file_name(const UploadedPart& part) {
  const auto name = std::filesystem::path(part.filename).filename().string();
  return name.empty() ? std::string("upload") : name;
}

}  // namespace

Response handle_detect_cough(Service& service, const Request& request) {
  const UploadedPart* audio = request.part("audio");
  if (!audio || audio->content.empty()) throw HttpError{400, "missing_audio", "No audio file provided"};

  std::optional<std::string> threshold_text;
  if (const auto* t = request.part("threshold")) threshold_text = t->content;
  else threshold_text = request.query_param("threshold");
  std::optional<float> threshold;
  try {
    threshold = parse_threshold(threshold_text);
  } catch (const HttpError& e) {
    throw HttpError{400, e.code, "Invalid threshold: " + e.message};
  }
  const float t = threshold.value_or(kLegacyDefaultThreshold);

  const auto d = service.detect(audio->content, client_file_name(*audio), t, request.request_id);

  nlohmann::ordered_json j;
  j["coughDetected"] = d.cough_detected;
  j["confidence"] = shortest(d.bag_probability);
  j["file_probability"] = shortest(d.bag_probability);
  j["segment_probabilities"] = shortest(d.segment_probabilities);
  auto stamps = nlohmann::ordered_json::array();
  for (const auto& [start, end] : d.segment_timestamps) stamps.push_back({start, end});
  j["segment_timestamps"] = std::move(stamps);
  j["num_segments"] = d.num_segments;
  j["threshold_used"] = shortest(t);
  j["max_segment_probability"] = shortest(d.max_segment_probability);
  j["mean_segment_probability"] = shortest(d.mean_segment_probability);
  j["message"] = d.cough_detected ? "Cough detected" : "No cough detected";
  j["model_info"] = service.model_info();
  if (!d.cough_detected) j["error"] = "No cough pattern detected by model";  // status 200, as the reference did
  return Response::ordered_json(200, j);
}

Response handle_analyze_tb(Service&, const Request&) {
  // The reference compared the cough probability with a threshold of 1.0, so it could never
  // report tuberculosis; answering anything but "not available" would pretend a diagnosis.
  nlohmann::ordered_json j;
  j["error"] = "No tuberculosis model is available: this service detects coughs only and makes no diagnosis";
  j["tbDetected"] = nullptr;
  return Response::ordered_json(501, j);
}

}  // namespace coughkit::server
