#include "server/http_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include <sys/socket.h>

#include <fmt/format.h>
#include <httplib.h>

namespace coughkit::server {
namespace {

// Per connection thread: the request being handled, for the access log's timing and id.
struct Current {
  const httplib::Request* request = nullptr;
  std::chrono::steady_clock::time_point start;
};
thread_local Current t_current;

bool sane_request_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

Request to_request(const httplib::Request& in) {
  Request r;
  r.method = in.method;
  r.path = in.path;
  r.remote_addr = in.remote_addr;
  for (const auto& [name, value] : in.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    r.headers.emplace(std::move(lower), value);
  }
  for (const auto& [name, value] : in.params) r.query.emplace(name, value);
  for (const auto& [name, part] : in.files) r.parts.push_back({part.name, part.filename, part.content_type, part.content});
  if (!in.is_multipart_form_data()) r.body = in.body;  // else the parts hold it
  const std::string id = in.get_header_value("X-Request-Id");
  r.request_id = sane_request_id(id) ? id : new_request_id();
  return r;
}

void write_response(const Response& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [name, value] : from.headers) to.set_header(name, value);
  to.set_content(from.body, from.content_type);
}

}  // namespace

std::string new_request_id() {
  static const std::uint32_t prefix = std::random_device{}();
  static std::atomic<std::uint64_t> counter{0};
  return fmt::format("{:08x}-{}", prefix, ++counter);
}

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  ErrorBody error_body;
  AccessLogger logger;
  httplib::Server server;
  std::thread thread;
  bool started = false;

  void dispatch(const httplib::Request& in, httplib::Response& out) {
    t_current = {&in, std::chrono::steady_clock::now()};
    Response response;
    std::string id;
    try {
      const Request request = to_request(in);
      id = request.request_id;
      response = handler(request);
    } catch (const std::exception& e) {  // the handler should not throw; never let it reach the library
      response = Response::ordered_json(500, error_envelope("internal", e.what()));
    }
    if (id.empty()) id = new_request_id();
    response.headers.emplace_back("X-Request-Id", id);
    write_response(response, out);
  }
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler, ErrorBody error_body, AccessLogger logger)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->handler = std::move(handler);
  impl_->error_body = std::move(error_body);
  impl_->logger = std::move(logger);
  auto& s = impl_->server;
  const int threads = std::max(1, options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  // The library's default also sets SO_REUSEPORT, which lets a second server bind a port
  // that is in use and silently share its traffic; keep SO_REUSEADDR only (fast restarts).
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (options.max_body_bytes) s.set_payload_max_length(options.max_body_bytes);
  s.set_read_timeout(options.read_timeout_s, 0);
  s.set_write_timeout(options.write_timeout_s, 0);
  s.set_keep_alive_max_count(static_cast<std::size_t>(std::max(1, options.keep_alive_max)));
  s.set_keep_alive_timeout(options.keep_alive_timeout_s);

  Impl* impl = impl_.get();
  auto dispatch = [impl](const httplib::Request& in, httplib::Response& out) { impl->dispatch(in, out); };
  // Every method and path goes to the one handler; the router decides 404/405.
  s.Get(".*", dispatch);
  s.Post(".*", dispatch);
  s.Put(".*", dispatch);
  s.Patch(".*", dispatch);
  s.Delete(".*", dispatch);
  s.Options(".*", dispatch);

  // Errors the library answers without a handler (bad request line, malformed multipart,
  // body too large) get the same JSON envelope.
  s.set_error_handler([impl](const httplib::Request& in, httplib::Response& out) {
    if (!out.body.empty()) return;
    std::string id = out.get_header_value("X-Request-Id");
    if (id.empty()) {
      id = new_request_id();
      out.set_header("X-Request-Id", id);
    }
    const Response r = impl->error_body(out.status, in.path);
    for (const auto& [name, value] : r.headers) out.set_header(name, value);
    out.set_content(r.body, r.content_type);
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& out, std::exception_ptr) {
    out.status = 500;
    out.set_content(error_envelope("internal", "unexpected error").dump(), "application/json");
  });
  s.set_logger([impl](const httplib::Request& in, const httplib::Response& out) {
    AccessRecord rec;
    rec.method = in.method;
    rec.path = in.path;
    rec.remote_addr = in.remote_addr;
    rec.request_id = out.get_header_value("X-Request-Id");
    rec.status = out.status;
    rec.bytes = out.body.size();
    if (t_current.request == &in)
      rec.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_current.start).count();
    t_current.request = nullptr;
    if (impl->logger) impl->logger(rec);
  });
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::bind(const std::string& host, int port) {
  auto& s = impl_->server;
  if (port == 0) {
    const int bound = s.bind_to_any_port(host);
    if (bound <= 0) throw std::runtime_error(fmt::format("cannot bind {} on any port", host));
    return bound;
  }
  if (!s.bind_to_port(host, port))
    throw std::runtime_error(fmt::format("cannot bind {}:{} (in use, or not an address of this machine)", host, port));
  return port;
}

void HttpServer::start() {
  impl_->thread = std::thread([impl = impl_.get()] { impl->server.listen_after_bind(); });
  impl_->started = true;
  // stop() before the loop runs would be lost (the library ignores it), so wait for it.
  for (int i = 0; i < 5000 && !impl_->server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::stop() {
  if (!impl_->started) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

}  // namespace coughkit::server
