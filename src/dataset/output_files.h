#pragma once
// The files the dataset builder writes: 16-bit PCM WAV, CSV, and atomic writes (temp file +
// rename, so an interrupted run never leaves a truncated file under its final name).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/sha256.h"

namespace coughkit::dataset {

// A canonical 44-byte-header RIFF/WAVE file, PCM 16-bit little-endian, channels interleaved.
// Samples are scaled by 32767, rounded to nearest and saturated to [-32768, 32767].
// All channels must have the same length; 1 <= channels <= 8.
std::string encode_wav_s16(const std::vector<std::vector<float>>& channels, int sample_rate);

// The canonical 44-byte header of such a file holding `frames` frames; throws ConfigError for
// bad arguments or more than kMaxWavDataBytes of samples (the format's 32-bit sizes).
inline constexpr std::uint64_t kMaxWavDataBytes = 0xffffffffULL - 36;
std::string wav_header_s16(int channels, int sample_rate, std::uint64_t frames);
// One sample as encode_wav_s16 stores it (NaN as 0).
std::int16_t to_s16(float x);

// A mono 16-bit WAV written piece by piece, so hours of audio never have to be in memory at
// once: the header (the length is declared up front) goes out first, then each write()'s
// samples, into a temp file beside `path` that finish() renames into place (an interrupted
// run leaves no truncated file under the final name; the destructor removes the temp).
class WavStreamWriter {
 public:
  WavStreamWriter(const std::filesystem::path& path, int sample_rate, std::uint64_t frames);
  ~WavStreamWriter();
  WavStreamWriter(const WavStreamWriter&) = delete;
  WavStreamWriter& operator=(const WavStreamWriter&) = delete;
  void write(std::span<const float> samples);  // ConfigError past the declared length
  // ConfigError unless exactly the declared frames were written; returns the SHA-256 (hex)
  // of the file's bytes.
  std::string finish();

 private:
  void put(std::string_view bytes);
  std::filesystem::path path_, tmp_;
  std::ofstream out_;
  checkpoint::Sha256 sha_;
  std::uint64_t frames_ = 0, written_ = 0;
  bool finished_ = false;
};

// One CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF.
std::string csv_field(std::string_view value);
// Fields joined by commas, terminated by "\n".
std::string csv_row(const std::vector<std::string>& fields);

// A training list: header "file_path,cough_label,segment_labels", then "path,1,0110" /
// "path,0,0000" per row (segment_labels.h).
struct LabelRow {
  std::string file_path;  // relative to the dataset directory
  int cough_label = 0;
  std::string segment_labels;  // one '0'/'1' per segment
};
std::string labels_csv(const std::vector<LabelRow>& rows);

// io::write_file_atomically, with failures as InputError (the dataset directory is the
// user's to fix).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// The whole file; throws InputError when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace coughkit::dataset
