#pragma once
// The server's own request/response types. Handlers see only these; the HTTP library stays
// inside http_server.cpp, which converts in both directions.
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace coughkit::server {

struct UploadedPart {  // one multipart/form-data part
  std::string name, filename, content_type, content;
};

struct Request {
  std::string method, path, remote_addr;
  std::string request_id;                           // X-Request-Id (the client's if sane, else ours)
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::multimap<std::string, std::string> query;
  std::string body;                 // raw body (also for multipart)
  std::vector<UploadedPart> parts;  // parsed multipart/form-data parts

  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::optional<std::string> query_param(const std::string& name) const {
    const auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
  const UploadedPart* part(const std::string& name) const {
    for (const auto& p : parts)
      if (p.name == name) return &p;
    return nullptr;
  }
  std::string content_type() const;  // media type only, lower-cased, without parameters
  bool is_multipart() const { return content_type() == "multipart/form-data"; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, const nlohmann::json& j) {
    Response r;
    r.status = status;
    r.body = json_text(j);
    return r;
  }
  static Response ordered_json(int status, const nlohmann::ordered_json& j) {
    Response r;
    r.status = status;
    r.body = json_text(j);
    return r;
  }
};

// Thrown by handlers for a request that cannot be served; the router turns it into the
// route's error shape. `code` is a stable machine-readable word (v1 envelope).
struct HttpError {
  int status;
  std::string code, message;
  int retry_after_s = 0;  // > 0 adds Retry-After
};

// The v1 error envelope: {"error": {"code": ..., "message": ...}}.
inline nlohmann::ordered_json error_envelope(const std::string& code, const std::string& message) {
  nlohmann::ordered_json e;
  e["code"] = code;
  e["message"] = message;
  nlohmann::ordered_json j;
  j["error"] = std::move(e);
  return j;
}

inline std::string Request::content_type() const {
  std::string t = header("content-type");
  if (const auto semi = t.find(';'); semi != std::string::npos) t.resize(semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

}  // namespace coughkit::server
