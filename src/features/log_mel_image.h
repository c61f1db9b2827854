#pragma once
// The model's input image for one 2-s segment (docs/pipeline.md section 4, the reference's
// `waveform_to_mel_3ch`), for every segment of a clip at once:
//   power spectrogram  torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, hop=160,
//                      n_mels=160, f_min=50, f_max=4000, power=2, center=True, reflect pad)
//   dB                 AmplitudeToDB("power", top_db=80), top_db over the segment's image
//   [-1, 1]            clamp((db + 80) / 80, 0, 1) * 2 - 1
//   letterbox          bilinear (align_corners=False) 160x201 -> 178x224, padded with -1
//                      to 224x224 (23 rows above, 23 below)
//
// Adjacent segments overlap by 75 %, and with hop 8000 = 50 x 160 samples, frame j of
// segment k+1 is frame j+50 of segment k whenever the frame's window lies inside both
// segments. Those interior frames (j = 4..196) are computed once per clip; only the frames
// whose window reaches into a segment's own reflect padding are computed per segment, as
// parity requires. Identical inputs go through identical code, so sharing changes no bit.
//
// Thread safety: a computer is immutable after construction; compute() is reentrant.
#include <span>
#include <string>
#include <vector>

#include "features/mel_filter_bank.h"
#include "features/real_fft.h"
#include "features/segmenter.h"

namespace coughkit::features {

struct MelImageOptions {
  // STFT, pinned to the values the training pipeline used (torchaudio defaults differ:
  // win_length defaults to n_fft and hop to n_fft / 2 — set explicitly here).
  int n_fft = 1024;
  int win_length = 1024;  // periodic Hann window of this length
  int hop_length = 160;   // 10 ms
  MelBanksOptions mel{};  // 16 kHz, 160 HTK mels, 50-4000 Hz, no normalisation
  // AmplitudeToDB(stype="power", top_db=80): 10 * log10(max(p, amin)), floor at max - top_db.
  float amin = 1e-10f;
  float top_db = 80.0f;
  // Letterbox target and its padding value (the image's minimum, -1).
  int image_size = 224;
  float pad_value = -1.0f;

  void Validate() const;
  std::string ToString() const;
};

class LogMelImageComputer {
 public:
  explicit LogMelImageComputer(const MelImageOptions& options = {}, const SegmentOptions& segments = {});

  const MelImageOptions& options() const { return options_; }
  int image_size() const { return options_.image_size; }
  std::size_t image_pixels() const { return static_cast<std::size_t>(image_size()) * image_size(); }
  int frames_per_segment() const { return frames_per_segment_; }

  // Images for the segments of `plan` (from plan_segments(wave.size())): S x 224 x 224
  // float32 in [-1, 1], row = mel band (low frequencies first), column = time.
  std::vector<float> compute(std::span<const float> wave, const SegmentPlan& plan) const;

  // One segment's un-letterboxed image, n_mels x frames, in [-1, 1] (for tests).
  std::vector<float> segment_image(std::span<const float> segment) const;

 private:
  class Workspace;

  void frame_to_db(const float* frame_start, Workspace& ws, float* db_out) const;
  void edge_frame_to_db(std::span<const float> segment, int frame, Workspace& ws, float* db_out) const;
  void db_frames_to_image(const float* const* db_frames, Workspace& ws, float* image_out) const;

  MelImageOptions options_;
  SegmentOptions segments_;
  RealFft fft_;
  MelFilterBank mel_bank_;
  std::vector<float> window_;
  int frames_per_segment_ = 0;
  int first_interior_frame_ = 0, last_interior_frame_ = 0;
  int frame_shift_per_segment_ = 0;  // hop_samples / hop_length when it divides, else 0
  int resized_height_ = 0, resized_width_ = 0, pad_top_ = 0, pad_left_ = 0;
  std::vector<int> row_index0_, row_index1_, col_index0_, col_index1_;
  std::vector<float> row_lambda0_, row_lambda1_, col_lambda0_, col_lambda1_;
};

}  // namespace coughkit::features
