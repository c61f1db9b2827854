// The reference Flask API's routes, same request and response shapes:
//   POST /api/detect-cough  multipart `audio` (+ optional `threshold`, form or query)
//   POST /api/analyze-tb    501: no tuberculosis model exists (the reference never reported TB)
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/float_text.h"
#include "detection/detector.h"
#include "server/routes.h"

namespace coughkit::server {
namespace {

std::string client_file_name(const UploadedPart& part) {
  const auto name = std::filesystem::path(part.filename).filename().string();
  return name.empty() ? std::string("upload") : name;
}

}  // namespace

Response handle_detect_cough(Service& service, const Request& request) {
  const UploadedPart* audio = request.part("audio");
  if (!audio || audio->content.empty()) throw HttpError{400, "missing_audio", "No audio file provided"};

  std::optional<std::string> threshold_text;
  if (const auto* t = request.part("threshold"))
    threshold_text = t->content;
  else
    threshold_text = request.query_param("threshold");
  std::optional<float> threshold;
  try {
    threshold = parse_threshold(threshold_text);
  } catch (const HttpError& e) {
    throw HttpError{400, e.code, "Invalid threshold: " + e.message};
  }
  // Without one in the request, the model's own threshold (docs/pipeline.md section 7), as
  // `coughkit detect` and /v1/detect use: the same file gets the same verdict everywhere.
  const float t = threshold.value_or(service.detector().default_threshold());

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
  // Not in the reference: how many 2-s segments the upload holds, and whether the bag (the
  // first 32) left some out. Long recordings are scored whole by POST /v1/monitor.
  j["total_segments"] = d.total_segments;
  j["truncated"] = d.truncated();
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
