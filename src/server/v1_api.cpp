// The v1 API:
//   POST /v1/detect  raw audio body (audio/*, video/webm, application/octet-stream) or
//                    multipart (`audio` or `file` part); `threshold` query. Answers the
//                    `coughkit detect --json` object.
//   GET  /v1/model   model file, metadata, threshold, engine and preprocessing config.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/float_text.h"
#include "detection/detection_json.h"
#include "model/engine.h"
#include "server/routes.h"

namespace coughkit::server {
namespace {

bool raw_audio_type(const std::string& type) {
  return type.empty() || type == "application/octet-stream" || type.starts_with("audio/") || type == "video/webm" ||
         type == "video/mp4" || type == "video/ogg" || type == "application/ogg";
}

}  // namespace

const std::string& uploaded_audio(const Request& request, std::string& name) {
  const std::string type = request.content_type();
  name = "upload";
  const std::string* bytes = nullptr;
  if (type == "multipart/form-data") {
    const UploadedPart* part = request.part("audio");
    if (!part) part = request.part("file");
    if (!part) throw HttpError{400, "missing_audio", "multipart body has no `audio` (or `file`) part"};
    if (const auto file = std::filesystem::path(part->filename).filename().string(); !file.empty()) name = file;
    bytes = &part->content;
  } else if (raw_audio_type(type)) {
    bytes = &request.body;
  } else {
    throw HttpError{415, "unsupported_media_type",
                    fmt::format("Content-Type {} is not audio; send the file as the raw body (audio/*, "
                                "application/octet-stream) or as multipart/form-data part `audio`",
                                type)};
  }
  return *bytes;
}

Response handle_v1_detect(Service& service, const Request& request) {
  const auto threshold = parse_threshold(request.query_param("threshold"));
  std::string name;
  const std::string& bytes = uploaded_audio(request, name);
  const auto d = service.detect(bytes, name, threshold, request.request_id);
  Response r;
  r.body = detection::to_json_line(d);
  return r;
}

Response handle_v1_model(Service& service, const Request&) {
  const auto& detector = service.detector();
  const auto& pre = detector.preprocess_config();
  nlohmann::ordered_json j = service.model_info();
  j["threshold"] = shortest(detector.default_threshold());
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [k, v] : detector.runner().metadata()) meta[k] = v;
  j["metadata"] = std::move(meta);
  const model::ModelRunner& runner = detector.runner();
  nlohmann::ordered_json engine;
  engine["backend"] = runner.backend_name();  // "onnx-engine" or "libtorch"
  engine["threads"] = runner.threads();
  engine["description"] = runner.describe();
  if (const auto* e = dynamic_cast<const model::Engine*>(&runner)) {
    engine["conv_algorithms"] = e->conv_algorithms();
    engine["options"] = e->options().ToString();
  }
  j["engine"] = std::move(engine);
  // The same object, under the same names, as the model's own "preprocessing" metadata.
  auto p = nlohmann::ordered_json::parse(pre.to_json());
  p["description"] = pre.ToString();
  j["preprocessing"] = std::move(p);
  const auto& c = service.config();
  j["limits"] = {{"max_upload_bytes", c.max_upload_bytes},   {"max_audio_seconds", c.max_audio_seconds},
                 {"request_timeout_s", c.request_timeout_s}, {"max_batch", c.max_batch},
                 {"workers", c.resolved_workers()},          {"queue_limit", c.queue_limit}};
  return Response::ordered_json(200, j);
}

}  // namespace coughkit::server
