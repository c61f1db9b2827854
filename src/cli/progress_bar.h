#pragma once
// A one-line progress bar on stderr, drawn only when stderr is a terminal (scripts and
// logs get the per-file messages alone).
#include <chrono>
#include <cstddef>
#include <string>

namespace coughkit::cli {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total);
  ~ProgressBar();  // clears the line
  void advance(const std::string& item);
  // Call before printing a log line so it does not collide with the bar.
  void clear();
  bool enabled() const { return enabled_; }

 private:
  void draw();
  std::string label_, item_;
  std::size_t total_, done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace coughkit::cli
