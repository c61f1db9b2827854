// `coughkit dataset long-form` end to end, on the corpus's real sources (hedgewars-data is
// downloaded once into build/testdata/dataset_source_cache, shared with dataset_cli_test;
// skipped when apt-get cannot). Short sets (0.05 h = 3 min) keep it quick.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

// Comma-separated fields (these files never quote theirs: ids and numbers only).
std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = line.find(',', start);
    out.push_back(line.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// Rows of a CSV as maps from the header's names.
std::vector<std::map<std::string, std::string>> read_csv(const fs::path& path) {
  const auto lines = lines_of(testing::file_contents(path));
  std::vector<std::map<std::string, std::string>> rows;
  if (lines.empty()) return rows;
  const auto header = fields(lines[0]);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto f = fields(lines[i]);
    std::map<std::string, std::string> row;
    for (std::size_t k = 0; k < header.size() && k < f.size(); ++k) row[header[k]] = f[k];
    rows.push_back(std::move(row));
  }
  return rows;
}

fs::path source_cache() { return testing::testdata_dir() / "dataset_source_cache"; }

std::string long_form_args(const fs::path& out, int seed, double hours = 0.05) {
  return "dataset long-form --out " + quoted(out) + " --source-cache " + quoted(source_cache()) + " --hours " +
         std::to_string(hours) + " --seed " + std::to_string(seed);
}

bool offline(const testing::RunResult& r) {
  return r.exit_code == 3 && r.output.find("apt-get download") != std::string::npos;
}

double db(double power) { return 10 * std::log10(power + 1e-20); }

TEST(CliLongForm, UsageErrorsAreClearAndExitNonZero) {
  auto r = run_cli("dataset long-form");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
  const auto dir = testing::scratch_dir();
  for (const char* hours : {"0", "-1", "25", "0.001"}) {
    r = run_cli("dataset long-form --out " + quoted(dir / "x") + " --hours " + hours);
    EXPECT_EQ(r.exit_code, 2) << hours << ": " << r.output;
    EXPECT_NE(r.output.find("--hours must be between 0.01 and 24"), std::string::npos) << r.output;
  }
  r = run_cli("dataset long-form --out " + quoted(dir / "x") + " --hours lots");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--hours"), std::string::npos) << r.output;
  r = run_cli("dataset long-form --out " + quoted(dir / "x") + " --seed -3");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_cli("dataset long-form --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* s :
       {"TEST split", "--corpus-seed", "--hours", "truth.csv", "events.csv", "coughkit evaluate", "bouts"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
  r = run_cli("dataset --help");
  EXPECT_NE(r.output.find("long-form"), std::string::npos) << r.output;

  std::ofstream(dir / "fake.deb") << "not a package";
  r = run_cli("dataset long-form --out " + quoted(dir / "out") + " --source-cache " + quoted(dir / "cache") +
              " --hedgewars-deb " + quoted(dir / "fake.deb"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("dpkg-deb"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out" / "long_form.json"));
}

TEST(CliLongForm, DeterministicFromTheTestSplitWithTruthWhereTheCoughsAre) {
  const auto dir = testing::scratch_dir();
  auto r = run_cli(long_form_args(dir / "a", 2));
  if (offline(r)) GTEST_SKIP() << "hedgewars-data cannot be downloaded here: " << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path wav = dir / "a" / "long_form_seed2.wav";
  ASSERT_TRUE(fs::is_regular_file(wav)) << r.output;

  // Same seed: the same bytes (with one worker loading the sources); another seed: others.
  r = run_cli(long_form_args(dir / "b", 2) + " --jobs 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"long_form_seed2.wav", "truth.csv", "events.csv"})
    EXPECT_TRUE(testing::file_contents(dir / "a" / f) == testing::file_contents(dir / "b" / f)) << f << " differs";
  r = run_cli(long_form_args(dir / "c", 3));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(testing::file_contents(dir / "c" / "long_form_seed3.wav") == testing::file_contents(wav));
  EXPECT_NE(testing::file_contents(dir / "c" / "truth.csv"), testing::file_contents(dir / "a" / "truth.csv"));
  // A re-run into the complete directory only checks it.
  r = run_cli(long_form_args(dir / "a", 2));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("already"), std::string::npos) << r.output;

  // The audio: 0.05 h of 16-kHz mono.
  const auto audio = audio::decode_file(wav.string());
  ASSERT_EQ(audio.sample_rate, 16000);
  ASSERT_EQ(audio.channels, 1);
  ASSERT_EQ(audio.frames(), 180u * 16000u);
  const auto& x = audio.planes.front();

  // Truth: one row per cough, as many as the manifest says, bouts present.
  const auto truth = read_csv(dir / "a" / "truth.csv");
  const auto manifest = nlohmann::json::parse(testing::file_contents(dir / "a" / "long_form.json"));
  const auto& counts = manifest.at("counts");
  ASSERT_EQ(static_cast<int>(truth.size()), counts.at("coughs").get<int>());
  ASSERT_GE(truth.size(), 3u);
  EXPECT_GE(counts.at("bouts").get<int>(), 1);
  EXPECT_GE(counts.at("single_coughs").get<int>(), 1);
  EXPECT_EQ(counts.at("single_coughs").get<int>() + counts.at("bout_coughs").get<int>(),
            counts.at("coughs").get<int>());
  std::map<int, std::vector<double>> bout_onsets;
  for (const auto& row : truth) {
    EXPECT_EQ(row.at("file"), "long_form_seed2.wav");
    EXPECT_EQ(row.at("coughs"), "1");
    if (row.at("bout") != "0") bout_onsets[std::stoi(row.at("bout"))].push_back(std::stod(row.at("onset_s")));
  }
  EXPECT_EQ(static_cast<int>(bout_onsets.size()), counts.at("bouts").get<int>());
  for (const auto& [id, onsets] : bout_onsets) {
    EXPECT_GE(onsets.size(), 2u) << "bout " << id;
    for (std::size_t k = 1; k < onsets.size(); ++k) EXPECT_LT(onsets[k] - onsets[k - 1], 3.0) << "bout " << id;
  }

  // Every source is of the corpus's test split: a corpus built with the same --seed (1, the
  // default --corpus-seed) lists each source's split in sources.csv.
  r = run_cli("dataset build --out " + quoted(dir / "corpus") + " --source-cache " + quoted(source_cache()) +
              " --train-scenes 1 --val-scenes 1 --test-scenes 1 --seed 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, std::string> split_of;
  for (const auto& row : read_csv(dir / "corpus" / "sources.csv")) split_of[row.at("source_id")] = row.at("split");
  const auto events = read_csv(dir / "a" / "events.csv");
  std::set<std::string> kinds;
  for (const auto& e : events) {
    kinds.insert(e.at("kind"));
    if (e.at("kind") == "silence") continue;
    std::string id = e.at("source_id");
    if (e.at("kind") == "cough") id = id.substr(0, id.find('#'));  // a cough unit of a source
    ASSERT_TRUE(split_of.count(id)) << id;
    EXPECT_EQ(split_of[id], "test") << id;
  }
  EXPECT_TRUE(kinds.count("cough") && kinds.count("hard") && kinds.count("speech"))
      << testing::file_contents(dir / "a" / "events.csv");
  EXPECT_EQ(manifest.at("sources").at("split"), "test");

  // Energy: each truth interval is far above the floor just before it (in a stretch free of
  // events); the SNR written in the truth is reached.
  std::vector<std::pair<double, double>> busy;
  for (const auto& e : events)
    if (e.at("kind") != "silence") busy.emplace_back(std::stod(e.at("start_s")), std::stod(e.at("end_s")));
  auto power = [&](double a, double b) {
    const auto i = static_cast<std::size_t>(a * 16000), j = static_cast<std::size_t>(b * 16000);
    double s = 0;
    for (std::size_t k = i; k < j; ++k) s += static_cast<double>(x[k]) * x[k];
    return s / static_cast<double>(j - i);
  };
  int checked = 0;
  double margin_sum = 0;
  for (const auto& row : truth) {
    const double on = std::stod(row.at("onset_s")), off = std::stod(row.at("offset_s"));
    const double a = on - 1.0, b = on - 0.05;
    if (a < 0) continue;
    bool free = true;
    for (const auto& [s, e] : busy) free = free && (e <= a || s >= b);
    if (!free) continue;
    const double margin = db(power(on, off)) - db(power(a, b));
    EXPECT_GT(margin, 3.0) << "cough at " << on << " s";
    EXPECT_GT(margin, std::stod(row.at("snr_db")) - 4.0) << "cough at " << on << " s";
    margin_sum += margin;
    ++checked;
  }
  ASSERT_GE(checked, 2);
  EXPECT_GT(margin_sum / checked, 10.0);
}

TEST(CliLongForm, MonitorAndEvaluateRunOnTheSet) {
  const auto dir = testing::scratch_dir();
  auto r = run_cli(long_form_args(dir / "set", 4));
  if (offline(r)) GTEST_SKIP() << "hedgewars-data cannot be downloaded here: " << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path wav = dir / "set" / "long_form_seed4.wav";
  r = testing::run_command(testing::cli_path().string() + " monitor --json --no-progress " + quoted(wav) + " > " +
                           quoted(dir / "report.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_cli("evaluate --json --block-seconds 60 --truth " + quoted(dir / "set" / "truth.csv") + " " +
              quoted(dir / "report.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = testing::json_lines(r.output);
  ASSERT_EQ(lines.size(), 1u) << r.output;
  const auto& e = lines[0];
  const int labelled = static_cast<int>(lines_of(testing::file_contents(dir / "set" / "truth.csv")).size()) - 1;
  const auto manifest = nlohmann::json::parse(testing::file_contents(dir / "set" / "long_form.json"));
  EXPECT_EQ(labelled, manifest.at("counts").at("coughs").get<int>());
  EXPECT_EQ(e.at("files"), 1);
  EXPECT_NEAR(e.at("hours").get<double>(), 0.05, 1e-3);
  for (const char* m : {"collar", "overlap"}) {
    const auto& s = e.at(m);
    EXPECT_EQ(s.at("true_positives").get<int>() + s.at("false_negatives").get<int>(), labelled) << m;
    EXPECT_TRUE(s.at("sensitivity").is_number()) << s;
    EXPECT_TRUE(s.at("false_positives_per_hour").is_number()) << s;
  }
  // Three blocks of 60 s: the labelled counts add up to the truth.
  int sum = 0;
  for (const auto& pair : e.at("counts").at("labelled_detected")) sum += pair.at(0).get<int>();
  EXPECT_EQ(sum, labelled);
}

}  // namespace
}  // namespace coughkit
