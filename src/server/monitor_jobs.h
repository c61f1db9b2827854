#pragma once
// Long recordings over HTTP (POST /v1/monitor): an hour of audio does not fit a request
// timeout, so each upload becomes a job, run by one job thread, polled by id and kept for
// `ttl_s` after it ends.
//
// Bounds: at most `max_jobs` jobs exist at once (queued, running or finished and not yet
// expired; beyond that submit() answers 503), each holding its upload (<= the upload limit)
// and its report. A job's audio is decoded as a stream, so its memory does not grow with the
// recording's length; `max_audio_s` caps the decoded duration.
//
// Fairness with /v1/detect: a job runs the model a few windows at a time (`batch_windows`);
// the engine serialises runs, so a short request waits for at most one such batch.
//
// Thread safety: every method may be called from any thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "detection/detector.h"
#include "monitoring/report.h"

namespace coughkit::server {

class Metrics;

struct MonitorJobOptions {
  int max_jobs = 8;
  double ttl_s = 3600;  // how long a finished job's result is kept
  double max_audio_s = 24 * 3600.0;
  int batch_windows = 4;
};

struct MonitorJobRequest {
  std::string bytes, name;
  monitoring::WindowOptions windows{};
  monitoring::MonitorSettings settings{};  // threshold (already resolved), night, start, gaps
};

enum class JobState { kQueued, kRunning, kDone, kFailed, kCancelled };
const char* job_state_name(JobState s);

// A job as GET /v1/jobs/{id} shows it.
struct JobView {
  std::string id, file;
  JobState state = JobState::kQueued;
  double progress = 0;  // 0..1 (by the container's duration; 0 when it gives none)
  double seconds_decoded = 0;
  std::string error;         // kFailed
  int error_status = 0;      // the HTTP status the failure would have had (413, 422, 500)
  std::string report_json;   // kDone: the report line (with the track)
  std::string timeline_svg;  // kDone
};

class MonitorJobs {
 public:
  MonitorJobs(const detection::Detector& detector, MonitorJobOptions options, Metrics* metrics);
  ~MonitorJobs();  // stop()
  MonitorJobs(const MonitorJobs&) = delete;
  MonitorJobs& operator=(const MonitorJobs&) = delete;

  // The new job's id; nullopt when max_jobs exist already.
  std::optional<std::string> submit(MonitorJobRequest request);
  std::optional<JobView> get(const std::string& id);
  // Cancels a queued or running job and forgets it; false when there is no such job.
  bool cancel(const std::string& id);
  std::map<JobState, int> counts();
  void stop();  // cancels everything, joins the job thread

 private:
  struct Job;
  void loop();
  void run(Job& job);
  void expire_locked();

  const detection::Detector& detector_;
  const MonitorJobOptions options_;
  Metrics* metrics_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace coughkit::server
