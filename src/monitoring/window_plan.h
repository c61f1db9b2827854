#pragma once
// The windows a long recording is scored in (docs/pipeline.md section 9): window i covers
// the native-rate frames [s_i, s_i + L) with L = round(window_s * sr) and
// s_i = round(i * hop_s * sr), halves rounded up. Every whole window is scored; a recording
// shorter than one window is one window (the whole recording, which the pipeline pads as it
// pads any short clip).
//
// Durations are held as whole microseconds so that s_i is computed in integers: with
// hop_s = 0.5 at 11025 Hz, s_1 = 5512.5 -> 5513 exactly, never 5512 through a rounding error.
#include <cstdint>
#include <string>

namespace coughkit::monitoring {

struct WindowOptions {
  double window_s = 2.0;  // 2 s: one segment per window; 10 s: bags of 17 segments
  double hop_s = 0.5;

  void Validate() const;  // throws ConfigError: window in [2, 60] s, hop in (0, window], both whole microseconds
  std::string ToString() const;
};

class WindowPlan {
 public:
  WindowPlan(const WindowOptions& options, int sample_rate);

  std::int64_t length() const { return length_; }  // L
  std::int64_t start(std::int64_t i) const;        // s_i
  // Windows scored in a recording of `frames` frames (>= 1 when frames > 0).
  std::int64_t count(std::int64_t frames) const;
  int sample_rate() const { return rate_; }

 private:
  std::int64_t hop_us_ = 0, length_ = 0;
  int rate_ = 0;
};

}  // namespace coughkit::monitoring
