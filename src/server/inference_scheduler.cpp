#include "server/inference_scheduler.h"

#include <vector>

#include <spdlog/spdlog.h>

#include "server/metrics.h"

namespace coughkit::server {

InferenceScheduler::InferenceScheduler(const detection::Detector& detector, std::size_t capacity, std::size_t max_batch,
                                       Metrics* metrics)
    : detector_(detector),
      capacity_(capacity ? capacity : 1),
      max_batch_(max_batch ? max_batch : 1),
      metrics_(metrics) {
  thread_ = std::thread([this] { loop(); });
}

InferenceScheduler::~InferenceScheduler() { stop(); }

std::optional<std::future<detection::Detection>> InferenceScheduler::try_submit(
    std::shared_ptr<const features::ClipFeatures> bag) {
  std::lock_guard lock(mutex_);
  if (closed_ || jobs_.size() >= capacity_) return std::nullopt;
  Job job{std::move(bag), {}};
  auto future = job.promise.get_future();
  jobs_.push_back(std::move(job));
  cv_.notify_one();
  return future;
}

void InferenceScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t InferenceScheduler::depth() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void InferenceScheduler::loop() {
  for (;;) {
    std::vector<Job> batch;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // closed and drained
      while (!jobs_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(jobs_.front()));
        jobs_.pop_front();
      }
    }
    std::vector<const features::ClipFeatures*> bags;
    std::size_t segments = 0;
    for (const auto& job : batch) {
      bags.push_back(job.bag.get());
      segments += job.bag->num_segments();
    }
    const auto start = std::chrono::steady_clock::now();
    try {
      auto results = detector_.infer(bags);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (metrics_) metrics_->observe_batch(batch.size(), segments, seconds);
      spdlog::debug("inference: {} bags, {} segments in {:.1f} ms", batch.size(), segments, seconds * 1e3);
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i].promise.set_value(std::move(results[i]));
    } catch (...) {
      for (auto& job : batch) job.promise.set_exception(std::current_exception());
    }
  }
}

}  // namespace coughkit::server
