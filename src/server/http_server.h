#pragma once
// The HTTP adapter: the only code that sees cpp-httplib. It listens, turns each request into
// a server::Request, hands it to one handler, writes the server::Response back, and reports
// every answered request (including the ones the library refuses by itself: malformed
// requests, bodies over the limit) to an access logger.
//
// Thread safety: bind/start/stop from one owner thread; the handler and logger are called
// concurrently from the pool's threads.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "server/http_types.h"

namespace coughkit::server {

struct HttpServerOptions {
  int threads = 8;                      // connection threads (the library's pool)
  std::size_t max_body_bytes = 0;       // larger bodies are refused with 413 before reading
  int read_timeout_s = 5, write_timeout_s = 5;
  int keep_alive_max = 100, keep_alive_timeout_s = 5;
};

struct AccessRecord {
  std::string method, path, remote_addr, request_id;
  int status = 0;
  std::size_t bytes = 0;  // response body
  double ms = 0.0;        // handler time; 0 for requests the library refused before routing
};

class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  // Builds the body of an error the library produced itself (status >= 400, empty body).
  using ErrorBody = std::function<Response(int status, const std::string& path)>;
  using AccessLogger = std::function<void(const AccessRecord&)>;

  HttpServer(HttpServerOptions options, Handler handler, ErrorBody error_body, AccessLogger logger);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (port 0 = any free port) and returns the port. Throws std::runtime_error.
  int bind(const std::string& host, int port);
  // Serves on a background thread; returns once the listener runs.
  void start();
  // Stops accepting, lets the pool finish its current requests, joins. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A fresh request id (process-unique): 8 hex digits of the process's random prefix, a dash,
// a counter.
std::string new_request_id();

}  // namespace coughkit::server
