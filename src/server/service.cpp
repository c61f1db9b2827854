#include "server/service.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <span>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audio/decoder.h"
#include "common/error.h"

namespace coughkit::server {
namespace {

using Clock = std::chrono::steady_clock;

// Holds one admission slot for the life of a detection.
class Admission {
 public:
  explicit Admission(std::atomic<int>& count) : count_(count) { ++count_; }
  ~Admission() { --count_; }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

 private:
  std::atomic<int>& count_;
};

std::string safe_extension(const std::string& name) {
  const auto ext = std::filesystem::path(name).extension().string();
  if (ext.size() < 2 || ext.size() > 6) return ".bin";
  for (std::size_t i = 1; i < ext.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(ext[i]))) return ".bin";
  return ext;
}

}  // namespace

Service::Service(ServerConfig config)
    : config_(std::move(config)),
      admit_limit_(config_.resolved_workers() + config_.queue_limit),
      workers_(config_.resolved_workers()) {}

Service::~Service() { stop_inference(); }

void Service::set_detector(std::unique_ptr<detection::Detector> detector, double load_seconds) {
  detector_ = std::move(detector);
  // Every admitted request can be queued at once, so try_submit only fails when stopping.
  scheduler_ = std::make_unique<InferenceScheduler>(*detector_, static_cast<std::size_t>(admit_limit_),
                                                    static_cast<std::size_t>(config_.max_batch), &metrics_);
  jobs_ = std::make_unique<MonitorJobs>(*detector_,
                                        MonitorJobOptions{.max_jobs = config_.max_jobs,
                                                          .ttl_s = config_.job_ttl_s,
                                                          .max_audio_s = config_.max_job_audio_hours * 3600.0},
                                        &metrics_);
  metrics_.set_model_loaded(load_seconds);
  ready_.store(true, std::memory_order_release);
}

bool Service::wait_idle(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (admitted_.load() > 0) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void Service::stop_inference() {
  if (jobs_) jobs_->stop();
  if (scheduler_) scheduler_->stop();
}

std::map<std::string, int> Service::job_counts() {
  std::map<std::string, int> out;
  if (!ready()) return out;
  for (const auto& [state, n] : jobs_->counts()) out[job_state_name(state)] = n;
  return out;
}

void Service::save_upload(std::string_view bytes, const std::string& name, const std::string& request_id) const {
  const auto path = std::filesystem::path(config_.save_uploads_dir) / (request_id + safe_extension(name));
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) spdlog::warn("cannot save upload {} to {}", request_id, path.string());
}

detection::Detection Service::detect(std::string_view bytes, const std::string& name, std::optional<float> threshold,
                                     const std::string& request_id) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(config_.request_timeout_s));
  if (draining()) {
    metrics_.count_rejected("shutting_down");
    throw HttpError{503, "shutting_down", "the server is shutting down", 1};
  }
  Admission admission(admitted_);
  if (admitted_.load() > admit_limit_) {
    metrics_.count_rejected("overloaded");
    throw HttpError{503, "overloaded",
                    fmt::format("the server is busy ({} requests in progress); retry later", admit_limit_), 1};
  }
  if (bytes.size() > config_.max_upload_bytes)
    throw HttpError{
        413, "upload_too_large",
        fmt::format("the upload is {} bytes; the limit is {} bytes", bytes.size(), config_.max_upload_bytes)};
  if (bytes.empty()) throw HttpError{400, "empty_upload", "the audio upload is empty"};
  if (!config_.save_uploads_dir.empty()) save_upload(bytes, name, request_id);

  // Decode and compute features on this thread, at most `workers` at a time.
  if (!workers_.try_acquire_until(deadline)) {
    metrics_.count_rejected("timeout");
    throw HttpError{504, "timeout", "no worker became free within the request timeout", 1};
  }
  std::shared_ptr<const features::ClipFeatures> bag;
  double duration = 0.0;
  try {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const auto audio = audio::decode_memory(std::span<const std::uint8_t>(data, bytes.size()), name,
                                            {.max_duration_s = config_.max_audio_seconds});
    duration = audio.duration_seconds();
    if (duration > config_.max_audio_seconds)
      throw LimitError(
          fmt::format("{}: {:.1f} s of audio; the limit is {} s", name, duration, config_.max_audio_seconds));
    bag = std::make_shared<const features::ClipFeatures>(detector_->preprocess(audio));
  } catch (const LimitError& e) {
    workers_.release();
    throw HttpError{413, "audio_too_long", e.what()};
  } catch (const InputError& e) {
    workers_.release();
    throw HttpError{422, "invalid_audio", e.what()};
  } catch (...) {
    workers_.release();
    throw;
  }
  workers_.release();

  auto future = scheduler_->try_submit(bag);
  if (!future) {
    metrics_.count_rejected("overloaded");
    throw HttpError{503, "overloaded", "the inference queue is full or stopping; retry later", 1};
  }
  if (future->wait_until(deadline) != std::future_status::ready) {
    metrics_.count_rejected("timeout");
    throw HttpError{504, "timeout", fmt::format("inference did not finish within {} s", config_.request_timeout_s)};
  }
  detection::Detection d = future->get();  // rethrows an inference failure
  d.source = name;
  if (threshold) {  // the batch ran at the default threshold; the decision is per request
    d.threshold = *threshold;
    d.cough_detected = d.bag_probability > *threshold;
  }
  metrics_.observe_audio(d.duration_s, d.num_segments);
  return d;
}

std::optional<double> Service::validation_auc() const {
  if (!ready()) return std::nullopt;
  const auto& meta = detector_->runner().metadata();
  for (const char* key : {"validation_auc", "val_auc"}) {
    const auto it = meta.find(key);
    if (it == meta.end()) continue;
    double v = 0.0;
    const auto& t = it->second;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec == std::errc() && std::isfinite(v)) return v;
  }
  return std::nullopt;
}

nlohmann::ordered_json Service::model_info() const {
  nlohmann::ordered_json j;
  j["model_file"] = std::filesystem::path(config_.detector.model_path).filename().string();
  j["model_type"] = "AttnMILResNet";
  const auto auc = validation_auc();
  j["validation_auc"] = auc ? nlohmann::ordered_json(*auc) : nlohmann::ordered_json(nullptr);
  return j;
}

std::optional<float> parse_threshold(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  std::string t = *text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
  float v = 0.0f;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !(v >= 0.0f && v <= 1.0f))
    throw HttpError{400, "invalid_threshold", fmt::format("threshold must be a number in [0, 1], got '{}'", *text)};
  return v;
}

}  // namespace coughkit::server
