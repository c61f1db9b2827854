#include "server/http_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <system_error>

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
  for (const auto& [name, part] : in.files)
    r.parts.push_back({part.name, part.filename, part.content_type, part.content});
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

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// poll() for one event; > 0 ready, 0 timeout, < 0 error or hang-up without data.
int wait_for(int fd, short events, double seconds) {
  pollfd p{fd, events, 0};
  const int ms = seconds <= 0 ? 0 : static_cast<int>(std::min(seconds * 1000.0 + 1.0, 2.0e9));
  int r;
  do {
    r = ::poll(&p, 1, ms);
  } while (r < 0 && errno == EINTR);
  return r;
}

std::string peer_address(int fd, int* port = nullptr, bool local = false) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int r = local ? ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    if (port) *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    if (port) *port = ntohs(a->sin6_port);
  }
  return text;
}

// One request's reads and its response's writes on a connected socket, with deadlines for
// the whole request (HttpServerOptions): the line and headers by header_timeout_s, the body
// at min_body_bytes_per_s on average after that grace; the response likewise at the same
// rate. Reads are buffered (the library reads the request line a byte at a time).
class GuardedStream final : public httplib::Stream {
 public:
  GuardedStream(int fd, const HttpServerOptions& o) : fd_(fd), o_(o), start_(Clock::now()) {}

  bool is_readable() const override { return off_ < size_ || wait_for(fd_, POLLIN, o_.read_timeout_s) > 0; }
  bool is_writable() const override { return wait_for(fd_, POLLOUT, o_.write_timeout_s) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    if (off_ == size_) {
      const double left = seconds_between(Clock::now(), read_deadline());
      if (left <= 0) return expire();
      const int ready = wait_for(fd_, POLLIN, std::min<double>(o_.read_timeout_s, left));
      if (ready == 0) return Clock::now() >= read_deadline() ? expire() : -1;
      if (ready < 0) return -1;
      const ssize_t n = ::recv(fd_, buffer_, sizeof buffer_, 0);
      if (n <= 0) return n;
      off_ = 0;
      size_ = static_cast<std::size_t>(n);
    }
    const std::size_t n = std::min(size, size_ - off_);
    std::memcpy(ptr, buffer_ + off_, n);
    account(ptr, n);
    off_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    const auto now = Clock::now();
    if (written_ == 0) write_start_ = now;
    const auto deadline = write_start_ + seconds(o_.header_timeout_s + written_ / o_.min_body_bytes_per_s);
    const double left = seconds_between(now, deadline);
    if (left <= 0 || wait_for(fd_, POLLOUT, std::min<double>(o_.write_timeout_s, left)) <= 0) return -1;
    const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    if (n > 0) written_ += static_cast<double>(n);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = peer_address(fd_, &port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip = peer_address(fd_, &port, true); }
  socket_t socket() const override { return fd_; }

  // "headers" or "body" when a deadline ended the request, else "".
  const std::string& timed_out() const { return timed_out_; }

 private:
  static Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
  Clock::time_point read_deadline() const {
    if (!in_body_) return start_ + seconds(o_.header_timeout_s);
    return body_start_ + seconds(o_.header_timeout_s + body_bytes_ / o_.min_body_bytes_per_s);
  }
  ssize_t expire() {
    timed_out_ = in_body_ ? "body" : "headers";
    return -1;
  }
  // Follows the bytes handed out until the empty line that ends the headers.
  void account(const char* p, std::size_t n) {
    if (in_body_) {
      body_bytes_ += static_cast<double>(n);
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const char c = p[i];
      if (c == '\n' && (last_[1] == '\n' || (last_[1] == '\r' && last_[0] == '\n'))) {
        in_body_ = true;
        body_start_ = Clock::now();
        body_bytes_ = static_cast<double>(n - i - 1);
        return;
      }
      last_[0] = last_[1];
      last_[1] = c;
    }
  }

  const int fd_;
  const HttpServerOptions& o_;
  const Clock::time_point start_;
  char buffer_[16 * 1024];
  std::size_t off_ = 0, size_ = 0;
  bool in_body_ = false;
  char last_[2] = {0, 0};
  Clock::time_point body_start_, write_start_;
  double body_bytes_ = 0, written_ = 0;
  std::string timed_out_;
};

}  // namespace

// cpp-httplib's Server with its own connection handling: admission on the accepting thread,
// one thread per admitted connection, and the guarded stream above. It uses the library's
// request parsing and routing (process_request) unchanged.
class GuardedServer final : public httplib::Server {
 public:
  GuardedServer(const HttpServerOptions& options, ConnectionObserver& observer) : o_(options), observer_(observer) {
    // The library accepts, then hands each socket to its task queue; this queue runs the hand-off
    // at once on the accepting thread, where process_and_close_socket() admits or refuses.
    new_task_queue = [this] { return new InlineQueue(*this); };
  }

  // After bind: a listen backlog the size of the connection cap, so a burst of connections is
  // queued by the kernel and answered (admitted or refused) at once rather than left to SYN
  // retries (the library's backlog is 5).
  void widen_backlog() { ::listen(svr_sock_, std::max(o_.max_connections, 128)); }

 private:
  class InlineQueue final : public httplib::TaskQueue {
   public:
    explicit InlineQueue(GuardedServer& owner) : owner_(owner) {}
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override { owner_.close_connections(); }

   private:
    GuardedServer& owner_;
  };

  // Runs on the accepting thread: never blocks.
  bool process_and_close_socket(socket_t sock) override {
    const std::string client = peer_address(sock);
    std::string refusal;
    {
      std::lock_guard lock(mutex_);
      if (static_cast<int>(open_.size()) >= o_.max_connections)
        refusal = "server_full";
      else if (per_client_[client] >= o_.max_connections_per_client)
        refusal = "per_client_limit";
      if (refusal.empty()) {
        open_.insert(sock);
        ++per_client_[client];
      } else if (per_client_[client] == 0) {
        per_client_.erase(client);
      }
    }
    if (!refusal.empty()) {
      refuse(sock, refusal);
      return true;
    }
    if (observer_.opened) observer_.opened();
    try {
      std::thread([this, sock, client] {
        serve(sock);
        release(sock, client);
      }).detach();
    } catch (const std::system_error&) {  // no thread to be had: refuse like a full server
      release(sock, client, false);
      refuse(sock, "server_full");
    }
    return true;
  }

  // One connection's requests, on its own thread.
  void serve(int fd) {
    for (int served = 0; served < o_.keep_alive_max && !stopping_; ++served) {
      // Wait for the next request (the first, or the next on a kept-alive connection).
      if (wait_for(fd, POLLIN, o_.keep_alive_timeout_s) <= 0 || stopping_) break;
      GuardedStream stream(fd, o_);
      bool client_closes = false;
      const bool ok = process_request(stream, served + 1 == o_.keep_alive_max || stopping_, client_closes, nullptr);
      if (!stream.timed_out().empty() && observer_.timed_out) observer_.timed_out(stream.timed_out());
      if (!ok || client_closes) break;
    }
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }

  void release(int fd, const std::string& client, bool notify = true) {
    {
      std::lock_guard lock(mutex_);
      open_.erase(fd);
      if (--per_client_[client] <= 0) per_client_.erase(client);
      if (open_.empty()) drained_.notify_all();
    }
    if (notify && observer_.closed) observer_.closed();
  }

  // 503 written without waiting (whatever the socket takes), then closed.
  void refuse(int fd, const std::string& reason) {
    if (observer_.refused) observer_.refused(reason);
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {}
    const std::string body =
        error_envelope("too_many_connections", reason == "server_full"
                                                   ? "the server has as many connections open as it allows; retry later"
                                                   : "this client has as many connections open as one client may; "
                                                     "reuse them or retry later")
            .dump();
    const std::string response = fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\n"
        "Connection: close\r\n\r\n{}",
        body.size(), body);
    [[maybe_unused]] const auto sent = ::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }

  // After the listener stopped: wake every connection waiting for a request (their reads end),
  // let those in a handler finish and answer, and wait for all.
  void close_connections() {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    for (int fd : open_) ::shutdown(fd, SHUT_RD);
    drained_.wait(lock, [&] { return open_.empty(); });
  }

  const HttpServerOptions& o_;
  ConnectionObserver& observer_;
  std::mutex mutex_;
  std::condition_variable drained_;
  std::set<int> open_;
  std::map<std::string, int> per_client_;
  std::atomic<bool> stopping_{false};
};

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  ErrorBody error_body;
  AccessLogger logger;
  ConnectionObserver observer;
  std::unique_ptr<GuardedServer> server;
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

HttpServer::HttpServer(HttpServerOptions options, Handler handler, ErrorBody error_body, AccessLogger logger,
                       ConnectionObserver observer)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->handler = std::move(handler);
  impl_->error_body = std::move(error_body);
  impl_->logger = std::move(logger);
  impl_->observer = std::move(observer);
  impl_->server = std::make_unique<GuardedServer>(impl_->options, impl_->observer);
  auto& s = *impl_->server;
  // The library's default also sets SO_REUSEPORT, which lets a second server bind a port
  // that is in use and silently share its traffic; keep SO_REUSEADDR only (fast restarts).
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (options.max_body_bytes) s.set_payload_max_length(options.max_body_bytes);
  // Timeouts and keep-alive are GuardedServer's (options), not the library's loop.

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
  auto& s = *impl_->server;
  if (port == 0) {
    const int bound = s.bind_to_any_port(host);
    if (bound <= 0) throw std::runtime_error(fmt::format("cannot bind {} on any port", host));
    s.widen_backlog();
    return bound;
  }
  if (!s.bind_to_port(host, port))
    throw std::runtime_error(fmt::format("cannot bind {}:{} (in use, or not an address of this machine)", host, port));
  s.widen_backlog();
  return port;
}

void HttpServer::start() {
  impl_->thread = std::thread([impl = impl_.get()] { impl->server->listen_after_bind(); });
  impl_->started = true;
  // stop() before the loop runs would be lost (the library ignores it), so wait for it.
  for (int i = 0; i < 5000 && !impl_->server->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::stop() {
  if (!impl_->started) return;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

}  // namespace coughkit::server
