#pragma once
// `coughkit serve` end to end: bind, listen, load the model (503 until then), serve until
// SIGTERM/SIGINT, then drain: refuse new detections, finish in-flight ones, stop the
// inference queue, stop the listener, join.
#include <memory>

#include "server/server_config.h"

namespace coughkit::server {

class Service;

// Returns after a graceful shutdown. Throws ConfigError (bad config), InputError (unusable
// model; the server stops again), std::runtime_error (cannot bind).
void run_server(const ServerConfig& config);

// The service and its HTTP listener wired together, without signal handling: the steps
// run_server takes, for callers that run a server inside their own process (the HTTP fuzz
// target). Not thread-safe: one owner thread calls the steps in order.
class ServerStack {
 public:
  explicit ServerStack(const ServerConfig& config);  // validates the config (ConfigError)
  ~ServerStack();                                    // shutdown()
  ServerStack(const ServerStack&) = delete;
  ServerStack& operator=(const ServerStack&) = delete;

  // Binds (config.port; 0 = any free port) and serves on background threads; returns the
  // port. Until load_model() every route that needs the model answers 503.
  int listen();
  // Loads config.detector's model and makes the service ready. Throws InputError (unusable
  // model), ConfigError.
  void load_model();
  // Drain: refuse new detections, wait up to the request timeout (+2 s) for those in
  // progress, stop the inference queue, stop the listener. Idempotent.
  void shutdown();

  Service& service();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coughkit::server
