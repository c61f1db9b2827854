#include "server/monitor_jobs.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audio/decoder.h"
#include "common/error.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace coughkit::server {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
    case JobState::kCancelled: return "cancelled";
  }
  return "failed";
}

struct MonitorJobs::Job {
  JobView view;
  MonitorJobRequest request;
  std::atomic<bool> cancel{false};
  Clock::time_point ended;
};

MonitorJobs::MonitorJobs(const detection::Detector& detector, MonitorJobOptions options, Metrics* metrics)
    : detector_(detector), options_(options), metrics_(metrics), thread_([this] { loop(); }) {}

MonitorJobs::~MonitorJobs() { stop(); }

void MonitorJobs::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [id, job] : jobs_) job->cancel = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MonitorJobs::expire_locked() {
  const auto now = Clock::now();
  std::erase_if(jobs_, [&](const auto& entry) {
    const auto& job = *entry.second;
    const bool ended = job.view.state == JobState::kDone || job.view.state == JobState::kFailed;
    return ended && std::chrono::duration<double>(now - job.ended).count() > options_.ttl_s;
  });
}

std::optional<std::string> MonitorJobs::submit(MonitorJobRequest request) {
  std::lock_guard lock(mutex_);
  expire_locked();
  if (stopping_ || static_cast<int>(jobs_.size()) >= options_.max_jobs) return std::nullopt;
  auto job = std::make_shared<Job>();
  job->view.id = "job-" + new_request_id();
  job->view.file = request.name;
  job->request = std::move(request);
  jobs_[job->view.id] = job;
  queue_.push_back(job);
  cv_.notify_all();
  return job->view.id;
}

std::optional<JobView> MonitorJobs::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  expire_locked();
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second->view;
}

bool MonitorJobs::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  it->second->cancel = true;
  if (it->second->view.state == JobState::kQueued) {
    std::erase(queue_, it->second);
    if (metrics_) metrics_->count_monitor_job("cancelled");
  }
  jobs_.erase(it);  // a running job finishes its batch, sees the flag, and is dropped
  return true;
}

std::map<JobState, int> MonitorJobs::counts() {
  std::lock_guard lock(mutex_);
  expire_locked();
  std::map<JobState, int> out;
  for (const auto& [id, job] : jobs_) ++out[job->view.state];
  return out;
}

void MonitorJobs::loop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      job->view.state = JobState::kRunning;
    }
    run(*job);
  }
}

void MonitorJobs::run(Job& job) {
  const auto t0 = Clock::now();
  JobState end = JobState::kDone;
  std::string error, report, svg;
  int status = 0;
  double decoded = 0;
  try {
    const auto& r = job.request;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(r.bytes.data());
    auto stream = audio::open_audio_stream(std::span<const std::uint8_t>(bytes, r.bytes.size()), r.name);
    const double expected = stream->duration_hint_s();
    monitoring::TrackOptions options{.windows = r.windows, .batch_windows = options_.batch_windows};
    auto track = monitoring::score_recording(detector_, *stream, options, [&](double seconds) {
      if (seconds > options_.max_audio_s)
        throw LimitError(fmt::format("{}: more than {} s of audio, the limit for a job", r.name, options_.max_audio_s));
      decoded = seconds;
      std::lock_guard lock(mutex_);
      job.view.seconds_decoded = seconds;
      job.view.progress = expected > 0 ? std::min(seconds / expected, 0.999) : 0.0;
      return !job.cancel.load();
    });
    auto settings = r.settings;
    settings.windows = r.windows;
    auto analysed = monitoring::analyse(r.name, std::move(track), settings);
    analysed.processing_s = std::chrono::duration<double>(Clock::now() - t0).count();
    report = monitoring::report_json(analysed, true);
    svg = monitoring::timeline_svg(analysed);
  } catch (const monitoring::Cancelled&) {
    end = JobState::kCancelled;
  } catch (const std::exception& e) {
    end = JobState::kFailed;
    error = e.what();
    const auto kind = kind_of(e);
    status = kind == ErrorKind::kTooLarge ? 413 : kind == ErrorKind::kInternal ? 500 : 422;
    if (status == 500) spdlog::error("monitor job {}: {}", job.view.id, error);
  }
  if (metrics_) {
    metrics_->count_monitor_job(job_state_name(end));
    metrics_->observe_monitor_audio(decoded);
  }
  std::lock_guard lock(mutex_);
  job.view.state = end;
  job.view.error = error;
  job.view.error_status = status;
  job.view.report_json = std::move(report);
  job.view.timeline_svg = std::move(svg);
  if (end == JobState::kDone) job.view.progress = 1.0;
  job.ended = Clock::now();
  job.request.bytes = std::string();  // the upload is not needed any more
  job.request.bytes.shrink_to_fit();
}

}  // namespace coughkit::server
