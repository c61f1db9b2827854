// `coughkit dataset build` end to end, as a user runs it. The hedgewars-data package is
// downloaded once into build/testdata/dataset_source_cache and reused by later runs; when
// apt-get cannot download it (offline), the test is skipped with the reason.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/conditioning.h"
#include "audio/decoder.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

namespace fs = std::filesystem;
using testing::quoted;
using testing::run_cli;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The first `n` comma-separated fields (they never hold quotes in these files).
std::vector<std::string> fields(const std::string& line, std::size_t n) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (out.size() < n) {
    const std::size_t end = line.find(',', start);
    out.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

fs::path source_cache() { return testing::testdata_dir() / "dataset_source_cache"; }

std::string build_args(const fs::path& out) {
  return "dataset build --out " + quoted(out) + " --source-cache " + quoted(source_cache()) +
         " --train-scenes 12 --val-scenes 4 --test-scenes 4 --seed 3";
}

TEST(CliDataset, BuildsADeterministicSplitCorpus) {
  const auto dir = testing::scratch_dir();
  const fs::path a = dir / "a", b = dir / "b";
  auto r = run_cli(build_args(a));
  if (r.exit_code == 3 && r.output.find("apt-get download") != std::string::npos)
    GTEST_SKIP() << "hedgewars-data cannot be downloaded here: " << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // The CSVs: header, counts, labels, every file decodes.
  const std::map<std::string, std::size_t> expected = {{"train", 12}, {"val", 4}, {"test", 4}};
  std::map<std::string, int> label_of;
  std::map<std::string, std::string> segment_labels_of;
  for (const auto& [split, count] : expected) {
    const auto lines = lines_of(testing::file_contents(a / (split + ".csv")));
    ASSERT_EQ(lines.size(), count + 1) << split;
    EXPECT_EQ(lines[0], "file_path,cough_label,segment_labels");
    int positives = 0;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      const auto f = fields(lines[i], 3);
      ASSERT_EQ(f.size(), 3u) << lines[i];
      EXPECT_TRUE(f[0].starts_with("audio/" + split + "/" + split + "_")) << f[0];
      ASSERT_TRUE(f[1] == "0" || f[1] == "1") << lines[i];
      label_of[f[0]] = f[1] == "1";
      positives += f[1] == "1";
      const auto audio = audio::decode_file((a / f[0]).string());
      EXPECT_GE(audio.duration_seconds(), 0.99) << f[0];
      EXPECT_LE(audio.duration_seconds(), 10.5) << f[0];
      EXPECT_TRUE(audio.channels == 1 || audio.channels == 2) << f[0];
      // One segment label per segment training will cut from the file as decoded.
      const std::size_t samples = audio::condition(audio).size();
      const std::size_t segments = samples < 32000 ? 1 : (samples - 32000) / 8000 + 1;
      EXPECT_EQ(f[2].size(), segments) << lines[i];
      EXPECT_EQ(f[2].find_first_not_of("01"), std::string::npos) << lines[i];
      if (f[1] == "0") EXPECT_EQ(f[2].find('1'), std::string::npos) << "a negative scene's segment: " << lines[i];
      segment_labels_of[f[0]] = f[2];
    }
    EXPECT_GE(positives, 1) << split;
    EXPECT_LT(positives, static_cast<int>(count)) << split;
  }

  // Sources: one split each, every split with a cough.
  std::map<std::string, std::string> split_of_source;
  std::map<std::string, std::set<std::string>> coughs_per_split;
  const auto source_lines = lines_of(testing::file_contents(a / "sources.csv"));
  ASSERT_GT(source_lines.size(), 100u);
  EXPECT_EQ(source_lines[0], "source_id,kind,split,duration_s,sha256,origin,text");
  std::set<std::string> hashes;
  for (std::size_t i = 1; i < source_lines.size(); ++i) {
    const auto f = fields(source_lines[i], 5);
    ASSERT_EQ(f.size(), 5u);
    EXPECT_TRUE(split_of_source.emplace(f[0], f[2]).second) << "source listed twice: " << f[0];
    EXPECT_TRUE(hashes.insert(f[4]).second) << "duplicate content: " << source_lines[i];
    if (f[1] == "cough") coughs_per_split[f[2]].insert(f[0]);
  }
  EXPECT_EQ(coughs_per_split["train"].size(), 3u);
  EXPECT_EQ(coughs_per_split["val"].size(), 1u);
  EXPECT_EQ(coughs_per_split["test"].size(), 1u);

  // scenes.jsonl agrees with the CSVs, and scenes use only their split's sources.
  const auto scene_lines = lines_of(testing::file_contents(a / "scenes.jsonl"));
  ASSERT_EQ(scene_lines.size(), 20u);
  for (const auto& line : scene_lines) {
    const auto j = nlohmann::json::parse(line);
    const std::string file = j.at("file"), split = j.at("split");
    ASSERT_TRUE(label_of.count(file)) << file;
    bool has_cough = false;
    // A segment [0.5 k, 0.5 k + 2) is positive exactly when it holds half or more of a cough.
    const std::string& segment_labels = segment_labels_of[file];
    std::string expected_segments(segment_labels.size(), '0');
    for (const auto& e : j.at("events")) {
      if (e.at("kind") != "cough") continue;
      const double begin = e.at("offset_s").get<double>(), duration = e.at("duration_s").get<double>();
      for (std::size_t k = 0; k < expected_segments.size(); ++k) {
        const double overlap = std::min(0.5 * k + 2.0, begin + duration) - std::max(0.5 * k, begin);
        if (overlap >= 0.5 * duration) expected_segments[k] = '1';
      }
    }
    EXPECT_EQ(segment_labels, expected_segments) << line;
    for (const auto& e : j.at("events")) {
      const std::string id = e.at("source_id");
      ASSERT_TRUE(split_of_source.count(id)) << id;
      EXPECT_EQ(split_of_source[id], split) << file << " uses " << id;
      if (e.at("kind") == "cough") {
        has_cough = true;
        EXPECT_GE(e.at("offset_s").get<double>(), 0.0);
        EXPECT_LE(e.at("offset_s").get<double>() + e.at("duration_s").get<double>(),
                  j.at("duration_s").get<double>() + 1e-3);
      }
    }
    EXPECT_EQ(has_cough, label_of[file] == 1) << line;
    EXPECT_EQ(j.at("label").get<int>(), label_of[file]) << line;
  }
  const auto summary = nlohmann::json::parse(testing::file_contents(a / "dataset.json"));
  EXPECT_EQ(summary.at("seed"), 3);
  EXPECT_EQ(summary.at("counts").at("train").at("scenes"), 12);
  EXPECT_FALSE(summary.at("sources").at("hedgewars-data").at("version").get<std::string>().empty());
  EXPECT_FALSE(summary.at("sources").at("espeak-ng").at("version").get<std::string>().empty());
  EXPECT_NE(summary.at("command_line").get<std::string>().find("--seed 3"), std::string::npos);
  EXPECT_FALSE(fs::exists(a / ".partial"));

  // Same options with one worker: byte-identical lists and audio.
  r = run_cli(build_args(b) + " --jobs 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"train.csv", "val.csv", "test.csv", "scenes.jsonl", "sources.csv"})
    EXPECT_EQ(testing::file_contents(a / f), testing::file_contents(b / f)) << f;
  for (const auto& [file, label] : label_of)
    EXPECT_TRUE(testing::file_contents(a / file) == testing::file_contents(b / file)) << file << " differs";

  // A re-run into the complete directory only checks it.
  const auto start = std::chrono::steady_clock::now();
  r = run_cli(build_args(a));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("already"), std::string::npos) << r.output;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);

  // An interrupted run resumes: a lost scene is rendered again, identically; fewer scenes
  // remove the extra files.
  const std::string wav = "audio/train/train_0005.wav";
  const std::string before = testing::file_contents(a / wav);
  fs::remove(a / wav);
  r = run_cli(build_args(a));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 scene rendered, 19 kept"), std::string::npos) << r.output;
  EXPECT_TRUE(testing::file_contents(a / wav) == before);
  r = run_cli("dataset build --out " + quoted(b) + " --source-cache " + quoted(source_cache()) +
              " --train-scenes 10 --val-scenes 4 --test-scenes 4 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(b / "audio/train/train_0011.wav"));
  EXPECT_EQ(lines_of(testing::file_contents(b / "train.csv")).size(), 11u);
}

// --synthetic-coughs adds synthesised coughs to the training split only; with a share of 1
// every training cough event is one of them, while validation and test keep the recorded
// coughs. The corpus's fingerprint changes with the option.
TEST(CliDataset, SyntheticCoughsGoToTheTrainingSplitOnly) {
  const auto dir = testing::scratch_dir();
  const fs::path plain = dir / "plain", synth = dir / "synth";
  auto r = run_cli(build_args(plain));
  if (r.exit_code == 3 && r.output.find("apt-get download") != std::string::npos)
    GTEST_SKIP() << "hedgewars-data cannot be downloaded here: " << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli(build_args(synth) + " --synthetic-coughs 4 --synthetic-cough-share 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("+4 synthesised"), std::string::npos) << r.output;

  std::set<std::string> synthetic_ids;
  for (const auto& line : lines_of(testing::file_contents(synth / "sources.csv"))) {
    if (!line.starts_with("synth:")) continue;
    const auto f = fields(line, 3);
    EXPECT_EQ(f[1], "cough") << line;
    EXPECT_EQ(f[2], "train") << line;
    synthetic_ids.insert(f[0]);
  }
  EXPECT_EQ(synthetic_ids,
            (std::set<std::string>{"synth:cough:0000", "synth:cough:0001", "synth:cough:0002", "synth:cough:0003"}));
  std::size_t training_coughs = 0;
  for (const auto& line : lines_of(testing::file_contents(synth / "scenes.jsonl"))) {
    const auto j = nlohmann::json::parse(line);
    for (const auto& e : j.at("events")) {
      if (e.at("kind") != "cough") continue;
      const bool synthetic = e.at("source_id").get<std::string>().starts_with("synth:");
      if (j.at("split") == "train") {
        EXPECT_TRUE(synthetic) << line;
        ++training_coughs;
      } else {
        EXPECT_FALSE(synthetic) << line;
      }
    }
  }
  EXPECT_GT(training_coughs, 0u);
  const auto fingerprint = [](const fs::path& d) {
    return nlohmann::json::parse(testing::file_contents(d / "dataset.json")).at("fingerprint").get<std::string>();
  };
  EXPECT_NE(fingerprint(plain), fingerprint(synth));
  // Validation and test scenes do not depend on the training split's synthetic coughs.
  EXPECT_EQ(testing::file_contents(plain / "val.csv"), testing::file_contents(synth / "val.csv"));
  EXPECT_EQ(testing::file_contents(plain / "audio/test/test_0000.wav"),
            testing::file_contents(synth / "audio/test/test_0000.wav"));

  // Out of range: a usage error naming the flag.
  r = run_cli(build_args(dir / "bad") + " --synthetic-coughs 20000");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--synthetic-coughs"), std::string::npos) << r.output;
}

TEST(CliDataset, UsageAndInputErrors) {
  auto r = run_cli("dataset");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_cli("dataset build");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  r = run_cli("dataset build --out x --positive-fraction 2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_cli("dataset build --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"hedgewars-data", "espeak-ng", "train.csv", "scenes.jsonl", "--seed", "--jobs"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s;

  const auto dir = testing::scratch_dir();
  std::ofstream(dir / "fake.deb") << "not a package";
  r = run_cli("dataset build --out " + quoted(dir / "out") + " --hedgewars-deb " + quoted(dir / "fake.deb"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("fake.deb"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dpkg-deb"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace coughkit
