#pragma once
// The state every route shares: config, metrics, the detector once loaded, the inference
// scheduler, admission control and the detection pipeline of an upload
// (admit -> decode -> features -> queue for batched inference -> threshold).
//
// Lifecycle (server/app.cpp): construct -> HTTP listens (not ready: 503) -> set_detector()
// (ready) -> begin_drain() (new detections 503) -> wait_idle() -> stop_inference().
// Thread safety: everything may be called from any HTTP thread; the lifecycle calls come
// from the owner thread.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "detection/detector.h"
#include "server/http_types.h"
#include "server/inference_scheduler.h"
#include "server/metrics.h"
#include "server/monitor_jobs.h"
#include "server/server_config.h"

namespace coughkit::server {

class Service {
 public:
  explicit Service(ServerConfig config);
  ~Service();

  const ServerConfig& config() const { return config_; }
  Metrics& metrics() { return metrics_; }

  // Lifecycle.
  void set_detector(std::unique_ptr<detection::Detector> detector, double load_seconds);
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  void begin_drain() { draining_.store(true); }
  bool draining() const { return draining_.load(); }
  // True once no detection is in progress (false on timeout).
  bool wait_idle(std::chrono::milliseconds timeout) const;
  void stop_inference();

  // Only after ready().
  const detection::Detector& detector() const { return *detector_; }
  MonitorJobs& jobs() { return *jobs_; }
  // Jobs by state name, for /metrics (empty before ready()).
  std::map<std::string, int> job_counts();
  std::size_t queue_depth() const { return scheduler_ ? scheduler_->depth() : 0; }

  // The whole detection of one upload. `name` is the client's file name (or "upload").
  // Throws HttpError: 503 overloaded / shutting_down (Retry-After), 413 audio_too_long,
  // 422 invalid_audio, 504 timeout; ConfigError never (threshold checked by the caller).
  detection::Detection detect(std::string_view bytes, const std::string& name, std::optional<float> threshold,
                              const std::string& request_id);

  // {"model_file", "model_type", "validation_auc"}: the legacy API's model_info, the head of
  // /v1/model, and what /health reports (the one place these are put together).
  nlohmann::ordered_json model_info() const;
  std::optional<double> validation_auc() const;

 private:
  void save_upload(std::string_view bytes, const std::string& name, const std::string& request_id) const;

  const ServerConfig config_;
  Metrics metrics_;
  std::unique_ptr<detection::Detector> detector_;
  std::unique_ptr<InferenceScheduler> scheduler_;
  std::unique_ptr<MonitorJobs> jobs_;
  std::atomic<bool> ready_{false}, draining_{false};
  std::atomic<int> admitted_{0};           // detections in progress (waiting, preprocessing or queued)
  const int admit_limit_;                  // workers + queue_limit
  std::counting_semaphore<4096> workers_;  // decode + features slots
};

// A threshold from a request ("0.5"): nullopt when absent; throws HttpError 400 when not a
// number in [0, 1]. `code` is the v1 error code.
std::optional<float> parse_threshold(const std::optional<std::string>& text);

}  // namespace coughkit::server
