// Tests for the training feature cache: labelled CSV parsing, float16 entries that equal the
// pipeline's images rounded to nearest even, entry layout, corrupt entries, config checks,
// and precompute() (threads, resumability, stale entries, failures, duplicates).
#include "features/feature_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio/decoder.h"
#include "common/error.h"
#include "common/half.h"
#include "features/labels_csv.h"
#include "io/npy.h"
#include "support/test_data.h"

namespace coughkit::features {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// --- helpers ---------------------------------------------------------------------------

// A 16-bit PCM WAV of `seconds` of a deterministic test signal (a tone plus noise bursts,
// different per `seed`), `channels` interleaved.
void write_wav(const fs::path& path, double seconds, int rate = 16000, int channels = 1, std::uint64_t seed = 1) {
  const auto frames = static_cast<std::size_t>(seconds * rate);
  std::vector<std::int16_t> samples;
  samples.reserve(frames * static_cast<std::size_t>(channels));
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 12345;
  for (std::size_t i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    for (int c = 0; c < channels; ++c) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      const double noise = (static_cast<double>(s >> 11) / 9007199254740992.0 - 0.5);
      const bool burst = std::fmod(t + 0.1 * static_cast<double>(seed), 1.3) < 0.35;
      const double v =
          0.3 * std::sin(2 * M_PI * (220.0 + 40.0 * static_cast<double>(seed)) * t) + (burst ? 0.6 : 0.02) * noise;
      samples.push_back(static_cast<std::int16_t>(std::lround(v * 20000)));
    }
  }
  testing::write_wav_s16(path, samples, rate, channels);
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) found.push_back(e.path().string());
  return found;
}

// Makes the audio file newer than its cache entry, as editing it after the entry was
// written would (the entry is dated back: filesystem clocks are too coarse to rely on a
// write made a few milliseconds later, and dating the audio forward would make the next
// entry older than it too).
void make_newer(const fs::path& audio, const fs::path& entry) {
  fs::last_write_time(entry, fs::last_write_time(audio) - std::chrono::seconds(2));
}

// Captures log messages for the duration of a test.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)), previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const {
    std::string s;
    for (const auto& line : sink_->last_formatted()) s += line;
    return s;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

template <typename F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected InputError";
  return {};
}

// --- labels CSV --------------------------------------------------------------------------

TEST(LabelsCsv, ParsesQuotesCrlfExtraColumnsAndLabelSpellings) {
  const auto dir = testing::scratch_dir();
  const auto csv = dir / "split.csv";
  write_text(csv,
             "\xEF\xBB\xBFid,file_path,notes,cough_label\r\n"
             "1,a.wav,plain,True\r\n"
             "2,\"dir, with comma/b.wav\",\"quoted \"\"note\"\"\", YES \r\n"
             "3,c.wav,\"two\r\nline note\",y\r\n"
             "\r\n"
             "4,d.wav,,1\r\n"
             "5,e.wav,,false\n"
             "6,f.wav,,0\n"
             "7,\"g \"\"q\"\".wav\",,No\n"
             "8,h.wav,,n\n"
             "9,i.wav,,maybe\n"
             "10,j.wav,,\n"
             "11,k.wav,,1.0");  // no final newline
  LogCapture log;
  const auto rows = read_labels_csv(csv.string());
  ASSERT_EQ(rows.size(), 11u);
  const std::vector<std::string> paths = {"a.wav", "dir, with comma/b.wav", "c.wav", "d.wav", "e.wav",
                                          "f.wav", "g \"q\".wav",           "h.wav", "i.wav", "j.wav",
                                          "k.wav"};
  const std::vector<int> labels = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<std::size_t> lines = {2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14};  // line 5 continues row 3, 6 is blank
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].file_path, paths[i]) << i;
    EXPECT_EQ(rows[i].label, labels[i]) << rows[i].file_path;
    EXPECT_EQ(rows[i].line, lines[i]) << rows[i].file_path;
  }
  // Unknown spellings are read as 0 with a warning naming file:line; known ones are silent.
  const std::string warnings = log.text();
  EXPECT_THAT(warnings, HasSubstr(csv.string() + ":12"));
  EXPECT_THAT(warnings, HasSubstr("maybe"));
  EXPECT_THAT(warnings, HasSubstr(csv.string() + ":13"));
  EXPECT_THAT(warnings, HasSubstr(csv.string() + ":14"));
  EXPECT_THAT(warnings, ::testing::Not(HasSubstr(csv.string() + ":8")));
  EXPECT_THAT(warnings, ::testing::Not(HasSubstr(csv.string() + ":2:")));
}

TEST(LabelsCsv, ColumnOrderDoesNotMatter) {
  const auto csv = testing::scratch_dir() / "s.csv";
  write_text(csv, "cough_label,file_path\n1,x/y.wav\nno,z.wav\n");
  const auto rows = read_labels_csv(csv.string());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].file_path, "x/y.wav");
  EXPECT_EQ(rows[0].label, 1);
  EXPECT_EQ(rows[1].label, 0);
}

TEST(LabelsCsv, SegmentLabelsAreOptional) {
  const auto csv = testing::scratch_dir() / "seg.csv";
  write_text(csv, "file_path,segment_labels,cough_label\na.wav,0110,1\nb.wav,,0\nc.wav,0 0,0\n");
  const auto rows = read_labels_csv(csv.string());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].segment_labels, (std::vector<std::uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(rows[0].label, 1);
  EXPECT_TRUE(rows[1].segment_labels.empty());  // an empty field: no labels for that clip
  EXPECT_EQ(rows[2].segment_labels, (std::vector<std::uint8_t>{0, 0}));
  // Without the column no row has labels.
  write_text(csv, "file_path,cough_label\na.wav,1\n");
  EXPECT_TRUE(read_labels_csv(csv.string()).at(0).segment_labels.empty());
  // Anything but 0/1: an error naming the line.
  write_text(csv, "file_path,cough_label,segment_labels\na.wav,1,01\nb.wav,1,0.5\n");
  const auto msg = input_error_of([&] { read_labels_csv(csv.string()); });
  EXPECT_THAT(msg, HasSubstr(csv.string() + ":3"));
  EXPECT_THAT(msg, HasSubstr("segment_labels"));
}

TEST(LabelsCsv, BadFilesAreInputErrorsNamingFileAndLine) {
  const auto dir = testing::scratch_dir();
  EXPECT_THAT(input_error_of([&] { read_labels_csv((dir / "nope.csv").string()); }),
              HasSubstr((dir / "nope.csv").string()));

  write_text(dir / "nolabel.csv", "file_path,label\na.wav,1\n");
  auto msg = input_error_of([&] { read_labels_csv((dir / "nolabel.csv").string()); });
  EXPECT_THAT(msg, HasSubstr((dir / "nolabel.csv").string()));
  EXPECT_THAT(msg, HasSubstr("cough_label"));

  write_text(dir / "nopath.csv", "path,cough_label\na.wav,1\n");
  msg = input_error_of([&] { read_labels_csv((dir / "nopath.csv").string()); });
  EXPECT_THAT(msg, HasSubstr("file_path"));

  write_text(dir / "empty.csv", "");
  EXPECT_THAT(input_error_of([&] { read_labels_csv((dir / "empty.csv").string()); }), HasSubstr("empty.csv"));

  write_text(dir / "emptypath.csv", "file_path,cough_label\na.wav,1\n  ,0\n");
  msg = input_error_of([&] { read_labels_csv((dir / "emptypath.csv").string()); });
  EXPECT_THAT(msg, HasSubstr((dir / "emptypath.csv").string() + ":3"));
  EXPECT_THAT(msg, HasSubstr("empty file_path"));

  write_text(dir / "short.csv", "file_path,cough_label\na.wav,1\n\"\",1\n");
  EXPECT_THAT(input_error_of([&] { read_labels_csv((dir / "short.csv").string()); }), HasSubstr("short.csv:3"));

  write_text(dir / "quote.csv", "file_path,cough_label\na.wav,1\n\"b.wav,1\nc.wav,0\n");
  msg = input_error_of([&] { read_labels_csv((dir / "quote.csv").string()); });
  EXPECT_THAT(msg, HasSubstr("quote.csv:3"));
  EXPECT_THAT(msg, HasSubstr("unterminated"));
}

TEST(LabelsCsv, ResolvesAudioPaths) {
  EXPECT_EQ(resolve_audio_path("data", "a/b.wav"), "data/a/b.wav");
  EXPECT_EQ(resolve_audio_path("data/", "b.wav"), "data/b.wav");
  EXPECT_EQ(resolve_audio_path("data", "/abs/b.wav"), "/abs/b.wav");
  EXPECT_EQ(resolve_audio_path("", "b.wav"), "b.wav");
}

// --- half rounding -----------------------------------------------------------------------

TEST(Half, RoundsToNearestEvenLikeTorch) {
  // Bits from torch.tensor([...]).half().view(torch.int16) (torch 1.13).
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 4096), 0x3c00);  // tie -> even
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 4096), 0x3c01);  // tie -> even (odd below)
  EXPECT_EQ(float_to_half(0.1f), 0x2e66);
  EXPECT_EQ(float_to_half(-0.7f), 0xb99a);
  EXPECT_EQ(float_to_half(1e-6f), 0x0011);  // subnormal
  EXPECT_EQ(float_to_half(3e-8f), 0x0001);
  EXPECT_EQ(float_to_half(-1.0f), 0xbc00);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  for (std::uint32_t h = 0; h < 0x7c00; ++h) ASSERT_EQ(float_to_half(half_to_float(static_cast<std::uint16_t>(h))), h);
}

// --- entries -----------------------------------------------------------------------------

TEST(FeatureCache, EntryPathsMirrorRelativePathsAndHashOthers) {
  const auto dir = testing::scratch_dir() / "cache";
  const FeatureCache cache(dir.string(), {});
  EXPECT_EQ(cache.entry_path("a/b.wav"), (dir / "a" / "b.wav.npy").string());
  EXPECT_EQ(cache.entry_path("./a//b.wav"), (dir / "a" / "b.wav.npy").string());
  EXPECT_EQ(cache.entry_path("a/x/../b.wav"), (dir / "a" / "b.wav.npy").string());
  for (const std::string p : {"../up.wav", "a/../../up.wav", "/abs/clip.wav", "_external/x.wav"}) {
    const fs::path e = cache.entry_path(p);
    EXPECT_EQ(e.parent_path(), dir / "_external") << p;
    EXPECT_EQ(e.extension(), ".npy") << p;
    EXPECT_EQ(e.stem().string().size(), 16u) << p;
  }
  EXPECT_NE(cache.entry_path("/abs/clip.wav"), cache.entry_path("/abs/clip2.wav"));
  EXPECT_EQ(cache.entry_path("/abs//clip.wav"), cache.entry_path("/abs/clip.wav"));
}

TEST(FeatureCache, StoredImagesAreThePipelinesImagesRoundedToHalf) {
  const auto dir = testing::scratch_dir();
  const auto wav = dir / "audio" / "clip.wav";
  write_wav(wav, 3.3, 44100, 2, 7);
  const FeatureCache cache((dir / "cache").string(), {});
  const FeaturePipeline pipeline;
  const ClipFeatures clip = pipeline.run(audio::decode_file(wav.string()));
  ASSERT_EQ(clip.num_segments(), 3u);
  cache.store("clip.wav", clip);

  const auto cached = cache.load("clip.wav");
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(cached->segments, 3u);
  EXPECT_EQ(cached->total_segments, 3u);
  EXPECT_DOUBLE_EQ(cached->duration_s, clip.duration_s);
  ASSERT_EQ(cached->half.size(), clip.images.size());
  std::size_t mismatches = 0;
  double max_rel = 0;
  for (std::size_t i = 0; i < clip.images.size(); ++i) {
    const float f = clip.images[i];
    if (cached->half[i] != float_to_half(f)) ++mismatches;
    const double err = std::fabs(static_cast<double>(half_to_float(cached->half[i])) - f);
    max_rel = std::max(max_rel, err / std::max(std::fabs(static_cast<double>(f)), std::ldexp(1.0, -14)));
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_LE(max_rel, std::ldexp(1.0, -11));
  EXPECT_GT(max_rel, 0.0);  // the values really were rounded

  // A plain float16 .npy: any reader gets the same values; no temporary left behind.
  const auto widened = io::read_npy(cache.entry_path("clip.wav"));
  EXPECT_EQ(widened.shape, (std::vector<std::size_t>{3, 224, 224}));
  EXPECT_EQ(widened.data, cached->to_float());
  EXPECT_TRUE(temp_files(dir / "cache").empty());
}

TEST(FeatureCache, LongClipsKeepTheFirst32Segments) {
  const auto dir = testing::scratch_dir();
  const auto wav = dir / "long.wav";
  write_wav(wav, 20.2, 16000, 1, 3);
  const FeatureCache cache((dir / "cache").string(), {});
  const FeaturePipeline pipeline;
  const auto clip = pipeline.run(audio::decode_file(wav.string()));
  cache.store("long.wav", clip);
  const auto cached = cache.load("long.wav");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->segments, 32u);
  EXPECT_EQ(cached->total_segments, 37u);  // (20.2 - 2) / 0.5 + 1 full windows
  ASSERT_EQ(cached->half.size(), 32u * 224 * 224);
  for (std::size_t i = 0; i < cached->half.size(); i += 97)
    ASSERT_EQ(cached->half[i], float_to_half(clip.images[i])) << i;
}

TEST(FeatureCache, CorruptEntriesAreInputErrorsAndAbsentOnesAreNullopt) {
  const auto dir = testing::scratch_dir();
  const FeatureCache cache((dir / "cache").string(), {});
  EXPECT_FALSE(cache.load("absent.wav").has_value());
  EXPECT_FALSE(cache.is_valid_entry("absent.wav"));

  const std::vector<std::uint16_t> one(224 * 224, 0x3c00);
  io::write_npy_half(cache.entry_path("good.wav"), one, {1, 224, 224});
  EXPECT_TRUE(cache.is_valid_entry("good.wav"));
  EXPECT_EQ(cache.load("good.wav")->duration_s, 0.0);  // no metadata comment: tolerated

  // Truncated: the last bytes cut off.
  fs::copy_file(cache.entry_path("good.wav"), cache.entry_path("cut.wav"));
  fs::resize_file(cache.entry_path("cut.wav"), fs::file_size(cache.entry_path("cut.wav")) - 10);
  EXPECT_FALSE(cache.is_valid_entry("cut.wav"));
  auto msg = input_error_of([&] { cache.load("cut.wav"); });
  EXPECT_THAT(msg, HasSubstr(cache.entry_path("cut.wav")));
  EXPECT_THAT(msg, HasSubstr("truncated"));

  // Wrong dtype.
  const std::vector<float> f32(224 * 224, 0.5f);
  io::write_npy(cache.entry_path("f32.wav"), f32, {1, 224, 224});
  msg = input_error_of([&] { cache.load("f32.wav"); });
  EXPECT_THAT(msg, HasSubstr("f32.wav.npy"));
  EXPECT_THAT(msg, HasSubstr("<f4"));
  EXPECT_FALSE(cache.is_valid_entry("f32.wav"));

  // Wrong shape.
  io::write_npy_half(cache.entry_path("shape.wav"), std::vector<std::uint16_t>(2 * 10 * 10), {2, 10, 10});
  EXPECT_THAT(input_error_of([&] { cache.load("shape.wav"); }), HasSubstr("expected (S, 224, 224)"));

  // Not a .npy at all.
  write_text(cache.entry_path("junk.wav"), "junk");
  EXPECT_THAT(input_error_of([&] { cache.load("junk.wav"); }), HasSubstr("junk.wav.npy"));
}

TEST(FeatureCache, RefusesAnotherConfigOrAForeignDirectory) {
  const auto dir = testing::scratch_dir();
  const auto cache_dir = dir / "cache";
  { const FeatureCache cache(cache_dir.string(), {}); }
  const auto info = read_json(cache_dir / "cache_info.json");
  EXPECT_EQ(info["format"], "coughkit-feature-cache");
  EXPECT_EQ(info["format_version"], FeatureCache::kFormatVersion);
  EXPECT_EQ(info["preprocess"], PreprocessConfig{}.ToString());
  EXPECT_EQ(info["image_size"], 224);
  EXPECT_EQ(info["max_segments"], 32);
  EXPECT_EQ(info["dtype"], "float16");

  { const FeatureCache again(cache_dir.string(), {}); }  // same config: reopens

  PreprocessConfig hpf;
  hpf.condition.highpass_hz = 50;
  auto msg = input_error_of([&] { FeatureCache c(cache_dir.string(), hpf); });
  EXPECT_THAT(msg, HasSubstr(cache_dir.string()));
  EXPECT_THAT(msg, HasSubstr("another preprocessing config"));
  EXPECT_THAT(msg, HasSubstr("highpass_hz=50"));

  auto edited = info;
  edited["format_version"] = 99;
  write_text(cache_dir / "cache_info.json", edited.dump());
  EXPECT_THAT(input_error_of([&] { FeatureCache c(cache_dir.string(), {}); }), HasSubstr("format version 99"));

  write_text(dir / "foreign" / "notes.txt", "not a cache");
  EXPECT_THAT(input_error_of([&] { FeatureCache c((dir / "foreign").string(), {}); }),
              HasSubstr("not a coughkit feature cache"));
  write_text(dir / "file", "x");
  EXPECT_THAT(input_error_of([&] { FeatureCache c((dir / "file").string(), {}); }), HasSubstr("not a directory"));
}

// --- precompute ----------------------------------------------------------------------------

struct Dataset {
  fs::path base;
  std::vector<LabelledClip> rows;
};

Dataset make_dataset(const fs::path& dir, int n) {
  Dataset d{dir / "audio", {}};
  for (int i = 0; i < n; ++i) {
    const std::string rel = (i % 2 ? "pos/" : "neg/") + std::to_string(i) + ".wav";
    write_wav(d.base / rel, 2.0 + 0.7 * i, i % 3 ? 16000 : 22050, 1 + i % 2, static_cast<std::uint64_t>(i + 1));
    d.rows.push_back({rel, i % 2, static_cast<std::size_t>(i + 2)});
  }
  return d;
}

TEST(Precompute, ComputesThenReusesThenRecomputesStaleEntries) {
  const auto dir = testing::scratch_dir();
  const auto data = make_dataset(dir, 5);
  const FeatureCache cache((dir / "cache").string(), {});
  const FeaturePipeline pipeline;

  std::vector<std::size_t> dones;
  std::set<std::string> seen;
  auto report = precompute(data.rows, data.base.string(), cache, pipeline, 2,
                           [&](std::size_t done, std::size_t total, const std::string& file) {
                             EXPECT_EQ(total, 5u);
                             dones.push_back(done);
                             seen.insert(file);
                           });
  EXPECT_EQ(report.total, 5u);
  EXPECT_EQ(report.computed, 5u);
  EXPECT_EQ(report.reused, 0u);
  EXPECT_TRUE(report.failures.empty());
  EXPECT_EQ(dones, (std::vector<std::size_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(seen.size(), 5u);
  for (const auto& row : data.rows) {
    const auto cached = cache.load(row.file_path);
    ASSERT_TRUE(cached) << row.file_path;
    const auto clip = pipeline.run(audio::decode_file((data.base / row.file_path).string()));
    ASSERT_EQ(cached->segments, clip.num_segments());
    for (std::size_t i = 0; i < clip.images.size(); ++i)
      ASSERT_EQ(cached->half[i], float_to_half(clip.images[i])) << row.file_path << " " << i;
  }
  EXPECT_TRUE(temp_files(dir / "cache").empty());
  auto json = read_json(dir / "cache" / "precompute_report.json");
  EXPECT_EQ(json["computed"], 5);
  EXPECT_EQ(json["failed"], 0);

  // Second run: everything is reused, nothing is rewritten.
  const auto entry0 = fs::path(cache.entry_path(data.rows[0].file_path));
  const auto time0 = fs::last_write_time(entry0);
  report = precompute(data.rows, data.base.string(), cache, pipeline, 2);
  EXPECT_EQ(report.computed, 0u);
  EXPECT_EQ(report.reused, 5u);
  EXPECT_EQ(fs::last_write_time(entry0), time0);

  // Edit one clip (new content, newer than its entry): only it is recomputed.
  const auto& edited = data.rows[3];
  write_wav(data.base / edited.file_path, 4.0, 16000, 1, 99);
  make_newer(data.base / edited.file_path, cache.entry_path(edited.file_path));
  EXPECT_FALSE(cache.is_fresh(edited.file_path, (data.base / edited.file_path).string()));
  report = precompute(data.rows, data.base.string(), cache, pipeline, 2);
  EXPECT_EQ(report.computed, 1u);
  EXPECT_EQ(report.reused, 4u);
  const auto clip = pipeline.run(audio::decode_file((data.base / edited.file_path).string()));
  const auto cached = cache.load(edited.file_path);
  ASSERT_EQ(cached->segments, clip.num_segments());
  EXPECT_EQ(cached->segments, 5u);
  for (std::size_t i = 0; i < clip.images.size(); i += 13) ASSERT_EQ(cached->half[i], float_to_half(clip.images[i]));

  // A damaged entry that looks fresh is recomputed too.
  const auto victim = fs::path(cache.entry_path(data.rows[1].file_path));
  fs::resize_file(victim, fs::file_size(victim) / 2);
  report = precompute(data.rows, data.base.string(), cache, pipeline, 1);
  EXPECT_EQ(report.computed, 1u);
  EXPECT_TRUE(cache.load(data.rows[1].file_path));
  EXPECT_TRUE(temp_files(dir / "cache").empty());
}

TEST(Precompute, CorruptAndMissingFilesAreReportedAndGetNoEntry) {
  const auto dir = testing::scratch_dir();
  auto data = make_dataset(dir, 2);
  write_text(data.base / "bad" / "corrupt.wav", "RIFF....this is not a wav file at all");
  data.rows.push_back({"bad/corrupt.wav", 1, 10});
  data.rows.push_back({"bad/missing.wav", 0, 11});
  const FeatureCache cache((dir / "cache").string(), {});
  const FeaturePipeline pipeline;
  // A stale entry from an earlier, good version of the corrupt file must not survive.
  cache.store("bad/corrupt.wav", pipeline.run(audio::decode_file((data.base / data.rows[0].file_path).string())));
  make_newer(data.base / "bad" / "corrupt.wav", cache.entry_path("bad/corrupt.wav"));

  const auto report = precompute(data.rows, data.base.string(), cache, pipeline, 2);
  EXPECT_EQ(report.total, 4u);
  EXPECT_EQ(report.computed, 2u);
  ASSERT_EQ(report.failures.size(), 2u);
  EXPECT_EQ(report.failures[0].file_path, "bad/corrupt.wav");  // input order
  EXPECT_THAT(report.failures[0].error, HasSubstr("corrupt.wav"));
  EXPECT_EQ(report.failures[1].file_path, "bad/missing.wav");
  EXPECT_THAT(report.failures[1].error, HasSubstr("missing.wav"));
  EXPECT_FALSE(fs::exists(cache.entry_path("bad/corrupt.wav")));
  EXPECT_FALSE(fs::exists(cache.entry_path("bad/missing.wav")));
  EXPECT_TRUE(cache.load(data.rows[0].file_path));
  EXPECT_TRUE(cache.load(data.rows[1].file_path));

  const auto json = read_json(dir / "cache" / "precompute_report.json");
  EXPECT_EQ(json["total"], 4);
  EXPECT_EQ(json["computed"], 2);
  EXPECT_EQ(json["failed"], 2);
  ASSERT_EQ(json["failures"].size(), 2u);
  EXPECT_EQ(json["failures"][0]["file_path"], "bad/corrupt.wav");
  EXPECT_EQ(json["failures"][1]["file_path"], "bad/missing.wav");
  EXPECT_THAT(json["failures"][1]["error"].get<std::string>(), HasSubstr("missing.wav"));
  EXPECT_TRUE(temp_files(dir / "cache").empty());
}

TEST(Precompute, DuplicateRowsAreDoneOnceAndCollidingOnesFail) {
  const auto dir = testing::scratch_dir();
  const auto data = make_dataset(dir, 2);
  const FeatureCache cache((dir / "cache").string(), {});
  const FeaturePipeline pipeline;
  auto rows = data.rows;
  rows.push_back(data.rows[0]);
  rows.push_back({"./" + data.rows[1].file_path, 1, 9});  // same entry, same audio
  auto report = precompute(rows, data.base.string(), cache, pipeline, 0);
  EXPECT_EQ(report.total, 2u);
  EXPECT_EQ(report.duplicates, 2u);
  EXPECT_EQ(report.computed, 2u);

  // Same file_path under two base directories: different audio, one entry -> the later fails.
  write_wav(dir / "other" / data.rows[0].file_path, 2.5, 16000, 1, 42);
  const std::vector<PrecomputeItem> items = {
      {data.rows[0].file_path, (data.base / data.rows[0].file_path).string()},
      {data.rows[0].file_path, (dir / "other" / data.rows[0].file_path).string()},
  };
  report = precompute_items(items, cache, pipeline, 2);
  EXPECT_EQ(report.total, 2u);
  EXPECT_EQ(report.reused, 1u);
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0].audio_path, items[1].audio_path);
  EXPECT_THAT(report.failures[0].error, HasSubstr("unique"));
}

TEST(Precompute, RefusesAPipelineWithAnotherConfig) {
  const auto dir = testing::scratch_dir();
  const FeatureCache cache((dir / "cache").string(), {});
  PreprocessConfig hpf;
  hpf.condition.highpass_hz = 50;
  EXPECT_THROW(precompute({}, dir.string(), cache, FeaturePipeline(hpf), 1), std::invalid_argument);
  const auto report = precompute({}, dir.string(), cache, FeaturePipeline(), 1);
  EXPECT_EQ(report.total, 0u);
}

}  // namespace
}  // namespace coughkit::features
