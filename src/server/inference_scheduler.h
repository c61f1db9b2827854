#pragma once
// The inference side of the server: HTTP threads decode and compute features in parallel,
// then post the bag here; one thread pops up to `max_batch` queued bags and runs them
// through the model as one batch (Detector::infer), which amortises the per-run overhead
// when requests arrive together.
//
// Thread safety: submit()/depth() from any thread; stop() once, from the owner.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "detection/detector.h"

namespace coughkit::server {

class Metrics;

class InferenceScheduler {
 public:
  // `capacity`: most bags waiting; `max_batch`: most bags per model run.
  InferenceScheduler(const detection::Detector& detector, std::size_t capacity, std::size_t max_batch,
                     Metrics* metrics);
  ~InferenceScheduler();
  InferenceScheduler(const InferenceScheduler&) = delete;
  InferenceScheduler& operator=(const InferenceScheduler&) = delete;

  // Queues a bag; the future yields its detection at the detector's default threshold (the
  // caller applies its own). nullopt when the queue is full or stopped (never blocks).
  std::optional<std::future<detection::Detection>> try_submit(std::shared_ptr<const features::ClipFeatures> bag);

  // Refuses new bags, lets the thread finish what is queued, joins it. Idempotent.
  void stop();
  std::size_t depth() const;

 private:
  struct Job {
    std::shared_ptr<const features::ClipFeatures> bag;
    std::promise<detection::Detection> promise;
  };
  void loop();

  const detection::Detector& detector_;
  const std::size_t capacity_, max_batch_;
  Metrics* metrics_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace coughkit::server
