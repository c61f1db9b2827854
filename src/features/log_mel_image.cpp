#include "features/log_mel_image.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <fmt/format.h>

#include "common/error.h"
#include "features/vector_math.h"

namespace coughkit::features {
namespace {

// torch.hann_window(n, periodic=True) in float32: hamming_window(n + 1, alpha=beta=0.5)
// without its last point; ATen computes arange * (2 pi / (n)) -> cos -> * -0.5 + 0.5 in float.
std::vector<float> periodic_hann(int n) {
  std::vector<float> w(n);
  const auto step = static_cast<float>(2.0 * std::numbers::pi / n);
  for (int i = 0; i < n; ++i) w[i] = std::cos(static_cast<float>(i) * step) * -0.5f + 0.5f;
  return w;
}

// ATen's upsample_bilinear2d (align_corners=False, no explicit scale) source index and
// weights for one output index, in float as the float32 kernel computes them.
void bilinear_source(int out_index, int in_size, int out_size, int& i0, int& i1, float& l0, float& l1) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  float src = scale * (static_cast<float>(out_index) + 0.5f) - 0.5f;
  if (src < 0.0f) src = 0.0f;
  i0 = static_cast<int>(src);
  i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
  l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
  l0 = 1.0f - l1;
}

}  // namespace

void MelImageOptions::Validate() const {
  mel.Validate();
  if (n_fft != mel.n_fft) throw ConfigError(fmt::format("n_fft ({}) and mel.n_fft ({}) differ", n_fft, mel.n_fft));
  if (win_length != n_fft)
    throw ConfigError(fmt::format("win_length must equal n_fft ({}), got {}", n_fft, win_length));
  if (hop_length < 1) throw ConfigError(fmt::format("hop_length must be >= 1, got {}", hop_length));
  if (!(amin > 0.0f)) throw ConfigError(fmt::format("amin must be > 0, got {}", amin));
  if (!(top_db > 0.0f)) throw ConfigError(fmt::format("top_db must be > 0, got {}", top_db));
  if (image_size < 8) throw ConfigError(fmt::format("image_size must be >= 8, got {}", image_size));
}

std::string MelImageOptions::ToString() const {
  return fmt::format(
      "MelImageOptions(n_fft={}, win_length={}, hop_length={}, window=hann(periodic), center=True, pad_mode=reflect, "
      "power=2.0, {}, amin={}, top_db={}, image_size={}, pad_value={})",
      n_fft, win_length, hop_length, mel.ToString(), amin, top_db, image_size, pad_value);
}

// Per-call scratch (compute() is const and reentrant).
class LogMelImageComputer::Workspace {
 public:
  explicit Workspace(const LogMelImageComputer& c)
      : fft(c.options_.n_fft),
        power(c.mel_bank_.num_bins()),
        image(static_cast<std::size_t>(c.mel_bank_.num_mels()) * c.frames_per_segment_),
        rows_resized(static_cast<std::size_t>(c.mel_bank_.num_mels()) * c.resized_width_),
        transposed(rows_resized.size()) {}
  RealFft::Workspace fft;
  std::vector<float> power;
  std::vector<float> image;         // frames x n_mels, [-1, 1]
  std::vector<float> rows_resized;  // resized_width x n_mels
  std::vector<float> transposed;    // n_mels x resized_width
};

LogMelImageComputer::LogMelImageComputer(const MelImageOptions& options, const SegmentOptions& segments)
    : options_(options),
      segments_(segments),
      fft_(options.n_fft),
      mel_bank_(options.mel),
      window_(periodic_hann(options.win_length)) {
  options_.Validate();
  segments_.Validate();
  const int half = options_.n_fft / 2;
  // center=True pads n_fft/2 on both sides: 1 + (window + 2*half - n_fft) / hop frames.
  frames_per_segment_ = 1 + segments_.window_samples / options_.hop_length;
  // Frame j covers [j*hop - half, j*hop + half) of the segment; interior when inside it.
  first_interior_frame_ = (half + options_.hop_length - 1) / options_.hop_length;
  last_interior_frame_ = (segments_.window_samples - half) / options_.hop_length;
  frame_shift_per_segment_ =
      segments_.hop_samples % options_.hop_length == 0 ? segments_.hop_samples / options_.hop_length : 0;

  // Letterbox geometry as the reference: scale = min(S/H, S/W), size = round(dim * scale)
  // (Python's round: half to even), padding split pad // 2 before, the rest after.
  const int h = mel_bank_.num_mels(), w = frames_per_segment_, s = options_.image_size;
  const double scale = std::min(static_cast<double>(s) / h, static_cast<double>(s) / w);
  resized_height_ = static_cast<int>(std::nearbyint(h * scale));
  resized_width_ = static_cast<int>(std::nearbyint(w * scale));
  pad_top_ = (s - resized_height_) / 2;
  pad_left_ = (s - resized_width_) / 2;

  auto weights = [](int in, int out, std::vector<int>& i0, std::vector<int>& i1, std::vector<float>& l0,
                    std::vector<float>& l1) {
    i0.resize(out), i1.resize(out), l0.resize(out), l1.resize(out);
    for (int o = 0; o < out; ++o) {
      if (in == out) {  // ATen copies rows/columns through when a dimension keeps its size
        i0[o] = i1[o] = o, l0[o] = 1.0f, l1[o] = 0.0f;
      } else {
        bilinear_source(o, in, out, i0[o], i1[o], l0[o], l1[o]);
      }
    }
  };
  weights(h, resized_height_, row_index0_, row_index1_, row_lambda0_, row_lambda1_);
  weights(w, resized_width_, col_index0_, col_index1_, col_lambda0_, col_lambda1_);
}

// Windowed frame -> power spectrum -> mel -> dB (10 log10(max(p, amin))).
void LogMelImageComputer::frame_to_db(const float* frame_start, Workspace& ws, float* db_out) const {
  float* in = ws.fft.input();
  for (int i = 0; i < options_.n_fft; ++i) in[i] = frame_start[i] * window_[i];
  fft_.power_spectrum(ws.fft, ws.power.data());
  mel_bank_.apply(ws.power.data(), db_out);
  power_to_db(db_out, db_out, mel_bank_.num_mels(), options_.amin);
}

// A frame whose window reaches past the segment's ends: torch.stft(center=True) reflect-pads
// the segment itself (x[-i] = x[i], x[n-1+i] = x[n-1-i]), not the surrounding audio.
void LogMelImageComputer::edge_frame_to_db(std::span<const float> segment, int frame, Workspace& ws,
                                           float* db_out) const {
  const long long n = static_cast<long long>(segment.size());
  const long long start = static_cast<long long>(frame) * options_.hop_length - options_.n_fft / 2;
  std::vector<float> padded(options_.n_fft);
  for (int i = 0; i < options_.n_fft; ++i) {
    long long at = start + i;
    if (at < 0) at = -at;
    if (at >= n) at = 2 * (n - 1) - at;
    padded[i] = segment[static_cast<std::size_t>(at)];
  }
  frame_to_db(padded.data(), ws, db_out);
}

// dB frames of one segment -> top_db floor -> [-1, 1] -> letterboxed image. `image_out` is
// already filled with the pad value; only the resized region is written.
//
// Everything runs frame-major (a frame's 160 mel values are contiguous, as they come out of
// the filter bank) so the loops vectorise; the bilinear resize is evaluated in the order
// ATen's upsample_bilinear2d evaluates it — along each source row first
// (x[h, c0] * w0 + x[h, c1] * w1), then across the two rows (row0 * l0 + row1 * l1) — so
// each pixel gets the same float operations in the same order.
void LogMelImageComputer::db_frames_to_image(const float* const* db_frames, Workspace& ws, float* image_out) const {
  const int mels = mel_bank_.num_mels(), frames = frames_per_segment_, size = options_.image_size;
  // Segment maximum, with per-lane partial maxima so the loop vectorises (max is exact in
  // any order).
  float lane_max[8];
  std::fill(std::begin(lane_max), std::end(lane_max), -std::numeric_limits<float>::infinity());
  for (int j = 0; j < frames; ++j) {
    const float* __restrict db = db_frames[j];
    int m = 0;
    for (; m + 8 <= mels; m += 8)
      for (int l = 0; l < 8; ++l) lane_max[l] = db[m + l] > lane_max[l] ? db[m + l] : lane_max[l];
    for (; m < mels; ++m) lane_max[0] = db[m] > lane_max[0] ? db[m] : lane_max[0];
  }
  const float max_db = *std::max_element(std::begin(lane_max), std::end(lane_max));
  const float floor_db = max_db - options_.top_db;

  // v = clamp((max(db, floor) + 80) / 80, 0, 1) * 2 - 1, frame-major.
  float* img = ws.image.data();
  for (int j = 0; j < frames; ++j) {
    const float* __restrict db = db_frames[j];
    float* __restrict v = img + static_cast<std::size_t>(j) * mels;
    for (int m = 0; m < mels; ++m) {
      float x = db[m] > floor_db ? db[m] : floor_db;
      x = (x + 80.0f) / 80.0f;
      x = x < 0.0f ? 0.0f : x;
      x = x > 1.0f ? 1.0f : x;
      v[m] = x * 2.0f - 1.0f;
    }
  }
  // Along time (source columns = frames): resized column x from frames c0, c1, all mels at once.
  float* cols = ws.rows_resized.data();  // resized_width x mels
  for (int x = 0; x < resized_width_; ++x) {
    const float* a = img + static_cast<std::size_t>(col_index0_[x]) * mels;
    const float* b = img + static_cast<std::size_t>(col_index1_[x]) * mels;
    const float w0 = col_lambda0_[x], w1 = col_lambda1_[x];
    float* dst = cols + static_cast<std::size_t>(x) * mels;
    for (int m = 0; m < mels; ++m) dst[m] = a[m] * w0 + b[m] * w1;
  }
  // Across mel rows, written transposed into the image (row = mel band, column = time).
  float* transposed = ws.transposed.data();  // mels x resized_width
  constexpr int kBlock = 16;                 // cache-blocked transpose
  for (int x0 = 0; x0 < resized_width_; x0 += kBlock)
    for (int m0 = 0; m0 < mels; m0 += kBlock)
      for (int x = x0; x < std::min(x0 + kBlock, resized_width_); ++x)
        for (int m = m0; m < std::min(m0 + kBlock, mels); ++m)
          transposed[static_cast<std::size_t>(m) * resized_width_ + x] = cols[static_cast<std::size_t>(x) * mels + m];
  for (int y = 0; y < resized_height_; ++y) {
    const float* r0 = transposed + static_cast<std::size_t>(row_index0_[y]) * resized_width_;
    const float* r1 = transposed + static_cast<std::size_t>(row_index1_[y]) * resized_width_;
    const float l0 = row_lambda0_[y], l1 = row_lambda1_[y];
    float* dst = image_out + static_cast<std::size_t>(y + pad_top_) * size + pad_left_;
    for (int x = 0; x < resized_width_; ++x) dst[x] = r0[x] * l0 + r1[x] * l1;
  }
}

std::vector<float> LogMelImageComputer::compute(std::span<const float> wave, const SegmentPlan& plan) const {
  const std::size_t num_segments = plan.starts.size();
  std::vector<float> images(num_segments * image_pixels(), options_.pad_value);
  if (num_segments == 0) return images;
  Workspace ws(*this);
  const int mels = mel_bank_.num_mels(), frames = frames_per_segment_;
  const auto window = static_cast<std::size_t>(segments_.window_samples);

  // Zero-pad the clip to the plan's length (short clips are padded to one full window).
  std::vector<float> padded;
  std::span<const float> x = wave;
  if (wave.size() < plan.padded_length) {
    padded.assign(plan.padded_length, 0.0f);
    std::copy(wave.begin(), wave.end(), padded.begin());
    x = padded;
  }

  // Interior frames shared between segments, indexed by global frame g (frame j of segment k
  // is g = k * shift + j when segment starts are multiples of the shift).
  const bool share = frame_shift_per_segment_ > 0;
  std::vector<float> shared_db;
  std::size_t first_global = 0;
  if (share) {
    const std::size_t shift = frame_shift_per_segment_;
    first_global = plan.starts.front() / segments_.hop_samples * shift + first_interior_frame_;
    const std::size_t last_global = plan.starts.back() / segments_.hop_samples * shift + last_interior_frame_;
    shared_db.resize((last_global - first_global + 1) * mels);
    for (std::size_t g = first_global; g <= last_global; ++g) {
      const std::size_t sample = g * options_.hop_length - options_.n_fft / 2;
      frame_to_db(x.data() + sample, ws, shared_db.data() + (g - first_global) * mels);
    }
  }

  std::vector<float> edge_db(static_cast<std::size_t>(frames) * mels);
  std::vector<const float*> frame_ptrs(frames);
  for (std::size_t k = 0; k < num_segments; ++k) {
    const std::span<const float> segment = x.subspan(plan.starts[k], window);
    const std::size_t base_global = plan.starts[k] / segments_.hop_samples * frame_shift_per_segment_;
    for (int j = 0; j < frames; ++j) {
      const bool interior = j >= first_interior_frame_ && j <= last_interior_frame_;
      if (share && interior) {
        frame_ptrs[j] = shared_db.data() + (base_global + j - first_global) * mels;
      } else {
        float* db = edge_db.data() + static_cast<std::size_t>(j) * mels;
        if (interior)
          frame_to_db(segment.data() + j * options_.hop_length - options_.n_fft / 2, ws, db);
        else
          edge_frame_to_db(segment, j, ws, db);
        frame_ptrs[j] = db;
      }
    }
    db_frames_to_image(frame_ptrs.data(), ws, images.data() + k * image_pixels());
  }
  return images;
}

std::vector<float> LogMelImageComputer::segment_image(std::span<const float> segment) const {
  if (segment.size() != static_cast<std::size_t>(segments_.window_samples))
    throw ConfigError(fmt::format("segment must hold {} samples, got {}", segments_.window_samples, segment.size()));
  Workspace ws(*this);
  const int mels = mel_bank_.num_mels(), frames = frames_per_segment_;
  std::vector<float> db(static_cast<std::size_t>(frames) * mels);
  for (int j = 0; j < frames; ++j) edge_frame_to_db(segment, j, ws, db.data() + static_cast<std::size_t>(j) * mels);
  float max_db = *std::max_element(db.begin(), db.end());
  std::vector<float> out(db.size());
  for (int j = 0; j < frames; ++j)
    for (int m = 0; m < mels; ++m) {
      const float v = std::clamp((std::max(db[j * mels + m], max_db - options_.top_db) + 80.0f) / 80.0f, 0.0f, 1.0f);
      out[static_cast<std::size_t>(m) * frames + j] = v * 2.0f - 1.0f;
    }
  return out;
}

}  // namespace coughkit::features
