#include "server/app.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "server/http_server.h"
#include "server/routes.h"
#include "server/service.h"

namespace coughkit::server {
namespace {

// SIGINT/SIGTERM are blocked in every thread and taken by one sigwait() thread, which
// only flips a flag: nothing runs in signal context.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);  // before any other thread exists: they inherit it
    thread_ = std::thread([this] {
      int sig = 0;
      while (sigwait(&set_, &sig) == 0) {
        std::lock_guard lock(mutex_);
        if (exiting_) return;
        signal_ = sig;
        cv_.notify_all();
      }
    });
  }
  ~SignalWatcher() {
    {
      std::lock_guard lock(mutex_);
      exiting_ = true;
    }
    pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  int wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return signal_ != 0; });
    return signal_;
  }
  bool received() {
    std::lock_guard lock(mutex_);
    return signal_ != 0;
  }

 private:
  sigset_t set_{}, old_{};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int signal_ = 0;
  bool exiting_ = false;
};

}  // namespace

struct ServerStack::Impl {
  explicit Impl(const ServerConfig& c)
      : config(c), service(config), http(http_options(config), handler(), error_body(), access_logger(), observer()) {}

  static HttpServerOptions http_options(const ServerConfig& config) {
    HttpServerOptions options;
    options.max_connections = config.max_connections;
    options.max_connections_per_client = config.max_connections_per_client;
    options.header_timeout_s = config.header_timeout_s;
    options.min_body_bytes_per_s = config.min_upload_kib_per_s * 1024.0;
    // Multipart framing around the largest allowed file; the handlers check the file itself.
    options.max_body_bytes = config.max_upload_bytes + 64 * 1024;
    options.read_timeout_s = options.write_timeout_s = config.read_timeout_s;
    options.keep_alive_max = config.keep_alive_max;
    return options;
  }
  HttpServer::Handler handler() {
    return [this](const Request& r) { return route(service, r); };
  }
  static HttpServer::ErrorBody error_body() {
    return [](int status, const std::string& path) { return library_error(status, path); };
  }
  HttpServer::AccessLogger access_logger() {
    auto access_log = spdlog::get("access") ? spdlog::get("access") : spdlog::default_logger();
    return [this, access_log](const AccessRecord& a) {
      service.metrics().observe_request(route_label(a.path), a.method, a.status, a.ms / 1e3);
      access_log->info("access method={} path={} status={} bytes={} ms={:.1f} id={} remote={}", a.method,
                       a.path.empty() ? "-" : a.path, a.status, a.bytes, a.ms,
                       a.request_id.empty() ? "-" : a.request_id, a.remote_addr.empty() ? "-" : a.remote_addr);
    };
  }
  ConnectionObserver observer() {
    return ConnectionObserver{
        .opened = [this] { service.metrics().add_open_connections(1); },
        .closed = [this] { service.metrics().add_open_connections(-1); },
        .refused = [this](const std::string& reason) { service.metrics().count_connection_refused(reason); },
        .timed_out = [this](const std::string& phase) { service.metrics().count_request_read_timeout(phase); },
    };
  }

  const ServerConfig config;  // a copy: the stack may outlive the caller's struct
  Service service;
  HttpServer http;
  bool stopped = false;
};

ServerStack::ServerStack(const ServerConfig& config) {
  config.Validate();
  if (!config.save_uploads_dir.empty()) std::filesystem::create_directories(config.save_uploads_dir);
  impl_ = std::make_unique<Impl>(config);
}

ServerStack::~ServerStack() { shutdown(); }

Service& ServerStack::service() { return impl_->service; }

int ServerStack::listen() {
  const auto& config = impl_->config;
  const int port = impl_->http.bind(config.host, config.port);
  impl_->http.start();
  spdlog::info(
      "listening on http://{}:{} ({} workers, queue {}, batch {}, up to {} connections, {} per client); "
      "loading {}",
      config.host, port, config.resolved_workers(), config.queue_limit, config.max_batch, config.max_connections,
      config.max_connections_per_client, config.detector.model_path);
  return port;
}

void ServerStack::load_model() {
  const auto& config = impl_->config;
  const auto t0 = std::chrono::steady_clock::now();
  auto detector = detection::Detector::create(config.detector);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("model {} loaded in {:.2f} s ({}: {}); ready", config.detector.model_path, load_s,
               detector->runner().backend_name(), detector->runner().describe());
  impl_->service.set_detector(std::move(detector), load_s);
}

void ServerStack::shutdown() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  auto& service = impl_->service;
  service.begin_drain();
  const auto grace = std::chrono::milliseconds(static_cast<long long>(impl_->config.request_timeout_s * 1000) + 2000);
  if (!service.wait_idle(grace)) spdlog::warn("requests still in progress after {} ms; stopping anyway", grace.count());
  service.stop_inference();  // the queue first (drains what is left) ...
  impl_->http.stop();        // ... then the listener, joining the connection threads
}

void run_server(const ServerConfig& config) {
  config.Validate();
  spdlog::debug("{}", config.ToString());

  SignalWatcher signals;  // before any other thread exists: they inherit its signal mask
  ServerStack stack(config);
  // Bind first, so clients and probes see the port at once; load the model next. A model
  // that cannot be loaded stops the listener again (the stack's destructor) and is thrown.
  stack.listen();
  stack.load_model();

  const int sig = signals.wait();
  spdlog::info("{}: shutting down: refusing new requests, finishing those in progress",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
  stack.shutdown();
  spdlog::info("stopped");
}

}  // namespace coughkit::server
