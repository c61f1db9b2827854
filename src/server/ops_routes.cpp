// Operations routes: GET / (the web page for browsers, an API summary otherwise),
// GET /health and /health/ready (readiness: 503 until the model is loaded and while
// shutting down, as llama.cpp's server answers), GET /health/live (liveness: 200 while the
// process serves HTTP, never waits on the model or inference), GET /metrics (Prometheus text).
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
                    {"POST /v1/monitor",
                     "a long recording (raw or multipart; ?threshold, window_seconds, hop_seconds, "
                     "start_time, night, bout_gap): 202 and a job id"},
                    {"GET /v1/jobs/{id}", "a monitor job: state, progress, and when done its report"},
                    {"GET /v1/jobs/{id}/timeline.svg", "a finished job's timeline"},
                    {"DELETE /v1/jobs/{id}", "cancel a job (or drop its result)"},
                    {"GET /health", "readiness: 200 when the model is loaded, else 503 (also /health/ready)"},
                    {"GET /health/live", "liveness: 200 while the process serves"},
                    {"GET /metrics", "Prometheus metrics"},
                    {"GET / (Accept: text/html)", "the web page"}};
  return Response::ordered_json(200, j);
}

Response handle_health(Service& service, const Request&) {
  // Readiness for load balancers and Kubernetes' readinessProbe: the status code says it, the
  // body keeps the reference API's shape.
  const bool ready = service.ready();
  const bool draining = service.draining();
  const nlohmann::ordered_json info = service.model_info();
  nlohmann::ordered_json j;
  j["status"] = draining ? "shutting_down" : ready ? "healthy" : "loading";
  j["model_loaded"] = ready;
  j["model_type"] = info["model_type"];
  j["validation_auc"] = info["validation_auc"];
  Response r = Response::ordered_json(ready && !draining ? 200 : 503, j);
  if (!ready || draining) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response handle_liveness(Service& service, const Request&) {
  // Kubernetes' livenessProbe: answered by any HTTP thread without touching the model, so a
  // replica that is loading or busy is not restarted.
  nlohmann::ordered_json j;
  j["status"] = "alive";
  j["model_loaded"] = service.ready();
  return Response::ordered_json(200, j);
}

Response handle_metrics(Service& service, const Request&) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = service.metrics().render(service.queue_depth(), service.job_counts());
  return r;
}

}  // namespace coughkit::server
