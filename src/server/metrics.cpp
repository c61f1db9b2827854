#include "server/metrics.h"

#include <fmt/format.h>

namespace coughkit::server {
namespace {

// Request latencies span 1 ms (/health) to tens of seconds (600-s uploads under load).
const std::vector<double> kLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64};

std::string number(double v) { return fmt::format("{}", v); }

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, number(bounds_[i]), cumulative);
  }
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count_);
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, number(sum_), name, braces, count_);
}

Metrics::Metrics() : batch_size_(kBatchBounds), inference_seconds_(kLatencyBounds) {}

void Metrics::observe_request(const std::string& route, const std::string& method, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, method, status}];
  latency_.try_emplace(route, kLatencyBounds).first->second.observe(seconds);
}

void Metrics::observe_audio(double seconds, std::size_t segments) {
  std::lock_guard lock(mutex_);
  audio_seconds_ += seconds;
  segments_ += segments;
  ++clips_;
}

void Metrics::observe_batch(std::size_t bags, std::size_t segments, double seconds) {
  std::lock_guard lock(mutex_);
  ++batches_;
  batched_bags_ += bags;
  batch_size_.observe(static_cast<double>(bags));
  inference_seconds_.observe(seconds);
  (void)segments;
}

void Metrics::set_model_loaded(double load_seconds) {
  std::lock_guard lock(mutex_);
  model_load_seconds_ = load_seconds;
  model_loaded_ = true;
}

void Metrics::count_rejected(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++rejected_[reason];
}

void Metrics::count_connection_refused(const std::string& reason) {
  std::lock_guard lock(mutex_);
  ++connections_refused_[reason];
}

void Metrics::count_request_read_timeout(const std::string& phase) {
  std::lock_guard lock(mutex_);
  ++read_timeouts_[phase];
}

void Metrics::count_monitor_job(const std::string& result) {
  std::lock_guard lock(mutex_);
  ++monitor_jobs_[result];
}

void Metrics::observe_monitor_audio(double seconds) {
  std::lock_guard lock(mutex_);
  monitor_audio_seconds_ += seconds;
}

std::string Metrics::render(std::size_t queue_depth, const std::map<std::string, int>& jobs) const {
  std::lock_guard lock(mutex_);
  std::string out;
  header(out, "coughkit_http_requests_total", "counter", "HTTP requests answered, by route, method and status code.");
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    out += fmt::format("coughkit_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n", route, method,
                       status, n);
  }
  header(out, "coughkit_http_request_duration_seconds", "histogram",
         "Time from the request's arrival at a handler to its response, by route.");
  for (const auto& [route, h] : latency_)
    h.render(out, "coughkit_http_request_duration_seconds", fmt::format("route=\"{}\"", route));
  header(out, "coughkit_http_requests_in_flight", "gauge", "Requests being handled now.");
  out += fmt::format("coughkit_http_requests_in_flight {}\n", in_flight_.load());
  header(out, "coughkit_http_rejected_total", "counter",
         "Requests refused before processing (overloaded, shutting_down, not_ready), by reason.");
  for (const auto& [reason, n] : rejected_)
    out += fmt::format("coughkit_http_rejected_total{{reason=\"{}\"}} {}\n", reason, n);
  header(out, "coughkit_http_connections_open", "gauge", "Client connections open now (each has a thread).");
  out += fmt::format("coughkit_http_connections_open {}\n", open_connections_.load());
  header(out, "coughkit_http_connections_refused_total", "counter",
         "Connections answered 503 and closed at once: server_full (--max-connections) or per_client_limit "
         "(--max-connections-per-client).");
  for (const char* reason : {"server_full", "per_client_limit"}) {
    const auto it = connections_refused_.find(reason);
    out += fmt::format("coughkit_http_connections_refused_total{{reason=\"{}\"}} {}\n", reason,
                       it == connections_refused_.end() ? 0 : it->second);
  }
  header(out, "coughkit_http_request_read_timeouts_total", "counter",
         "Requests whose headers (--header-timeout) or body (--min-upload-rate) did not arrive in time; the "
         "connection was closed.");
  for (const char* phase : {"headers", "body"}) {
    const auto it = read_timeouts_.find(phase);
    out += fmt::format("coughkit_http_request_read_timeouts_total{{phase=\"{}\"}} {}\n", phase,
                       it == read_timeouts_.end() ? 0 : it->second);
  }
  header(out, "coughkit_audio_seconds_total", "counter", "Seconds of decoded audio processed.");
  out += fmt::format("coughkit_audio_seconds_total {}\n", number(audio_seconds_));
  header(out, "coughkit_clips_total", "counter", "Audio clips processed (one per successful detection).");
  out += fmt::format("coughkit_clips_total {}\n", clips_);
  header(out, "coughkit_segments_total", "counter", "2-s segments run through the model.");
  out += fmt::format("coughkit_segments_total {}\n", segments_);
  header(out, "coughkit_inference_batches_total", "counter", "Model runs (each one batch of queued bags).");
  out += fmt::format("coughkit_inference_batches_total {}\n", batches_);
  header(out, "coughkit_inference_batch_bags", "histogram", "Bags (requests) per model run.");
  batch_size_.render(out, "coughkit_inference_batch_bags", "");
  header(out, "coughkit_inference_duration_seconds", "histogram", "Time of one model run (one batch).");
  inference_seconds_.render(out, "coughkit_inference_duration_seconds", "");
  header(out, "coughkit_inference_queue_depth", "gauge", "Preprocessed bags waiting for the model.");
  out += fmt::format("coughkit_inference_queue_depth {}\n", queue_depth);
  header(out, "coughkit_monitor_jobs", "gauge", "Monitor jobs that exist now (POST /v1/monitor), by state.");
  for (const char* state : {"queued", "running", "done", "failed"}) {
    const auto it = jobs.find(state);
    out += fmt::format("coughkit_monitor_jobs{{state=\"{}\"}} {}\n", state, it == jobs.end() ? 0 : it->second);
  }
  header(out, "coughkit_monitor_jobs_ended_total", "counter",
         "Monitor jobs that ended, by how (done, failed, cancelled).");
  for (const char* result : {"done", "failed", "cancelled"}) {
    const auto it = monitor_jobs_.find(result);
    out += fmt::format("coughkit_monitor_jobs_ended_total{{result=\"{}\"}} {}\n", result,
                       it == monitor_jobs_.end() ? 0 : it->second);
  }
  header(out, "coughkit_monitor_audio_seconds_total", "counter", "Seconds of audio decoded by monitor jobs.");
  out += fmt::format("coughkit_monitor_audio_seconds_total {}\n", number(monitor_audio_seconds_));
  header(out, "coughkit_model_loaded", "gauge", "1 once the model is loaded and requests are served.");
  out += fmt::format("coughkit_model_loaded {}\n", model_loaded_ ? 1 : 0);
  header(out, "coughkit_model_load_seconds", "gauge", "Time the model took to load.");
  out += fmt::format("coughkit_model_load_seconds {}\n", number(model_load_seconds_));
  return out;
}

}  // namespace coughkit::server
