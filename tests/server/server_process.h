#pragma once
// Runs the real `coughkit serve` binary on a free loopback port for a test, and raw-socket
// helpers for the requests an HTTP client library will not send (malformed, slow, huge).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/test_data.h"

namespace coughkit::testing {

// A port nothing listens on now (the kernel's pick for an ephemeral bind).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class ServerProcess {
 public:
  // Starts `coughkit serve --host 127.0.0.1 --port P ARGS...` with extra environment
  // variables; its output goes to `log_path`.
  ServerProcess(std::vector<std::string> args, const std::filesystem::path& log_path,
                std::vector<std::pair<std::string, std::string>> env = {})
      : port_(free_port()), log_path_(log_path) {
    std::vector<std::string> argv = {cli_path().string(), "serve",  "--host",
                                     "127.0.0.1",         "--port", std::to_string(port_)};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return file_contents(log_path_); }
  httplib::Client client(int timeout_s = 120) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(timeout_s, 0);
    c.set_write_timeout(timeout_s, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }

  // Polls /health until the model is loaded (true) or the process exits / time runs out.
  bool wait_ready(double timeout_s = 120.0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (has_exited()) return false;
      auto c = client(2);
      if (auto res = c.Get("/health"); res && res->status == 200) {
        const auto j = nlohmann::json::parse(res->body, nullptr, false);
        if (!j.is_discarded() && j.value("model_loaded", false)) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  bool has_exited() {
    if (exited_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exited_;
  }

  // Sends `sig` (default SIGTERM) and waits for the exit code (-1 on timeout).
  int stop(int sig = SIGTERM, double timeout_s = 60.0) {
    if (!exited_) ::kill(pid_, sig);
    return wait_exit(timeout_s);
  }
  int wait_exit(double timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!has_exited()) {
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_code_;
  }

 private:
  int port_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

// A raw TCP connection to 127.0.0.1:port.
class RawConnection {
 public:
  // `from`: the loopback source address (127.0.0.x; any of 127/8 reaches the server), so a
  // test can be several clients.
  explicit RawConnection(int port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (from) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &src.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    timeval tv{30, 0};
    if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  // Waits up to `seconds` for the peer to send something or close: true when it did.
  bool answered_within(double seconds) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(seconds * 1000)) > 0;
  }
  // Sends everything it can; false once the peer stops accepting (reset / closed).
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the peer closes (or the 30-s receive timeout).
  std::string read_all() {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  // Reads one response: headers, then Content-Length bytes of body.
  std::string read_response() {
    std::string out;
    char buf[65536];
    std::size_t need = std::string::npos;
    for (;;) {
      if (need == std::string::npos) {
        if (const auto end = out.find("\r\n\r\n"); end != std::string::npos) {
          std::size_t length = 0;
          if (const auto cl = out.find("Content-Length: "); cl != std::string::npos && cl < end)
            length = std::stoul(out.substr(cl + 16));
          need = end + 4 + length;
        }
      }
      if (need != std::string::npos && out.size() >= need) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

inline int status_of(const std::string& raw_response) {
  // "HTTP/1.1 413 Payload Too Large"
  if (raw_response.size() < 12 || raw_response.compare(0, 5, "HTTP/") != 0) return -1;
  return std::stoi(raw_response.substr(9, 3));
}

inline std::string body_of(const std::string& raw_response) {
  const auto end = raw_response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : raw_response.substr(end + 4);
}

}  // namespace coughkit::testing
