// Operations routes: GET / (the web page for browsers, an API summary otherwise),
// GET /health (liveness; never touches inference), GET /metrics (Prometheus text).
#include <nlohmann/json.hpp>

#include "server/routes.h"
#include "server/web_page.h"

namespace coughkit::server {

Response handle_index(Service&, const Request& request) {
  if (request.header("accept").find("text/html") != std::string::npos) {
    Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(index_html());
    return r;
  }
  nlohmann::ordered_json j;
  j["message"] = "Cough Detection API";
  j["status"] = "running";
  j["endpoints"] = {{"POST /api/detect-cough", "multipart `audio` (+ `threshold`): cough detection, reference shape"},
                    {"POST /api/analyze-tb", "501: no tuberculosis model is available"},
                    {"POST /v1/detect", "raw or multipart audio (+ ?threshold=): the `coughkit detect --json` object"},
                    {"GET /v1/model", "model, metadata and preprocessing"},
                    {"GET /health", "liveness"},
                    {"GET /metrics", "Prometheus metrics"},
                    {"GET / (Accept: text/html)", "the web page"}};
  return Response::ordered_json(200, j);
}

Response handle_health(Service& service, const Request&) {
  const bool ready = service.ready();
  nlohmann::ordered_json j;
  j["status"] = service.draining() ? "shutting_down" : ready ? "healthy" : "loading";
  j["model_loaded"] = ready;
  j["model_type"] = "AttnMILResNet";
  const auto auc = service.validation_auc();
  j["validation_auc"] = auc ? nlohmann::ordered_json(*auc) : nlohmann::ordered_json(nullptr);
  return Response::ordered_json(service.draining() ? 503 : 200, j);
}

Response handle_metrics(Service& service, const Request&) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = service.metrics().render(service.queue_depth());
  return r;
}

}  // namespace coughkit::server
