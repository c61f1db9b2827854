#include "server/server_config.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::server {

int ServerConfig::resolved_workers() const {
  if (workers > 0) return workers;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

void ServerConfig::Validate() const {
  detector.Validate();
  if (host.empty()) throw ConfigError("--host is empty");
  if (port < 0 || port > 65535) throw ConfigError(fmt::format("--port must be in [0, 65535], got {}", port));
  if (workers < 0 || workers > 256) throw ConfigError(fmt::format("--workers must be in [0, 256], got {}", workers));
  if (queue_limit < 0 || queue_limit > 4096)
    throw ConfigError(fmt::format("--queue-limit must be in [0, 4096], got {}", queue_limit));
  if (max_batch < 1 || max_batch > 64)
    throw ConfigError(fmt::format("--max-batch must be in [1, 64], got {}", max_batch));
  // Below FD_SETSIZE with room for the model and logs: the library checks descriptors against it.
  if (max_connections < 1 || max_connections > 900)
    throw ConfigError(fmt::format("--max-connections must be in [1, 900], got {}", max_connections));
  if (max_connections_per_client < 1 || max_connections_per_client > max_connections)
    throw ConfigError(fmt::format("--max-connections-per-client must be in [1, --max-connections ({})], got {}",
                                  max_connections, max_connections_per_client));
  if (!(header_timeout_s > 0.0) || header_timeout_s > 3600)
    throw ConfigError(fmt::format("--header-timeout must be in (0, 3600] s, got {}", header_timeout_s));
  if (!(min_upload_kib_per_s > 0.0) || !std::isfinite(min_upload_kib_per_s))
    throw ConfigError(fmt::format("--min-upload-rate must be > 0 KiB/s, got {}", min_upload_kib_per_s));
  if (max_upload_bytes < 1024) throw ConfigError("--max-upload-mb is below 1 KiB");
  if (!(max_audio_seconds > 0.0) || !std::isfinite(max_audio_seconds))
    throw ConfigError(fmt::format("--max-audio-seconds must be > 0, got {}", max_audio_seconds));
  if (!(request_timeout_s > 0.0) || !std::isfinite(request_timeout_s))
    throw ConfigError(fmt::format("--request-timeout must be > 0, got {}", request_timeout_s));
  if (read_timeout_s < 1 || read_timeout_s > 3600)
    throw ConfigError(fmt::format("--read-timeout must be in [1, 3600] s, got {}", read_timeout_s));
  if (max_jobs < 0 || max_jobs > 1000)
    throw ConfigError(fmt::format("--max-jobs must be in [0, 1000], got {}", max_jobs));
  if (!(job_ttl_s >= 1 && job_ttl_s <= 30 * 86400.0))
    throw ConfigError(fmt::format("--job-ttl must be in [1, 2592000] s, got {}", job_ttl_s));
  if (!(max_job_audio_hours > 0 && max_job_audio_hours <= 720))
    throw ConfigError(fmt::format("--max-job-audio-hours must be in (0, 720], got {}", max_job_audio_hours));
  if (keep_alive_max < 1) throw ConfigError(fmt::format("--keep-alive-max must be >= 1, got {}", keep_alive_max));
  if (cors_origin.find_first_of("\r\n") != std::string::npos) throw ConfigError("--cors-origin holds a line break");
}

std::string ServerConfig::ToString() const {
  return fmt::format(
      "ServerConfig(host={}, port={}, workers={}, queue_limit={}, max_batch={}, max_connections={}, "
      "max_connections_per_client={}, max_upload_bytes={}, max_audio_seconds={}, request_timeout_s={}, "
      "header_timeout_s={}, min_upload_kib_per_s={}, read_timeout_s={}, keep_alive_max={}, max_jobs={}, job_ttl_s={}, "
      "max_job_audio_hours={}, save_uploads_dir={}, "
      "cors_origin={}, {})",
      host, port, resolved_workers(), queue_limit, max_batch, max_connections, max_connections_per_client,
      max_upload_bytes, max_audio_seconds, request_timeout_s, header_timeout_s, min_upload_kib_per_s, read_timeout_s,
      keep_alive_max, max_jobs, job_ttl_s, max_job_audio_hours, save_uploads_dir.empty() ? "off" : save_uploads_dir,
      cors_origin.empty() ? "off" : cors_origin, detector.ToString());
}

}  // namespace coughkit::server
