#include <cstring>
#include <exception>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/error.h"
#include "server/routes.h"

namespace coughkit::server {
namespace {

using HandlerFn = Response (*)(Service&, const Request&);

struct Route {
  const char* method;
  const char* path;
  HandlerFn handler;
  bool legacy_errors;   // {"error": "message"} instead of the envelope
  bool needs_model;     // 503 until the model is loaded
  bool prefix = false;  // `path` names a family ("/v1/jobs/" + id); the handler reads the rest
};

const Route kRoutes[] = {
    {"GET", "/", handle_index, false, true},
    {"GET", "/health", handle_health, false, false},
    {"GET", "/health/ready", handle_health, false, false},
    {"GET", "/health/live", handle_liveness, false, false},
    {"GET", "/metrics", handle_metrics, false, true},
    {"POST", "/api/detect-cough", handle_detect_cough, true, true},
    {"POST", "/api/analyze-tb", handle_analyze_tb, true, true},
    {"POST", "/v1/detect", handle_v1_detect, false, true},
    {"GET", "/v1/model", handle_v1_model, false, true},
    {"POST", "/v1/monitor", handle_v1_monitor, false, true},
    {"GET", "/v1/jobs/", handle_job_get, false, true, true},
    {"DELETE", "/v1/jobs/", handle_job_delete, false, true, true},
};

// The one place where an error's kind (common/error.h) becomes an HTTP status.
HttpError http_error_for(const std::exception& e) {
  switch (kind_of(e)) {
    case ErrorKind::kUsage: return {400, "invalid_argument", e.what()};
    case ErrorKind::kInput: return {422, "invalid_input", e.what()};
    case ErrorKind::kTooLarge: return {413, "too_large", e.what()};
    case ErrorKind::kInternal: break;
  }
  return {500, "internal", std::string("internal error: ") + e.what()};
}

Response error_response(const HttpError& e, bool legacy) {
  Response r = legacy ? Response::json(e.status, {{"error", e.message}})
                      : Response::ordered_json(e.status, error_envelope(e.code, e.message));
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  return r;
}

void add_cors(const ServerConfig& config, const Request& request, Response& response) {
  if (config.cors_origin.empty()) return;
  std::string allow;
  if (config.cors_origin == "*") {
    allow = "*";
  } else {  // a comma-separated list: echo the request's origin when listed
    const std::string origin = request.header("origin");
    std::string_view list = config.cors_origin;
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!origin.empty() && item == origin) allow = origin;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    response.headers.emplace_back("Vary", "Origin");
  }
  if (allow.empty()) return;
  response.headers.emplace_back("Access-Control-Allow-Origin", allow);
  response.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
}

Response dispatch(Service& service, const Request& request) {
  const bool head = request.method == "HEAD";
  const Route* match = nullptr;
  std::string allowed;
  for (const auto& r : kRoutes) {
    if (r.prefix ? !(request.path.starts_with(r.path) && request.path.size() > std::strlen(r.path))
                 : request.path != r.path)
      continue;
    allowed += allowed.empty() ? r.method : std::string(", ") + r.method;
    if (request.method == r.method || (head && std::string_view(r.method) == "GET")) match = &r;
  }
  if (!match) {
    if (allowed.empty())
      return Response::ordered_json(
          404, error_envelope("not_found", fmt::format("no route {} {}", request.method, request.path)));
    if (request.method == "OPTIONS") {  // CORS preflight (CORS headers added by the caller)
      Response r;
      r.status = 204;
      r.content_type = "text/plain";
      r.headers.emplace_back("Allow", allowed + ", OPTIONS");
      if (!service.config().cors_origin.empty()) {
        r.headers.emplace_back("Access-Control-Allow-Methods", allowed + ", OPTIONS");
        r.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, X-Request-Id");
        r.headers.emplace_back("Access-Control-Max-Age", "600");
      }
      return r;
    }
    Response r = Response::ordered_json(
        405, error_envelope("method_not_allowed",
                            fmt::format("{} does not accept {}; use {}", request.path, request.method, allowed)));
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  try {
    if (match->needs_model && !service.ready()) {
      service.metrics().count_rejected("not_ready");
      throw HttpError{503, "loading", match->legacy_errors ? "Model not loaded" : "the model is still loading", 1};
    }
    return match->handler(service, request);
  } catch (const HttpError& e) {
    if (e.status >= 500)
      spdlog::warn("{} {} [{}]: {} {}", request.method, request.path, request.request_id, e.status, e.message);
    return error_response(e, match->legacy_errors);
  } catch (const std::bad_alloc&) {
    spdlog::error("{} {} [{}]: out of memory", request.method, request.path, request.request_id);
    return error_response({503, "out_of_memory", "the server ran out of memory for this request", 1},
                          match->legacy_errors);
  } catch (const std::exception& e) {
    const HttpError mapped = http_error_for(e);
    if (mapped.status >= 500)
      spdlog::error("{} {} [{}]: {}", request.method, request.path, request.request_id, e.what());
    return error_response(mapped, match->legacy_errors);
  }
}

}  // namespace

Response route(Service& service, const Request& request) {
  service.metrics().add_in_flight(1);
  Response response = dispatch(service, request);
  service.metrics().add_in_flight(-1);
  add_cors(service.config(), request, response);
  if (service.draining()) response.headers.emplace_back("Connection", "close");
  return response;
}

std::string route_label(const std::string& path) {
  for (const auto& r : kRoutes)
    if (r.prefix ? path.starts_with(r.path) : path == r.path) return r.prefix ? std::string(r.path) + "{id}" : r.path;
  return "other";
}

Response library_error(int status, const std::string& path) {
  std::string code = "bad_request", message = "malformed request";
  switch (status) {
    case 413:
      code = "payload_too_large";
      message = "the request body exceeds the upload limit";
      break;
    case 414:
      code = "uri_too_long";
      message = "the request line is too long";
      break;
    case 408:
      code = "request_timeout";
      message = "the request was not received in time";
      break;
    case 416:
      code = "range_not_satisfiable";
      message = "range not satisfiable";
      break;
    case 500:
      code = "internal";
      message = "internal error";
      break;
    default: break;
  }
  if (path.starts_with("/api/")) return Response::json(status, {{"error", message}});
  return Response::ordered_json(status, error_envelope(code, message));
}

}  // namespace coughkit::server
