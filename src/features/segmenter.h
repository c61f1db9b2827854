#pragma once
// Segmentation of the conditioned 16 kHz waveform (docs/pipeline.md section 3, the reference's
// `extract_segments`): 2.0 s windows every 0.5 s, short clips zero-padded to 2.0 s, only full
// windows, at most 32 per bag.
#include <cstddef>
#include <string>
#include <vector>

namespace coughkit::features {

struct SegmentOptions {
  int window_samples = 32000;  // 2.0 s at 16 kHz
  int hop_samples = 8000;      // 0.5 s
  int max_segments = 32;       // per bag; 0 = unlimited ("windows of bags" mode)
  int sample_rate = 16000;

  void Validate() const;
  std::string ToString() const;
};

struct SegmentPlan {
  std::size_t padded_length = 0;    // waveform length after zero-padding short clips
  std::size_t total_segments = 0;   // full windows in the whole clip
  std::vector<std::size_t> starts;  // sample offsets of the segments kept
  bool truncated() const { return starts.size() < total_segments; }
};

SegmentPlan plan_segments(std::size_t num_samples, const SegmentOptions& options = {});

// [start, end] of segment i in seconds: [0.5 i, 0.5 i + 2.0].
std::pair<double, double> segment_time_range(std::size_t index, const SegmentOptions& options = {});

}  // namespace coughkit::features
