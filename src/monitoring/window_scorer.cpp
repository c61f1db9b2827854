#include "monitoring/window_scorer.h"

#include <cmath>
#include <exception>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common/bounded_queue.h"
#include "common/error.h"

namespace coughkit::monitoring {
namespace {

// The loudness envelope of the mono mix, fed block by block.
class EnvelopeBuilder {
 public:
  // `expected_s`: the container's duration, so the envelope is allocated once (growing it
  // would hold the old and the new copy at once).
  EnvelopeBuilder(int sample_rate, double frame_s, double expected_s)
      : frame_(std::max<std::int64_t>(1, std::llround(frame_s * sample_rate))) {
    if (expected_s > 0 && expected_s < 30 * 86400.0)
      db_.reserve(static_cast<std::size_t>(expected_s / frame_s * 1.01) + 16);
  }

  void add(const std::vector<std::vector<float>>& planes, std::size_t from, std::size_t to) {
    const double channels = static_cast<double>(planes.size());
    for (std::size_t t = from; t < to; ++t) {
      double mono = 0;
      for (const auto& p : planes) mono += p[t];
      mono /= channels;
      sum_ += mono * mono;
      if (++filled_ == frame_) flush();
    }
  }
  // The last, partial frame counts when it holds at least half a frame.
  std::vector<float> finish() {
    if (filled_ * 2 >= frame_) flush();
    return std::move(db_);
  }

 private:
  void flush() {
    db_.push_back(static_cast<float>(10.0 * std::log10(sum_ / static_cast<double>(filled_) + 1e-12)));
    sum_ = 0;
    filled_ = 0;
  }
  const std::int64_t frame_;
  std::int64_t filled_ = 0;
  double sum_ = 0;
  std::vector<float> db_;
};

using Batch = std::vector<features::ClipFeatures>;

// The producer: decodes, cuts windows, computes their features, hands over batches.
class WindowFeeder {
 public:
  WindowFeeder(const detection::Detector& detector, audio::AudioStream& stream, const TrackOptions& options,
               BoundedQueue<Batch>& out, const ProgressFn& progress)
      : detector_(detector),
        stream_(stream),
        options_(options),
        plan_(options.windows, stream.sample_rate()),
        out_(out),
        progress_(progress),
        envelope_(stream.sample_rate(), options.envelope_frame_s, stream.duration_hint_s()) {}

  // Runs to the end of the stream (or a cancel); returns the frame count.
  std::int64_t run() {
    const std::int64_t length = plan_.length();
    const auto block = static_cast<std::size_t>(std::max<std::int64_t>(stream_.sample_rate(), length / 4));
    for (;;) {
      const std::size_t before = buffered();
      const std::size_t n = stream_.read(planes_, block);
      envelope_.add(planes_, before, before + n);
      frames_ += static_cast<std::int64_t>(n);
      if (progress_ && !progress_(static_cast<double>(frames_) / stream_.sample_rate())) throw Cancelled();
      while (plan_.start(next_) + length <= frames_) cut(plan_.start(next_), length);
      drop_before(plan_.start(next_));
      if (n == 0) break;
    }
    if (next_ == 0 && frames_ > 0) cut(0, frames_);  // shorter than one window: the whole recording
    flush();
    return frames_;
  }

  std::vector<float> envelope() { return envelope_.finish(); }

 private:
  std::size_t buffered() const { return planes_.empty() ? 0 : planes_.front().size(); }

  void cut(std::int64_t start, std::int64_t length) {
    audio::DecodedAudio clip;
    clip.sample_rate = stream_.sample_rate();
    clip.channels = stream_.channels();
    clip.codec = stream_.codec();
    const auto from = static_cast<std::ptrdiff_t>(start - buffer_start_);
    for (const auto& p : planes_) clip.planes.emplace_back(p.begin() + from, p.begin() + from + length);
    batch_.push_back(detector_.preprocess(clip));
    ++next_;
    if (static_cast<int>(batch_.size()) >= options_.batch_windows) flush();
  }

  void drop_before(std::int64_t frame) {
    const auto n = static_cast<std::ptrdiff_t>(
        std::min<std::int64_t>(frame - buffer_start_, static_cast<std::int64_t>(buffered())));
    if (n <= 0) return;
    for (auto& p : planes_) p.erase(p.begin(), p.begin() + n);
    buffer_start_ += n;
  }

  void flush() {
    if (batch_.empty()) return;
    if (!out_.push(std::move(batch_))) throw Cancelled();
    batch_.clear();
  }

  const detection::Detector& detector_;
  audio::AudioStream& stream_;
  const TrackOptions& options_;
  const WindowPlan plan_;
  BoundedQueue<Batch>& out_;
  const ProgressFn& progress_;
  EnvelopeBuilder envelope_;
  std::vector<std::vector<float>> planes_;
  std::int64_t buffer_start_ = 0, frames_ = 0, next_ = 0;
  Batch batch_;
};

}  // namespace

void TrackOptions::Validate() const {
  windows.Validate();
  if (batch_windows < 1 || batch_windows > 64)
    throw ConfigError(fmt::format("batch_windows must be in [1, 64], got {}", batch_windows));
  if (!(envelope_frame_s >= 0.001 && envelope_frame_s <= 0.1))
    throw ConfigError(fmt::format("envelope_frame_s must be in [0.001, 0.1], got {}", envelope_frame_s));
}

WindowTrack score_recording(const detection::Detector& detector, audio::AudioStream& stream,
                            const TrackOptions& options, const ProgressFn& progress) {
  options.Validate();
  WindowTrack track;
  track.windows = options.windows;
  track.sample_rate = stream.sample_rate();
  track.channels = stream.channels();
  track.codec = stream.codec();
  track.envelope_frame_s = options.envelope_frame_s;
  if (const double d = stream.duration_hint_s(); d > 0 && d < 30 * 86400.0)
    track.probabilities.reserve(static_cast<std::size_t>(d / options.windows.hop_s * 1.01) + 16);

  BoundedQueue<Batch> queue(2);  // two batches ahead of the model hide decoding and features
  WindowFeeder feeder(detector, stream, options, queue, progress);
  std::exception_ptr failure;
  std::thread producer([&] {
    try {
      track.frames = feeder.run();
    } catch (...) {
      failure = std::current_exception();
    }
    queue.close();
  });
  try {
    while (auto batch = queue.pop()) {
      std::vector<const features::ClipFeatures*> bags;
      for (const auto& f : *batch) bags.push_back(&f);
      for (const auto& d : detector.infer(bags)) track.probabilities.push_back(d.bag_probability);
    }
  } catch (...) {
    queue.close();  // the producer's next push fails and it stops
    producer.join();
    throw;
  }
  producer.join();
  if (failure) std::rethrow_exception(failure);
  track.envelope_db = feeder.envelope();
  return track;
}

}  // namespace coughkit::monitoring
