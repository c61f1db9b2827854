#pragma once
// The HTTP adapter: the only code that sees cpp-httplib. It listens, turns each request into
// a server::Request, hands it to one handler, writes the server::Response back, and reports
// every answered request (including the ones the library refuses by itself: malformed
// requests, bodies over the limit) to an access logger.
//
// Connections are admitted here, before any byte is read, so slow or abandoned clients
// cannot take the service down (cpp-httplib's own pool would let a few dozen connections
// that send one header line a second hold every thread):
//  - at most `max_connections` open connections in all and `max_connections_per_client`
//    from one client address; a connection beyond either is answered 503 at once and closed;
//  - each admitted connection has its own thread (the caps bound them), so /health and real
//    requests are served while slow clients sit on theirs;
//  - a request's line and headers must arrive within `header_timeout_s`, and its body at an
//    average of at least `min_body_bytes_per_s` after a grace of `header_timeout_s`;
//    otherwise the connection is closed (a per-read timeout alone lets a client that sends a
//    byte every few seconds hold a connection for ever).
//
// Thread safety: bind/start/stop from one owner thread; the handler, logger and observer are
// called concurrently from the connection threads.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "server/http_types.h"

namespace coughkit::server {

struct HttpServerOptions {
  int max_connections = 256;                    // open connections in all (each has a thread)
  int max_connections_per_client = 32;          // open connections from one client address
  std::size_t max_body_bytes = 0;               // larger bodies are refused with 413 before reading
  double header_timeout_s = 10.0;               // request line + headers, from the first wait for them
  double min_body_bytes_per_s = 16 * 1024.0;    // average body rate after the grace (header_timeout_s)
  int read_timeout_s = 5, write_timeout_s = 5;  // one socket read / write
  int keep_alive_max = 100, keep_alive_timeout_s = 5;
};

struct AccessRecord {
  std::string method, path, remote_addr, request_id;
  int status = 0;
  std::size_t bytes = 0;  // response body
  double ms = 0.0;        // handler time; 0 for requests the library refused before routing
};

// What happens to connections, for metrics. Called from the accepting thread (opened,
// refused) and from connection threads (closed, timed_out).
struct ConnectionObserver {
  std::function<void()> opened, closed;
  std::function<void(const std::string& reason)> refused;   // "server_full", "per_client_limit"
  std::function<void(const std::string& phase)> timed_out;  // "headers", "body"
};

class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  // Builds the body of an error the library produced itself (status >= 400, empty body).
  using ErrorBody = std::function<Response(int status, const std::string& path)>;
  using AccessLogger = std::function<void(const AccessRecord&)>;

  HttpServer(HttpServerOptions options, Handler handler, ErrorBody error_body, AccessLogger logger,
             ConnectionObserver observer = {});
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (port 0 = any free port) and returns the port. Throws std::runtime_error.
  int bind(const std::string& host, int port);
  // Serves on a background thread; returns once the listener runs.
  void start();
  // Stops accepting, lets the connections finish their current requests, joins. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A fresh request id (process-unique): 8 hex digits of the process's random prefix, a dash,
// a counter.
std::string new_request_id();

}  // namespace coughkit::server
