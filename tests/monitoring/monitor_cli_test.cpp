// `coughkit monitor` and `coughkit evaluate` as a user runs them: window parity with the
// reference on cut clips, sharding, resuming after kill -9, bad input, and peak memory that
// does not grow with the recording's length.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/fixtures.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using testing::run_cli;

fs::path reference() { return COUGHKIT_MONITOR_REFERENCE_DIR; }
std::string tiny_model() { return (testing::model_fixture_dir() / "tiny_mil.onnx").string(); }

json manifest() {
  std::ifstream in(reference() / "manifest.json");
  return json::parse(in);  // missing: the fixture failed, and so does the test
}

// Runs the program with `args`, output to `log`; returns (exit code, peak RSS in MiB).
std::pair<int, double> run_measured(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv = {testing::cli_path().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    ::execv(c[0], c.data());
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, usage.ru_maxrss / 1024.0};
}

TEST(MonitorCli, WindowsMatchTheReferenceRunOnCutClips) {
  const auto m = manifest();
  const std::string model = (reference() / m["model"].get<std::string>()).string();
  double worst = 0;
  for (const auto& c : m["cases"]) {
    const auto file = reference() / c["file"].get<std::string>();
    const double window = c["window_s"].get<double>();
    const auto r = run_cli("--log-level warn monitor --json --track --threads 2 --window-seconds " +
                           std::to_string(window) + " --model " + testing::quoted(model) + " " + testing::quoted(file));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto lines = testing::json_lines(r.output);
    ASSERT_EQ(lines.size(), 1u) << r.output;
    const auto& got = lines[0]["track"]["probabilities"];
    const auto& want = c["probabilities"];
    ASSERT_EQ(got.size(), want.size()) << file << " window " << window;
    EXPECT_EQ(lines[0]["windows"], want.size());
    double diff = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
      diff = std::max(diff, std::abs(got[i].get<double>() - want[i].get<double>()));
    EXPECT_LE(diff, 1e-4) << file << " window " << window;
    worst = std::max(worst, diff);
    std::printf("[window parity] %s (%d Hz, %d ch) window %g s: %zu windows, max |diff| %.3g\n",
                c["file"].get<std::string>().c_str(), c["rate"].get<int>(), c["channels"].get<int>(), window,
                got.size(), diff);
  }
  std::printf("[window parity] worst %.3g\n", worst);
}

TEST(MonitorCli, ReportFieldsSummaryPlotAndCsv) {
  const auto dir = testing::scratch_dir();
  const auto file = reference() / "r44k_stereo.wav";
  auto r =
      run_cli("--log-level warn monitor --json --threads 1 --model " + testing::quoted(tiny_model()) +
              " --start-time 2026-12-01T21:59:58 --night 22:00-07:00 --threshold 0 --csv " +
              testing::quoted(dir / "csv") + " --plot " + testing::quoted(dir / "plot") + " " + testing::quoted(file));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto lines = testing::json_lines(r.output);
  ASSERT_EQ(lines.size(), 1u);
  const auto& j = lines[0];
  for (const char* key : {"file", "duration_s", "window_s", "hop_s", "threshold", "events", "cough_count",
                          "coughs_per_hour", "hourly", "bouts", "awake", "asleep", "start_time"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_FALSE(j.contains("track"));  // only with --track
  EXPECT_EQ(j["threshold"], 0.0);
  EXPECT_EQ(j["threshold_source"], "flag");
  ASSERT_FALSE(j["events"].empty());  // threshold 0: every window is positive
  for (const char* key : {"start_s", "end_s", "peak_probability", "coughs", "cough_onsets_s", "wall_start"})
    EXPECT_TRUE(j["events"][0].contains(key)) << key;
  EXPECT_EQ(j["hourly"].size(), 2u);  // 21:59:58-22:00:00, then 22:00
  EXPECT_EQ(j["hourly"][1]["wall_start"], "2026-12-01T22:00:00");
  EXPECT_GT(j["asleep"]["hours"].get<double>(), 0);
  std::string svg, events;
  for (const auto& e : fs::directory_iterator(dir / "plot")) svg = testing::file_contents(e.path());
  for (const auto& e : fs::directory_iterator(dir / "csv"))
    if (e.path().string().ends_with(".events.csv")) events = testing::file_contents(e.path());
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("class=\"track\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"event\""), std::string::npos);
  EXPECT_NE(svg.find("coughs per hour"), std::string::npos);
  EXPECT_NE(events.find("start_s,end_s"), std::string::npos);
  EXPECT_EQ(std::count(events.begin(), events.end(), '\n'), static_cast<long>(j["events"].size()) + 1);
  // Without --json: a readable summary.
  r = run_cli("--log-level warn monitor --threads 1 --model " + testing::quoted(tiny_model()) + " " +
              testing::quoted(file));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("coughs in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("per hour"), std::string::npos) << r.output;
}

TEST(MonitorCli, BadInputAndFlags) {
  const auto dir = testing::scratch_dir();
  std::ofstream(dir / "not_audio.wav") << "this is not audio";
  const auto good = reference() / "r16k_short.wav";
  auto r = run_cli("--log-level warn monitor --json --threads 1 --model " + testing::quoted(tiny_model()) + " " +
                   testing::quoted(dir / "not_audio.wav") + " " + testing::quoted(good));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("not_audio.wav"), std::string::npos) << r.output;
  EXPECT_EQ(testing::json_lines(r.output).size(), 1u);  // the good file is still reported
  for (const std::string flags : {"--shard 0/2", "--shard 3/2", "--start-time yesterday", "--night 22",
                                  "--hop-seconds 5", "--window-seconds 1"}) {
    r = run_cli("monitor " + flags + " --model " + testing::quoted(tiny_model()) + " " + testing::quoted(good));
    EXPECT_EQ(r.exit_code, 2) << flags << ": " << r.output;
  }
  r = run_cli("monitor --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"--shard", "--night", "--start-time", "--track", "--out", "--plot", "--csv", "--bout-gap"})
    EXPECT_NE(r.output.find(word), std::string::npos) << word;
}

std::map<std::string, json> reports_in(const fs::path& dir) {
  std::map<std::string, json> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    auto j = json::parse(testing::file_contents(e.path()));
    j.erase("processing_s");
    j.erase("realtime_factor");
    out[e.path().filename().string()] = j;
  }
  return out;
}

std::size_t reports_in_count(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.path().extension() == ".json" ? 1 : 0;
  return n;
}

TEST(MonitorCli, ShardsCoverEachFileOnceAndAKilledRunResumes) {
  const auto dir = testing::scratch_dir();
  std::vector<std::string> files;
  for (int i = 0; i < 6; ++i) {
    const auto f = dir / "in" / ("rec" + std::to_string(i) + ".wav");
    fs::create_directories(f.parent_path());
    fs::copy_file(reference() / (i % 2 ? "r44k_stereo.wav" : "r48k_stereo_long.wav"), f);
    files.push_back(testing::quoted(f));
  }
  std::string list;
  for (const auto& f : files) list += " " + f;
  const std::string base = "--log-level warn monitor --threads 1 --model " + testing::quoted(tiny_model());
  // Uninterrupted, one shard.
  auto r = run_cli(base + " --out " + testing::quoted(dir / "whole") + list);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto whole = reports_in(dir / "whole");
  ASSERT_EQ(whole.size(), files.size());
  // Three shards: together every file exactly once.
  for (int s = 1; s <= 3; ++s) {
    r = run_cli(base + " --shard " + std::to_string(s) + "/3 --out " + testing::quoted(dir / "sharded") + list);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const auto sharded = reports_in(dir / "sharded");
  EXPECT_EQ(sharded, whole);
  // Killed mid-run: the finished files stay, nothing half-written is visible; the rerun skips
  // them, finishes the rest, and the reports equal the uninterrupted run's.
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    const std::string cmd = testing::cli_path().string() + " " + base.substr(base.find("monitor")) + " --out " +
                            testing::quoted(dir / "killed") + list;
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 600 && reports_in_count(dir / "killed") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const auto partial = reports_in(dir / "killed");
  EXPECT_GE(partial.size(), 2u);
  EXPECT_LT(partial.size(), files.size()) << "the run finished before the kill; the test proves nothing";
  for (const auto& [name, j] : partial) EXPECT_EQ(j, whole.at(name)) << name;
  r = run_cli("--log-level info monitor --threads 1 --model " + testing::quoted(tiny_model()) + " --out " +
              testing::quoted(dir / "killed") + list);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skipped"), std::string::npos) << r.output;
  EXPECT_EQ(reports_in(dir / "killed"), whole);
  for (const auto& e : fs::directory_iterator(dir / "killed"))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left over: " << e.path();
}

TEST(MonitorCli, PeakMemoryDoesNotGrowWithTheRecordingsLength) {
  const auto dir = testing::scratch_dir();
  // 10 min of 48 kHz stereo Opus, and copies of it joined into 20 min and 2 h (stream copy).
  auto r = testing::run_command(
      "ffmpeg -v error -y -f lavfi -i anoisesrc=d=600:c=pink:r=48000:a=0.05 -f lavfi -i "
      "sine=f=440:r=48000:d=600 -filter_complex '[0][1]amerge=inputs=2' -c:a libopus -b:a 24k "
      "-compression_level 0 " +
      testing::quoted(dir / "part.opus"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (auto [name, parts] : {std::pair{"m20.opus", 2}, std::pair{"h2.opus", 12}}) {
    std::ofstream list(dir / (std::string(name) + ".txt"));
    for (int i = 0; i < parts; ++i) list << "file '" << (dir / "part.opus").string() << "'\n";
    list.close();
    r = testing::run_command("ffmpeg -v error -y -f concat -safe 0 -i " +
                             testing::quoted(dir / (std::string(name) + ".txt")) + " -c copy " +
                             testing::quoted(dir / name));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  std::map<std::string, double> rss;
  for (const char* name : {"m20.opus", "h2.opus"}) {
    const auto [code, mib] = run_measured({"--log-level", "warn", "monitor", "--json", "--threads", "1",
                                           "--hop-seconds", "2", "--model", tiny_model(), (dir / name).string()},
                                          dir / (std::string(name) + ".log"));
    ASSERT_EQ(code, 0) << testing::file_contents(dir / (std::string(name) + ".log"));
    const auto report = testing::json_lines(testing::file_contents(dir / (std::string(name) + ".log")));
    ASSERT_EQ(report.size(), 1u);
    rss[name] = mib;
    std::printf("[memory] %s: %.0f s of audio, peak RSS %.1f MiB\n", name, report[0]["duration_s"].get<double>(), mib);
  }
  EXPECT_LE(rss["h2.opus"], rss["m20.opus"] * 1.10);
  EXPECT_LE(rss["h2.opus"], 600.0);
}

}  // namespace
}  // namespace coughkit
