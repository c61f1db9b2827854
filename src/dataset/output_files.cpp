#include "dataset/output_files.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/error.h"
#include "io/atomic_file.h"

namespace coughkit::dataset {
namespace {

void put_u16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}
void put_u32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

std::string wav_header_s16(int channels, int sample_rate, std::uint64_t frames) {
  if (channels < 1 || channels > 8) throw ConfigError(fmt::format("WAV: 1 to 8 channels, got {}", channels));
  if (sample_rate < 1) throw ConfigError(fmt::format("WAV: bad sample rate {}", sample_rate));
  const auto nch = static_cast<std::uint32_t>(channels);
  const std::uint64_t data_bytes = frames * nch * 2;
  if (data_bytes > kMaxWavDataBytes) throw ConfigError("WAV: too long for a WAV file (4 GiB of samples at most)");
  std::string s;
  s += "RIFF";
  put_u32(s, static_cast<std::uint32_t>(36 + data_bytes));
  s += "WAVEfmt ";
  put_u32(s, 16);
  put_u16(s, 1);  // PCM
  put_u16(s, static_cast<std::uint16_t>(nch));
  put_u32(s, static_cast<std::uint32_t>(sample_rate));
  put_u32(s, static_cast<std::uint32_t>(sample_rate) * nch * 2);
  put_u16(s, static_cast<std::uint16_t>(nch * 2));
  put_u16(s, 16);
  s += "data";
  put_u32(s, static_cast<std::uint32_t>(data_bytes));
  return s;
}

std::int16_t to_s16(float x) {
  long v = std::isnan(x) ? 0 : std::lrint(static_cast<double>(x) * 32767.0);
  return static_cast<std::int16_t>(std::clamp(v, -32768L, 32767L));
}

std::string encode_wav_s16(const std::vector<std::vector<float>>& channels, int sample_rate) {
  if (channels.empty() || channels.size() > 8)
    throw ConfigError(fmt::format("encode_wav_s16: 1 to 8 channels, got {}", channels.size()));
  const std::size_t frames = channels.front().size();
  for (const auto& c : channels)
    if (c.size() != frames) throw ConfigError("encode_wav_s16: channels have different lengths");
  std::string s = wav_header_s16(static_cast<int>(channels.size()), sample_rate, frames);
  s.reserve(44 + frames * channels.size() * 2);
  for (std::size_t i = 0; i < frames; ++i)
    for (const auto& c : channels) put_u16(s, static_cast<std::uint16_t>(to_s16(c[i])));
  return s;
}

WavStreamWriter::WavStreamWriter(const std::filesystem::path& path, int sample_rate, std::uint64_t frames)
    : path_(path),
      tmp_(path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid())),
      frames_(frames) {
  const std::string header = wav_header_s16(1, sample_rate, frames);
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  if (!out_) throw InputError(fmt::format("{}: cannot create the file", tmp_.string()));
  put(header);
}

WavStreamWriter::~WavStreamWriter() {
  if (finished_) return;
  out_.close();
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);
}

void WavStreamWriter::put(std::string_view bytes) {
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_) throw InputError(fmt::format("{}: write failed (disk full?)", tmp_.string()));
  sha_.update(bytes);
}

void WavStreamWriter::write(std::span<const float> samples) {
  if (written_ + samples.size() > frames_)
    throw ConfigError(
        fmt::format("WavStreamWriter: {} frames declared, {} written", frames_, written_ + samples.size()));
  std::string bytes;
  bytes.reserve(samples.size() * 2);
  for (float x : samples) put_u16(bytes, static_cast<std::uint16_t>(to_s16(x)));
  put(bytes);
  written_ += samples.size();
}

std::string WavStreamWriter::finish() {
  if (written_ != frames_)
    throw ConfigError(fmt::format("WavStreamWriter: {} frames declared, {} written", frames_, written_));
  out_.close();
  if (!out_) throw InputError(fmt::format("{}: write failed", tmp_.string()));
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) throw InputError(fmt::format("{}: cannot rename into place: {}", path_.string(), ec.message()));
  finished_ = true;
  return sha_.hex_digest();
}

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_row(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\n";
}

std::string labels_csv(const std::vector<LabelRow>& rows) {
  std::string out = "file_path,cough_label,segment_labels\n";
  for (const auto& r : rows) out += csv_row({r.file_path, r.cough_label ? "1" : "0", r.segment_labels});
  return out;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  try {
    io::write_file_atomically(path, bytes);
  } catch (const std::runtime_error& e) {
    throw InputError(e.what());
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open the file", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: cannot read the file", path.string()));
  return ss.str();
}

}  // namespace coughkit::dataset
