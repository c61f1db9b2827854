#pragma once
// Everything `coughkit serve` can be told, in one struct: the CLI (src/cli/serve_command.cpp)
// fills it from flags and COUGHKIT_* environment variables, the server reads it.
#include <cstddef>
#include <string>

#include "detection/detector.h"

namespace coughkit::server {

struct ServerConfig {
  detection::DetectorConfig detector{};  // model file, engine threads, default threshold
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (the log says which)

  // Concurrency. `workers` requests decode and compute features at once (on HTTP threads);
  // up to `queue_limit` more wait for a worker or for inference; beyond that -> 503 with
  // Retry-After. The inference thread runs up to `max_batch` queued bags in one batch.
  int workers = 0;  // 0 = hardware threads
  int queue_limit = 16;
  int max_batch = 8;

  // Connections (server/http_server.h): each open connection has a thread; beyond either
  // cap a new connection is answered 503 at once.
  int max_connections = 256;
  int max_connections_per_client = 32;

  // Limits.
  std::size_t max_upload_bytes = 25u * 1024 * 1024;  // request body -> 413 beyond
  double max_audio_seconds = 600.0;                  // decoded duration -> 413 beyond
  double request_timeout_s = 60.0;                   // arrival to result (worker wait, decode, inference) -> 504
  double header_timeout_s = 10.0;                    // request line + headers; also the body's grace
  double min_upload_kib_per_s = 16.0;                // average body rate after the grace
  int read_timeout_s = 5;                            // one socket read/write
  int keep_alive_max = 100;                          // requests per connection

  // Monitor jobs (POST /v1/monitor, server/monitor_jobs.h).
  int max_jobs = 8;                   // jobs that exist at once (queued, running, or results kept)
  double job_ttl_s = 3600.0;          // how long a finished job's result is kept
  double max_job_audio_hours = 24.0;  // decoded duration of one job's upload

  std::string save_uploads_dir;  // empty = uploads are never written to disk
  std::string cors_origin;       // empty = no CORS headers

  int resolved_workers() const;

  void Validate() const;  // throws ConfigError naming the flag
  std::string ToString() const;
};

}  // namespace coughkit::server
