// HTTP requests as `coughkit serve` receives them: the real server (cpp-httplib behind
// coughkit's adapter, router, handlers, multipart uploads, detection, monitor jobs) runs in
// this process on a loopback port, and each input is sent on a fresh connection as raw
// bytes. Findings: a crash or sanitizer report in any server thread, a 5xx other than the
// documented 503/504, or a connection the server neither answers nor closes.
//
// COUGHKIT_FUZZ_MODEL names the model to serve (scripts/fuzz.sh passes a tiny one); without
// it the server runs unready (every detection 503), which still fuzzes the parsing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "fuzz_support.h"
#include "server/app.h"

namespace {

std::unique_ptr<coughkit::server::ServerStack> server;
int port = 0;

// How long one input may keep its connection open before the server has answered and closed
// it: well above the server's own header and request deadlines below.
constexpr auto kConnectionDeadline = std::chrono::seconds(30);

// The status of each response in `reply` (pipelined requests get several), read by their
// framing so that input bytes echoed in a body are never taken for a status line.
std::vector<int> response_statuses(const std::string& reply) {
  std::vector<int> statuses;
  std::size_t pos = 0;
  while (pos + 12 <= reply.size() && reply.compare(pos, 7, "HTTP/1.") == 0) {
    const std::size_t head_end = reply.find("\r\n\r\n", pos);
    if (head_end == std::string::npos) break;
    statuses.push_back(std::atoi(reply.c_str() + pos + 9));
    std::string head = reply.substr(pos, head_end - pos);
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::size_t cl = head.find("\r\ncontent-length:");
    const std::size_t length = cl == std::string::npos ? 0 : std::strtoull(head.c_str() + cl + 17, nullptr, 10);
    pos = head_end + 4 + length;
  }
  return statuses;
}

// With COUGHKIT_FUZZ_GDB_ON_HANG=1, a hang's finding comes with every server thread's stack
// (gdb attached to this process), which is where a hang is diagnosed.
void dump_thread_stacks() {
  if (!std::getenv("COUGHKIT_FUZZ_GDB_ON_HANG")) return;
  const std::string cmd = "gdb -p " + std::to_string(::getpid()) +
                          " -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 30' 1>&2 2>/dev/null";
  [[maybe_unused]] const int rc = std::system(cmd.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::err);  // no access log line per input
  coughkit::server::ServerConfig config;
  config.port = 0;
  config.workers = 1;
  config.max_batch = 2;
  config.request_timeout_s = 10;
  config.header_timeout_s = 2;
  config.read_timeout_s = 1;
  config.max_connections_per_client = config.max_connections;  // every input comes from 127.0.0.1
  config.max_job_audio_hours = 0.1;
  config.job_ttl_s = 5;
  config.detector.engine.threads = 1;
  if (const char* model = std::getenv("COUGHKIT_FUZZ_MODEL"); model && *model) config.detector.model_path = model;
  server = std::make_unique<coughkit::server::ServerStack>(config);
  port = server->listen();
  if (!config.detector.model_path.empty()) server->load_model();
  // Shut the server down before the statics it logs to (spdlog's registry, made above) are
  // destroyed: handlers registered with atexit now run before those destructors.
  std::atexit([] { server.reset(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    coughkit::fuzz::report_finding("http_request", "the server stopped accepting connections");
  }
  const auto deadline = std::chrono::steady_clock::now() + kConnectionDeadline;
  // Send while reading what comes back, so a server that answers early (413 before the
  // body) cannot deadlock the harness against a full socket buffer.
  std::string reply;
  std::size_t sent = 0;
  bool write_closed = false, eof = false;
  char buf[16384];
  while (!eof) {
    if (sent == size && !write_closed) {
      ::shutdown(fd, SHUT_WR);
      write_closed = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (write_closed ? 0 : POLLOUT)), 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    const int ready = left <= 0 ? 0 : ::poll(&p, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;  // libFuzzer's timer signal, not the server
    if (ready <= 0) {
      dump_thread_stacks();
      ::close(fd);
      coughkit::fuzz::report_finding("http_request", "the server neither answered nor closed the connection in 30 s");
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        eof = true;
      else
        reply.append(buf, static_cast<std::size_t>(n));
    }
    if (!write_closed && (p.revents & POLLOUT)) {
      const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        write_closed = true;  // the server closed its side (an early answer); read the rest
      } else {
        sent += static_cast<std::size_t>(n);
      }
    }
  }
  ::close(fd);
  for (const int status : response_statuses(reply))
    if (status >= 500 && status != 503 && status != 504)
      coughkit::fuzz::report_finding("http_request",
                                     "a " + std::to_string(status) + " answer: " + reply.substr(0, 600));
  return 0;
}
