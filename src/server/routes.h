#pragma once
// The route table and the handlers. route() is the one entry point the HTTP adapter calls;
// it never throws: every failure becomes a JSON error in the route's shape — the v1
// envelope {"error": {"code", "message"}} everywhere except the legacy /api/* routes, which
// keep the reference Flask API's {"error": "message"}.
#include "server/http_types.h"
#include "server/service.h"

namespace coughkit::server {

Response route(Service& service, const Request& request);
// The metrics label of a request path: the route's path, or "other" (bounded cardinality).
std::string route_label(const std::string& path);
// The body of an error the HTTP library produced itself (malformed request, 413, ...), in the
// shape of the route `path` names.
Response library_error(int status, const std::string& path);

// The audio of a v1 upload: the raw body (audio/*, application/octet-stream, ...) or the
// multipart part `audio` (or `file`); `name` gets the client's file name or "upload". Throws
// HttpError 400 (no part) / 415 (not audio).
const std::string& uploaded_audio(const Request& request, std::string& name);

// Handlers (throw HttpError for expected failures).
Response handle_index(Service&, const Request&);         // GET /          (ops_routes.cpp)
Response handle_health(Service&, const Request&);        // GET /health, /health/ready (readiness)
Response handle_liveness(Service&, const Request&);      // GET /health/live
Response handle_metrics(Service&, const Request&);       // GET /metrics
Response handle_detect_cough(Service&, const Request&);  // POST /api/detect-cough (legacy_api.cpp)
Response handle_analyze_tb(Service&, const Request&);    // POST /api/analyze-tb
Response handle_v1_detect(Service&, const Request&);     // POST /v1/detect     (v1_api.cpp)
Response handle_v1_model(Service&, const Request&);      // GET /v1/model
Response handle_v1_monitor(Service&, const Request&);    // POST /v1/monitor   (monitor_api.cpp)
Response handle_job_get(Service&, const Request&);       // GET /v1/jobs/{id}[/timeline.svg]
Response handle_job_delete(Service&, const Request&);    // DELETE /v1/jobs/{id}

}  // namespace coughkit::server
