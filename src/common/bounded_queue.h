#pragma once
// A blocking FIFO with a capacity: producers wait when it is full, consumers when it is
// empty; close() wakes everyone, after which push() fails and pop() drains what is left.
// A hand-off between one producer thread and the model, so that decoding and features run
// while inference does. Users: `coughkit detect` (src/cli/detect_command.cpp: decoded files
// ahead of inference) and monitoring::score_recording (src/monitoring/window_scorer.cpp:
// batches of window features ahead of the model), which `coughkit monitor` and the
// server's monitor jobs (server/monitor_jobs.h) run. It is not the server's request queue:
// detection requests are admitted by server/service.h and batched by its scheduler.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace coughkit {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

  // Blocks while full. Returns false (and drops the item) once closed.
  bool push(T item) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while empty and open. nullopt once closed and drained.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace coughkit
