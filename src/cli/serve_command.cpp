// `coughkit serve`: the HTTP service (src/server/). This file only maps flags and
// COUGHKIT_* environment variables to a ServerConfig and errors to exit codes.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "common/error.h"
#include "server/app.h"

namespace coughkit::cli {
namespace {

struct ServeArgs {
  server::ServerConfig config;
  double max_upload_mb = 25.0;
};

int run_serve(ServeArgs& args) {
  args.config.max_upload_bytes = static_cast<std::size_t>(args.max_upload_mb * 1024 * 1024);
  auto& model_path = args.config.detector.model_path;
  if (!resolve_default_model(model_path)) return kExitUsage;
  server::run_server(args.config);
  return kExitOk;
}

}  // namespace

CommandRunner register_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto& c = args->config;
  auto* cmd =
      app.add_subcommand("serve", "Serve cough detection over HTTP (reference-compatible API, v1 API, web page)");
  cmd->footer(
      "Routes: POST /api/detect-cough (multipart `audio`, optional `threshold`; the reference Flask API's shape),\n"
      "POST /api/analyze-tb (501), POST /v1/detect (raw or multipart audio, ?threshold=; the `detect --json` object),\n"
      "GET /v1/model, GET /health, GET /metrics (Prometheus), GET / (web page for browsers).\n"
      "The port is bound before the model loads; until it is loaded every route but /health answers 503.\n"
      "Over capacity (workers + queue limit) requests get 503 with Retry-After. SIGTERM/SIGINT: in-flight requests\n"
      "finish, new ones are refused, then the server exits 0. Every flag can also be set by the environment\n"
      "variable shown. Uploads are never written to disk unless --save-uploads is given.\n"
      "Example: coughkit serve --model models/coughkit_default.onnx --port 8080 --cors-origin '*'");
  cmd->add_option("--model,-m", c.detector.model_path,
                  "Model file: .onnx exported from AttnMILResNet, or a .pth checkpoint (default: the bundled "
                  "models/coughkit_default.onnx, a demonstration model; see models/README.md)")
      ->envname("COUGHKIT_MODEL");
  cmd->add_option("--host", c.host, "Address to listen on (0.0.0.0 = every interface)")
      ->envname("COUGHKIT_HOST")
      ->capture_default_str();
  cmd->add_option("--port", c.port, "TCP port (0 = any free port, printed in the log)")
      ->envname("COUGHKIT_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--workers", c.workers, "Requests decoded and featurised at once (0 = hardware threads)")
      ->envname("COUGHKIT_WORKERS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option("--queue-limit", c.queue_limit,
                  "Requests that may wait beyond the workers; more get 503 + Retry-After")
      ->envname("COUGHKIT_QUEUE_LIMIT")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  cmd->add_option("--max-batch", c.max_batch, "Most queued requests (bags) run through the model in one batch")
      ->envname("COUGHKIT_MAX_BATCH")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--max-connections", c.max_connections,
                  "Open client connections in all (each has a thread); more are answered 503 at once")
      ->envname("COUGHKIT_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 900))
      ->capture_default_str();
  cmd->add_option("--max-connections-per-client", c.max_connections_per_client,
                  "Open connections from one client address; more are answered 503 at once")
      ->envname("COUGHKIT_MAX_CONNECTIONS_PER_CLIENT")
      ->check(CLI::Range(1, 900))
      ->capture_default_str();
  cmd->add_option("--header-timeout", c.header_timeout_s,
                  "Seconds a request's line and headers may take to arrive; also the body's grace period")
      ->envname("COUGHKIT_HEADER_TIMEOUT")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--min-upload-rate", c.min_upload_kib_per_s,
                  "Slowest average upload in KiB/s after the grace; slower requests are cut off")
      ->envname("COUGHKIT_MIN_UPLOAD_RATE")
      ->check(CLI::Range(0.001, 1e6))
      ->capture_default_str();
  cmd->add_option("--max-upload-mb", args->max_upload_mb, "Largest upload in MiB; larger requests get 413")
      ->envname("COUGHKIT_MAX_UPLOAD_MB")
      ->check(CLI::Range(0.001, 4096.0))
      ->capture_default_str();
  cmd->add_option("--max-audio-seconds", c.max_audio_seconds, "Longest decoded audio in seconds; longer gets 413")
      ->envname("COUGHKIT_MAX_AUDIO_SECONDS")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  cmd->add_option("--request-timeout", c.request_timeout_s,
                  "Seconds a detection may wait for a worker and the model before 504")
      ->envname("COUGHKIT_REQUEST_TIMEOUT")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--read-timeout", c.read_timeout_s, "Seconds one socket read or write may stall")
      ->envname("COUGHKIT_READ_TIMEOUT")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--max-jobs", c.max_jobs,
                  "Monitor jobs (POST /v1/monitor) that may exist at once, queued, running or with results kept; "
                  "more get 503")
      ->envname("COUGHKIT_MAX_JOBS")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--job-ttl", c.job_ttl_s, "Seconds a finished job's result is kept")
      ->envname("COUGHKIT_JOB_TTL")
      ->check(CLI::Range(1.0, 2592000.0))
      ->capture_default_str();
  cmd->add_option("--max-job-audio-hours", c.max_job_audio_hours, "Longest decoded recording of one job")
      ->envname("COUGHKIT_MAX_JOB_AUDIO_HOURS")
      ->check(CLI::Range(0.001, 720.0))
      ->capture_default_str();
  cmd->add_option("--threshold", c.detector.threshold,
                  "Decision threshold when a request gives none, on every route (default: the model's own, else 0.61)")
      ->envname("COUGHKIT_THRESHOLD")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--save-uploads", c.save_uploads_dir,
                  "Write every upload to DIR as <request id>.<ext> (default: never)")
      ->envname("COUGHKIT_SAVE_UPLOADS");
  cmd->add_option("--cors-origin", c.cors_origin,
                  "Access-Control-Allow-Origin: '*' or a comma-separated list of origins (default: no CORS headers)")
      ->envname("COUGHKIT_CORS_ORIGIN");
  add_engine_flags(cmd, c.detector.engine, c.detector.backend);
  return [args] { return run_serve(*args); };
}

}  // namespace coughkit::cli
