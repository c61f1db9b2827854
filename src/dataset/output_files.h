#pragma once
// The files the dataset builder writes: 16-bit PCM WAV, CSV, and atomic writes (temp file +
// rename, so an interrupted run never leaves a truncated file under its final name).
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace coughkit::dataset {

// A canonical 44-byte-header RIFF/WAVE file, PCM 16-bit little-endian, channels interleaved.
// Samples are scaled by 32767, rounded to nearest and saturated to [-32768, 32767].
// All channels must have the same length; 1 <= channels <= 8.
std::string encode_wav_s16(const std::vector<std::vector<float>>& channels, int sample_rate);

// One CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF.
std::string csv_field(std::string_view value);
// Fields joined by commas, terminated by "\n".
std::string csv_row(const std::vector<std::string>& fields);

// A training list: header "file_path,cough_label", then "path,1" / "path,0" per row.
struct LabelRow {
  std::string file_path;  // relative to the dataset directory
  int cough_label = 0;
};
std::string labels_csv(const std::vector<LabelRow>& rows);

// io::write_file_atomically, with failures as InputError (the dataset directory is the
// user's to fix).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// The whole file; throws InputError when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace coughkit::dataset
