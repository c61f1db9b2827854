// Tests for audio/decoder: exact PCM scaling from hand-written WAV files, codecs encoded
// at test time with the ffmpeg command-line tool, and every bad input the contract lists.
#include "audio/decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <numbers>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "support/test_data.h"

namespace coughkit::audio {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Bytes = std::vector<std::uint8_t>;

// --- helpers ---------------------------------------------------------------------------

void put_le(Bytes& b, std::uint64_t v, int nbytes) {
  for (int i = 0; i < nbytes; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_tag(Bytes& b, const char* tag) { b.insert(b.end(), tag, tag + 4); }

struct WavFormat {
  std::uint16_t tag;  // 1 = integer PCM, 3 = IEEE float
  int channels;
  int rate;
  int bits;
  bool extensible = false;  // WAVE_FORMAT_EXTENSIBLE with `tag` as the SubFormat GUID
};

// A RIFF/WAVE file around `data`. `data_size` overrides the data chunk's declared size.
Bytes wav_file(const WavFormat& f, const Bytes& data, std::optional<std::uint32_t> data_size = {}) {
  Bytes b;
  const int block = f.channels * f.bits / 8;
  const std::uint32_t fmt_size = f.extensible ? 40 : 16;
  put_tag(b, "RIFF");
  put_le(b, 4 + 8 + fmt_size + 8 + data.size(), 4);
  put_tag(b, "WAVE");
  put_tag(b, "fmt ");
  put_le(b, fmt_size, 4);
  put_le(b, f.extensible ? 0xFFFE : f.tag, 2);
  put_le(b, static_cast<std::uint64_t>(f.channels), 2);
  put_le(b, static_cast<std::uint64_t>(f.rate), 4);
  put_le(b, static_cast<std::uint64_t>(f.rate) * block, 4);
  put_le(b, static_cast<std::uint64_t>(block), 2);
  put_le(b, static_cast<std::uint64_t>(f.bits), 2);
  if (f.extensible) {
    put_le(b, 22, 2);                                                    // cbSize
    put_le(b, static_cast<std::uint64_t>(f.bits), 2);                    // valid bits per sample
    put_le(b, f.channels == 6 ? 0x3F : f.channels == 2 ? 0x3 : 0x4, 4);  // speaker mask
    put_le(b, f.tag, 2);                                                 // SubFormat GUID ...
    const std::uint8_t guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                        0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
    b.insert(b.end(), guid_tail, guid_tail + 14);
  }
  put_tag(b, "data");
  put_le(b, data_size.value_or(static_cast<std::uint32_t>(data.size())), 4);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  ASSERT_TRUE(out.good()) << p;
}
Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Deterministic pseudo-random 64-bit values (no <random>: its distributions vary by library).
struct Lcg {
  std::uint64_t s;
  std::uint64_t next() { return s = s * 6364136223846793005ULL + 1442695040888963407ULL; }
};

void expect_same_audio(const DecodedAudio& a, const DecodedAudio& b) {
  EXPECT_EQ(a.sample_rate, b.sample_rate);
  EXPECT_EQ(a.channels, b.channels);
  EXPECT_EQ(a.codec, b.codec);
  EXPECT_TRUE(a.planes == b.planes) << "sample data differs";
}

// Asserts that decoding throws InputError whose message names `name` and contains `reason`.
template <typename F>
void expect_input_error(F&& decode, const std::string& name, const std::string& reason) {
  try {
    decode();
    ADD_FAILURE() << "expected InputError for " << name;
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr(name));
    EXPECT_THAT(e.what(), HasSubstr(reason));
  }
}

// --- exact PCM from hand-written WAV ---------------------------------------------------

struct PcmCase {
  const char* label;
  WavFormat format;
  const char* codec;
};

class PcmWavTest : public ::testing::TestWithParam<PcmCase> {};

TEST_P(PcmWavTest, DecodesExactValues) {
  const PcmCase& c = GetParam();
  const WavFormat& f = c.format;
  const int frames = 1500;
  const std::size_t n = static_cast<std::size_t>(frames) * f.channels;
  Bytes data;
  std::vector<float> expected(n);  // interleaved
  Lcg rng{static_cast<std::uint64_t>(f.bits * 1000 + f.channels)};
  const bool is_float = f.tag == 3;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t r = rng.next();
    if (is_float) {
      // Edge values first, then values spread over [-2, 2) including tiny ones.
      const double edges[] = {0.0, -0.0, 1.0, -1.0, 0.1, -1.0 / 3.0, 1e-30, 1.5, 3.4e38};
      double v = i < std::size(edges) ? edges[i]
                                      : (static_cast<double>(r >> 11) / 0x1p53 * 4.0 - 2.0) *
                                            std::pow(10.0, -static_cast<double>(r % 7));
      if (f.bits == 32) {
        const float fv = static_cast<float>(v);
        put_le(data, std::bit_cast<std::uint32_t>(fv), 4);
        expected[i] = fv;
      } else {
        put_le(data, std::bit_cast<std::uint64_t>(v), 8);
        expected[i] = static_cast<float>(v);
      }
    } else {
      // Full-scale extremes first, then uniform values over the whole integer range.
      const std::int64_t lo = f.bits == 8 ? 0 : -(std::int64_t{1} << (f.bits - 1));
      const std::int64_t hi = f.bits == 8 ? 255 : (std::int64_t{1} << (f.bits - 1)) - 1;
      const std::int64_t edges[] = {lo, hi, f.bits == 8 ? 128 : 0, lo + 1, hi - 1, 1, -1};
      std::int64_t v = lo + static_cast<std::int64_t>(r % static_cast<std::uint64_t>(hi - lo + 1));
      if (i < std::size(edges)) v = std::clamp(edges[i], lo, hi);
      put_le(data, static_cast<std::uint64_t>(v), f.bits / 8);
      // Reference: the exact quotient (double holds it exactly), rounded once to float.
      expected[i] = f.bits == 8 ? static_cast<float>((v - 128) / 128.0)
                                : static_cast<float>(std::ldexp(static_cast<double>(v), 1 - f.bits));
    }
  }
  const Bytes wav = wav_file(f, data);
  const fs::path path = coughkit::testing::scratch_dir() / (std::string(c.label) + ".wav");
  write_file(path, wav);

  const DecodedAudio a = decode_file(path.string());
  EXPECT_EQ(a.sample_rate, f.rate);
  ASSERT_EQ(a.channels, f.channels);
  ASSERT_EQ(a.planes.size(), static_cast<std::size_t>(f.channels));
  ASSERT_EQ(a.frames(), static_cast<std::size_t>(frames));
  EXPECT_EQ(a.codec, c.codec);
  EXPECT_DOUBLE_EQ(a.duration_seconds(), static_cast<double>(frames) / f.rate);
  int mismatches = 0;
  for (std::size_t i = 0; i < n && mismatches < 5; ++i) {
    const float got = a.planes[i % f.channels][i / f.channels];
    if (std::bit_cast<std::uint32_t>(got) != std::bit_cast<std::uint32_t>(expected[i])) {
      ADD_FAILURE() << "sample " << i << ": got " << got << ", expected " << expected[i];
      ++mismatches;
    }
  }
  expect_same_audio(decode_memory(wav, "mem.wav"), a);
}

INSTANTIATE_TEST_SUITE_P(Formats, PcmWavTest,
                         ::testing::Values(PcmCase{"u8_mono_8000", {1, 1, 8000, 8}, "pcm_u8"},
                                           PcmCase{"u8_stereo_11025", {1, 2, 11025, 8}, "pcm_u8"},
                                           PcmCase{"s16_mono_8000", {1, 1, 8000, 16}, "pcm_s16le"},
                                           PcmCase{"s16_stereo_44100", {1, 2, 44100, 16}, "pcm_s16le"},
                                           PcmCase{"s16_6ch_96000_ext", {1, 6, 96000, 16, true}, "pcm_s16le"},
                                           PcmCase{"s24_mono_44100", {1, 1, 44100, 24}, "pcm_s24le"},
                                           PcmCase{"s24_stereo_96000_ext", {1, 2, 96000, 24, true}, "pcm_s24le"},
                                           PcmCase{"s24_6ch_11025_ext", {1, 6, 11025, 24, true}, "pcm_s24le"},
                                           PcmCase{"s32_mono_96000", {1, 1, 96000, 32}, "pcm_s32le"},
                                           PcmCase{"s32_stereo_11025_ext", {1, 2, 11025, 32, true}, "pcm_s32le"},
                                           PcmCase{"f32_mono_44100", {3, 1, 44100, 32}, "pcm_f32le"},
                                           PcmCase{"f32_6ch_96000_ext", {3, 6, 96000, 32, true}, "pcm_f32le"},
                                           PcmCase{"f64_stereo_8000", {3, 2, 8000, 64}, "pcm_f64le"},
                                           PcmCase{"f64_mono_11025", {3, 1, 11025, 64}, "pcm_f64le"}),
                         [](const auto& info) { return std::string(info.param.label); });

// --- codecs encoded with the ffmpeg CLI ------------------------------------------------

constexpr int kRate = 48000;  // every tested codec (Opus included) can keep it
constexpr double kLeftAmp = 0.5, kRightAmp = 0.25, kFreq = 440.0;

// 1 s of stereo s16: a 440 Hz sine at 0.5 on the left and 0.25 on the right, so a
// swapped or dropped channel shows up in the RMS check.
Bytes sine_wav() {
  Bytes data;
  for (int i = 0; i < kRate; ++i) {
    const double s = std::sin(2.0 * std::numbers::pi * kFreq * i / kRate);
    put_le(data, static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(kLeftAmp * s * 32767))), 2);
    put_le(data, static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(kRightAmp * s * 32767))), 2);
  }
  return wav_file({1, 2, kRate, 16}, data);
}

void run_ffmpeg(const std::string& args) {
  ASSERT_EQ(std::system("ffmpeg -version > /dev/null 2>&1"), 0)
      << "the ffmpeg command-line tool is required by this test";
  const std::string cmd = "ffmpeg -nostdin -loglevel error -y " + args;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

struct CodecCase {
  const char* label;
  const char* file;    // output file name; its extension picks the container
  const char* ffmpeg;  // encoder options
  const char* codec;   // expected DecodedAudio::codec
  bool pipe = false;   // write to a pipe, as MediaRecorder does: no duration, no cues
};

// The sine encoded as `c` describes. ffmpeg's start-up dominates the test's run time, so
// each format is encoded once per process, into `dir` (the scratch directory of the test
// that first asks); ctest runs each test in its own process, so nothing is shared there.
fs::path encoded(const CodecCase& c, const fs::path& dir) {
  static std::mutex mutex;
  static std::map<std::string, fs::path> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(c.label); it != cache.end() && fs::exists(it->second)) return it->second;
  const fs::path src = dir / "source.wav";
  write_file(src, sine_wav());
  const fs::path out = dir / c.file;
  const std::string in = "-i '" + src.string() + "' " + c.ffmpeg;
  if (c.pipe)
    run_ffmpeg(in + " -f webm - > '" + out.string() + "'");
  else
    run_ffmpeg(in + " '" + out.string() + "'");
  if (!::testing::Test::HasFatalFailure()) cache[c.label] = out;
  return out;
}

double rms(const std::vector<float>& x, std::size_t from, std::size_t to) {
  double sum = 0;
  for (std::size_t i = from; i < to; ++i) sum += static_cast<double>(x[i]) * x[i];
  return std::sqrt(sum / static_cast<double>(to - from));
}

double zero_crossing_hz(const std::vector<float>& x, std::size_t from, std::size_t to, int rate) {
  int crossings = 0;
  for (std::size_t i = from + 1; i < to; ++i) crossings += (x[i - 1] < 0) != (x[i] < 0);
  return crossings / 2.0 / (static_cast<double>(to - from) / rate);
}

class CodecTest : public ::testing::TestWithParam<CodecCase> {};

TEST_P(CodecTest, DecodesKnownSignal) {
  const CodecCase& c = GetParam();
  const fs::path dir = coughkit::testing::scratch_dir();
  const fs::path path = encoded(c, dir);
  if (::testing::Test::HasFatalFailure()) return;

  const DecodedAudio a = decode_file(path.string());
  EXPECT_EQ(a.codec, c.codec);
  EXPECT_EQ(a.sample_rate, kRate);
  ASSERT_EQ(a.channels, 2);
  EXPECT_NEAR(a.duration_seconds(), 1.0, 0.03);
  ASSERT_GT(a.frames(), static_cast<std::size_t>(kRate * 0.9));
  // Judge the middle of the signal, away from codec start-up and padding.
  const std::size_t from = kRate / 5, to = kRate * 4 / 5;
  EXPECT_NEAR(rms(a.planes[0], from, to), kLeftAmp / std::sqrt(2.0), 0.1 * kLeftAmp / std::sqrt(2.0));
  EXPECT_NEAR(rms(a.planes[1], from, to), kRightAmp / std::sqrt(2.0), 0.1 * kRightAmp / std::sqrt(2.0));
  EXPECT_NEAR(zero_crossing_hz(a.planes[0], from, to, kRate), kFreq, 5.0);
  EXPECT_NEAR(zero_crossing_hz(a.planes[1], from, to, kRate), kFreq, 5.0);

  expect_same_audio(decode_memory(read_file(path), c.file), a);
}

// FFmpeg's Ogg muxer fills one page per second by default, and a cut page is lost whole:
// 0.1 s pages make the truncation test meaningful for a 1 s signal.
INSTANTIATE_TEST_SUITE_P(
    Formats, CodecTest,
    ::testing::Values(CodecCase{"flac", "a.flac", "-c:a flac", "flac"},
                      CodecCase{"mp3", "a.mp3", "-c:a libmp3lame -b:a 128k", "mp3"},
                      CodecCase{"vorbis", "a.ogg", "-c:a libvorbis -q:a 4 -page_duration 100000", "vorbis"},
                      CodecCase{"opus", "a.opus", "-c:a libopus -b:a 96k -page_duration 100000", "opus"},
                      CodecCase{"webm_opus", "a.webm", "-c:a libopus -b:a 96k", "opus", true},
                      CodecCase{"m4a_aac", "a.m4a", "-c:a aac -b:a 128k", "aac"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(DecoderTest, FlacIsBitExactToItsSource) {
  const fs::path dir = coughkit::testing::scratch_dir();
  const fs::path flac = encoded({"flac", "a.flac", "-c:a flac", "flac"}, dir);
  if (HasFatalFailure()) return;
  const DecodedAudio src = decode_memory(sine_wav(), "source.wav");
  const DecodedAudio dec = decode_file(flac.string());
  ASSERT_EQ(dec.frames(), static_cast<std::size_t>(kRate));
  EXPECT_TRUE(dec.planes == src.planes);
}

// Truncation: whatever the format, the result is partial audio or InputError, never a
// crash. Where the outcome follows from the format it is pinned down.
TEST_P(CodecTest, TruncatedFileGivesPartialAudioOrInputError) {
  const CodecCase& c = GetParam();
  const fs::path dir = coughkit::testing::scratch_dir();
  const Bytes full = read_file(encoded(c, dir));
  if (HasFatalFailure()) return;
  for (const double keep : {0.75, 0.1}) {
    for (const bool in_memory : {false, true}) {
      const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(full.size() * keep));
      const fs::path path = dir / ("cut_" + std::to_string(keep) + "_" + c.file);
      write_file(path, cut);
      SCOPED_TRACE(path.filename().string() + (in_memory ? " (memory)" : " (file)"));
      try {
        const DecodedAudio a = in_memory ? decode_memory(cut, path.filename().string()) : decode_file(path.string());
        EXPECT_EQ(a.channels, 2);
        EXPECT_EQ(a.sample_rate, kRate);
        EXPECT_GT(a.frames(), 0u);
        EXPECT_LT(a.duration_seconds(), keep + 0.2);
        for (const auto& plane : a.planes)
          for (const float v : plane) ASSERT_TRUE(std::isfinite(v));
        // Without its trailing moov atom an MP4 cannot be read at all.
        EXPECT_NE(std::string(c.label), "m4a_aac") << "expected an error";
      } catch (const InputError& e) {
        EXPECT_THAT(e.what(), HasSubstr(path.filename().string()));
        // These formats are streamable and 3/4 of the file is past their headers (Vorbis
        // headers fill half of this tiny file), so complete packets precede the cut.
        const std::string label = c.label;
        if (keep == 0.75 && label != "m4a_aac") ADD_FAILURE() << "no partial audio: " << e.what();
      }
    }
  }
}

// Junk written over the middle of the file: decoders skip or conceal the damaged packets,
// or the demuxer gives up there. Either partial audio or InputError, never a crash.
TEST_P(CodecTest, CorruptedMiddleGivesAudioOrInputError) {
  const CodecCase& c = GetParam();
  const Bytes full = read_file(encoded(c, coughkit::testing::scratch_dir()));
  if (HasFatalFailure()) return;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    Bytes bad = full;
    Lcg rng{seed};
    for (std::size_t i = bad.size() / 2; i < bad.size() / 2 + 300; ++i)
      bad[i] = static_cast<std::uint8_t>(rng.next() >> 56);
    const std::string name = "corrupt" + std::to_string(seed) + "_" + c.file;
    try {
      const DecodedAudio a = decode_memory(bad, name);
      EXPECT_EQ(a.channels, 2) << name;
      EXPECT_GT(a.frames(), 0u) << name;
      EXPECT_LT(a.duration_seconds(), 1.1) << name;
      for (const auto& plane : a.planes)
        for (const float v : plane) ASSERT_TRUE(std::isfinite(v)) << name;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(name));
    }
  }
}

TEST(DecoderTest, TruncatedWavReturnsTheFramesPresent) {
  Bytes data(2000 * 2);  // 2000 s16 mono frames of silence
  Bytes wav = wav_file({1, 1, 16000, 16}, data);
  wav.resize(44 + 1001 * 2 + 1);  // half the frames and one dangling byte
  const DecodedAudio a = decode_memory(wav, "cut.wav");
  EXPECT_EQ(a.frames(), 1001u);
}

// --- bad input -------------------------------------------------------------------------

TEST(DecoderErrors, MissingFile) {
  const std::string p = (coughkit::testing::scratch_dir() / "nope.wav").string();
  expect_input_error([&] { decode_file(p); }, p, "no such file");
}

TEST(DecoderErrors, Directory) {
  const std::string p = coughkit::testing::scratch_dir().string();
  expect_input_error([&] { decode_file(p); }, p, "directory");
  expect_input_error([&] { decode_file("/dev/null"); }, "/dev/null", "not a regular file");
}

TEST(DecoderErrors, EmptyFileAndBuffer) {
  const fs::path p = coughkit::testing::scratch_dir() / "empty.wav";
  write_file(p, {});
  expect_input_error([&] { decode_file(p.string()); }, p.string(), "empty");
  expect_input_error([&] { decode_memory({}, "upload.webm"); }, "upload.webm", "empty");
}

TEST(DecoderErrors, HeaderOnlyWavHasNoSamples) {
  const Bytes wav = wav_file({1, 1, 16000, 16}, {});
  ASSERT_EQ(wav.size(), 44u);
  const fs::path p = coughkit::testing::scratch_dir() / "header_only.wav";
  write_file(p, wav);
  expect_input_error([&] { decode_file(p.string()); }, p.string(), "no audio samples");
  expect_input_error([&] { decode_memory(wav, "h.wav"); }, "h.wav", "no audio samples");
  // A header that promises data the file does not have: still zero frames.
  expect_input_error(
      [&] {
        decode_memory(wav_file({1, 2, 16000, 16}, {}, 48000), "promise.wav");
      },
      "promise.wav", "no audio samples");
}

TEST(DecoderErrors, RandomBytes) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Lcg rng{seed};
    Bytes junk(4096);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng.next() >> 56);
    const std::string name = "junk" + std::to_string(seed) + ".bin";
    // Mostly "not a recognised audio file"; the odd seed probes as some other container.
    expect_input_error([&] { decode_memory(junk, name); }, name, ": ");
  }
}

TEST(DecoderErrors, TextFileNamedWav) {
  const fs::path p = coughkit::testing::scratch_dir() / "notes.wav";
  const std::string text = "This is not audio.\nJust a few lines of text.\n";
  write_file(p, Bytes(text.begin(), text.end()));
  expect_input_error([&] { decode_file(p.string()); }, p.string(), "not a recognised audio file");
}

TEST(DecoderErrors, NanOrInfInFloatWav) {
  const float f32_bad[] = {std::nanf(""), std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity()};
  for (const float bad : f32_bad) {
    Bytes data;
    for (int i = 0; i < 100; ++i) put_le(data, std::bit_cast<std::uint32_t>(i == 57 ? bad : 0.25f), 4);
    expect_input_error(
        [&] {
          decode_memory(wav_file({3, 1, 16000, 32}, data), "nan32.wav");
        },
        "nan32.wav", "contains NaN or Inf samples");
  }
  for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    Bytes data;
    for (int i = 0; i < 100; ++i) put_le(data, std::bit_cast<std::uint64_t>(i == 99 ? bad : 0.25), 8);
    expect_input_error(
        [&] {
          decode_memory(wav_file({3, 1, 16000, 64}, data), "nan64.wav");
        },
        "nan64.wav", "contains NaN or Inf samples");
  }
  Bytes data;  // finite as a double, Inf as a float
  put_le(data, std::bit_cast<std::uint64_t>(1e300), 8);
  expect_input_error([&] { decode_memory(wav_file({3, 1, 16000, 64}, data), "huge.wav"); }, "huge.wav", "float range");
}

TEST(DecoderErrors, ZeroChannels) {
  const Bytes wav = wav_file({1, 0, 16000, 16}, Bytes(200));
  expect_input_error([&] { decode_memory(wav, "nochan.wav"); }, "nochan.wav", "zero channels");
}

TEST(DecoderErrors, AbsurdSampleRates) {
  for (const int rate : {0, 1, 999, 768001, 10'000'000}) {
    const std::string name = "rate" + std::to_string(rate) + ".wav";
    const Bytes wav = wav_file({1, 1, rate, 16}, Bytes(2000));
    try {
      decode_memory(wav, name);
      ADD_FAILURE() << "accepted " << name;
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(name));
      // FFmpeg itself refuses a zero rate before our check can name it.
      if (rate != 0) {
        EXPECT_THAT(e.what(), HasSubstr("sample rate " + std::to_string(rate) + " Hz"));
      }
    }
  }
  // The bounds themselves are accepted.
  for (const int rate : {1000, 768000})
    EXPECT_EQ(decode_memory(wav_file({1, 1, rate, 16}, Bytes(2000)), "ok.wav").sample_rate, rate);
}

TEST(DecoderErrors, NoAudioStream) {
  const fs::path dir = coughkit::testing::scratch_dir();
  const std::string srt = "1\n00:00:00,000 --> 00:00:01,000\nhello\n\n";
  write_file(dir / "subs.srt", Bytes(srt.begin(), srt.end()));
  expect_input_error([&] { decode_file((dir / "subs.srt").string()); }, "subs.srt", "contains no audio stream");
  run_ffmpeg("-f lavfi -i color=size=16x16:duration=0.2 -c:v ffv1 '" + (dir / "video.mkv").string() + "'");
  if (HasFatalFailure()) return;
  expect_input_error([&] { decode_file((dir / "video.mkv").string()); }, "video.mkv", "contains no audio stream");
}

// A playlist must not make the decoder open other files (or URLs) named inside it.
TEST(DecoderErrors, PlaylistCannotOpenOtherFiles) {
  const fs::path dir = coughkit::testing::scratch_dir();
  write_file(dir / "source.wav", sine_wav());
  const std::string m3u8 =
      "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n" + (dir / "source.wav").string() + "\n#EXT-X-ENDLIST\n";
  EXPECT_THROW(decode_memory(Bytes(m3u8.begin(), m3u8.end()), "list.m3u8"), InputError);
}

TEST(DecoderLimits, MaxDuration) {
  const Bytes wav = sine_wav();
  EXPECT_EQ(decode_memory(wav, "ok.wav", {.max_duration_s = 1.0}).frames(), static_cast<std::size_t>(kRate));
  expect_input_error([&] { decode_memory(wav, "long.wav", {.max_duration_s = 0.5}); }, "long.wav",
                     "longer than the limit of 0.5 s");
  EXPECT_THROW(decode_memory(wav, "x.wav", {.max_duration_s = -1}), ConfigError);
}

TEST(DecoderLimits, FourHourGuardAppliesWithoutLimits) {
  const std::size_t frames = 4 * 3600 * 1000 + 1000;  // 4 h + 1 s of u8 at 1000 Hz
  const Bytes wav = wav_file({1, 1, 1000, 8}, Bytes(frames, 128));
  expect_input_error([&] { decode_memory(wav, "long.wav"); }, "long.wav", "too long");
  expect_input_error([&] { decode_memory(wav, "long.wav", {.max_duration_s = 1e9}); }, "long.wav", "too long");
}

TEST(DecoderThreads, ConcurrentDecodesAgree) {
  const Bytes wav = sine_wav();
  const DecodedAudio ref = decode_memory(wav, "ref.wav");
  std::vector<DecodedAudio> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&] { r = decode_memory(wav, "t.wav"); });
  for (auto& t : threads) t.join();
  for (const auto& r : results) expect_same_audio(r, ref);
}

}  // namespace
}  // namespace coughkit::audio
