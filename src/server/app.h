#pragma once
// `coughkit serve` end to end: bind, listen, load the model (503 until then), serve until
// SIGTERM/SIGINT, then drain: refuse new detections, finish in-flight ones, stop the
// inference queue, stop the listener, join.
#include "server/server_config.h"

namespace coughkit::server {

// Returns after a graceful shutdown. Throws ConfigError (bad config), InputError (unusable
// model; the server stops again), std::runtime_error (cannot bind).
void run_server(const ServerConfig& config);

}  // namespace coughkit::server
