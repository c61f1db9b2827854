#pragma once
// The server's Prometheus metrics: a fixed set, rendered as text exposition format 0.0.4
// (`# HELP` / `# TYPE` lines, names without colons).
//
// Thread safety: every method may be called from any thread.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace coughkit::server {

// A cumulative histogram with fixed upper bounds (seconds or counts).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double v);
  // Appends `name_bucket{labels,le=..}`, `name_sum`, `name_count` lines.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last = +Inf
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // One finished HTTP request: route is a fixed label ("/v1/detect", ..., "other").
  void observe_request(const std::string& route, const std::string& method, int status, double seconds);
  void add_in_flight(int delta) { in_flight_ += delta; }
  void observe_audio(double seconds, std::size_t segments);
  void observe_batch(std::size_t bags, std::size_t segments, double seconds);
  void set_model_loaded(double load_seconds);
  void count_rejected(const std::string& reason);
  // Connections (server/http_server.h).
  void add_open_connections(int delta) { open_connections_ += delta; }
  void count_connection_refused(const std::string& reason);   // "server_full", "per_client_limit"
  void count_request_read_timeout(const std::string& phase);  // "headers", "body"
  // Monitor jobs (server/monitor_jobs.h): one per ended job, by how it ended; audio decoded.
  void count_monitor_job(const std::string& result);  // "done", "failed", "cancelled"
  void observe_monitor_audio(double seconds);

  // The text exposition; `queue_depth` and the jobs by state ("queued", ...) are sampled by
  // the caller.
  std::string render(std::size_t queue_depth, const std::map<std::string, int>& jobs = {}) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;  // route, method, status
  std::map<std::string, Histogram> latency_;                                     // by route
  std::map<std::string, std::uint64_t> rejected_;
  double audio_seconds_ = 0.0;
  std::uint64_t clips_ = 0, segments_ = 0, batches_ = 0, batched_bags_ = 0;
  Histogram batch_size_, inference_seconds_;
  std::atomic<int> in_flight_{0}, open_connections_{0};
  std::map<std::string, std::uint64_t> connections_refused_, read_timeouts_, monitor_jobs_;
  double monitor_audio_seconds_ = 0.0;
  double model_load_seconds_ = 0.0;
  bool model_loaded_ = false;
};

}  // namespace coughkit::server
