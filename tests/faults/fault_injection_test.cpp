// Faults injected into real runs of the `coughkit` binary, and what must hold afterwards:
//  - kill -9 at seeded random points of `precompute` and `export`: no partial file under its
//    real name, and a rerun's outputs are byte-identical to an uninterrupted run's
//    (`monitor --shard` has the same test in tests/monitoring);
//  - a full disk (RLIMIT_FSIZE: writes past the limit fail with EFBIG, as they fail with
//    ENOSPC on a full file system, without needing a mount) and an output directory that
//    cannot be written: a clear error, a non-zero exit, the previous outputs intact;
//  - the model file removed or replaced while `serve` runs: the server keeps serving the
//    model it loaded;
//  - a damaged feature-cache entry: detected and rebuilt by the next `precompute`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../conversion/checkpoint_fixtures.h"
#include "../model/fixtures.h"
#include "../server/server_process.h"
#include "io/npy.h"
#include "support/run_cli.h"
#include "support/test_data.h"

namespace coughkit {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::quoted;
using testing::run_cli;
using testing::run_command;

// Every regular file under `dir` (relative path -> bytes), temporaries of the atomic writer
// (".NAME.tmp-PID-N") included: a caller decides what to make of them.
std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = testing::file_contents(e.path());
  return out;
}

bool is_temporary(const std::string& relative_path) {
  const auto name = fs::path(relative_path).filename().string();
  return !name.empty() && name[0] == '.' && name.find(".tmp-") != std::string::npos;
}

std::map<std::string, std::string> without_temporaries(std::map<std::string, std::string> files) {
  std::erase_if(files, [](const auto& kv) { return is_temporary(kv.first); });
  return files;
}

// Starts `coughkit ARGS` (a shell word list) in its own process and kills it with SIGKILL
// after `delay`. Returns true when the kill hit a running process (false: it had finished).
bool run_and_kill(const std::string& args, std::chrono::milliseconds delay, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = "exec " + testing::cli_path().string() + " " + args + " >" + quoted(log) + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(delay);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// 16-bit mono WAV: a tone with noise bursts, different per seed.
void write_wav(const fs::path& path, double seconds, int rate, std::uint64_t seed) {
  const auto frames = static_cast<std::size_t>(seconds * rate);
  std::vector<std::int16_t> samples(frames);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> noise(-0.5, 0.5);
  for (std::size_t i = 0; i < frames; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double v = 0.3 * std::sin(2 * M_PI * (300.0 + 20.0 * static_cast<double>(seed)) * t) +
                     (std::fmod(t, 1.3) < 0.3 ? 0.6 : 0.02) * noise(rng);
    samples[i] = static_cast<std::int16_t>(std::lround(v * 20000));
  }
  testing::write_wav_s16(path, samples, rate);
}

// A training split of `clips` WAVs of 8 s and its CSV.
fs::path make_split(const fs::path& dir, int clips) {
  std::string csv = "file_path,cough_label\n";
  for (int i = 0; i < clips; ++i) {
    const std::string name = fmt::format("clips/c{:02d}.wav", i);
    write_wav(dir / name, 8.0, 16000, static_cast<std::uint64_t>(i + 1));
    csv += fmt::format("{},{}\n", name, i % 2);
  }
  std::ofstream(dir / "train.csv") << csv;
  return dir / "train.csv";
}

// The cache's entries: the .npy files (the report beside them carries timings).
std::map<std::string, std::string> cache_entries(const fs::path& cache) {
  auto files = files_under(cache);
  std::erase_if(files, [](const auto& kv) { return fs::path(kv.first).extension() != ".npy"; });
  return files;
}

TEST(Faults, PrecomputeKilledAtRandomPointsResumesToTheSameEntries) {
  const auto dir = testing::scratch_dir();
  const auto csv = make_split(dir / "data", 24);
  const std::string whole_args = "precompute --threads 1 --csv " + quoted(csv) + " --cache ";
  auto r = run_cli(whole_args + quoted(dir / "whole"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto whole = cache_entries(dir / "whole");
  ASSERT_EQ(whole.size(), 24u);

  std::mt19937 rng(20261203);
  std::uniform_int_distribution<int> delay_ms(30, 1500);
  int hits = 0;
  for (int round = 0; round < 4; ++round) {
    const auto cache = dir / fmt::format("killed{}", round);
    const int delay = delay_ms(rng);
    hits += run_and_kill(whole_args + quoted(cache), std::chrono::milliseconds(delay), dir / "killed.log");
    // Whatever is there under an entry's name is a whole entry.
    for (const auto& [name, bytes] : without_temporaries(cache_entries(cache))) {
      ASSERT_TRUE(whole.contains(name)) << name;
      EXPECT_EQ(bytes, whole.at(name)) << name << " is partial after a kill at " << delay << " ms";
    }
    r = run_cli(whole_args + quoted(cache));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(without_temporaries(cache_entries(cache)), whole) << "after a kill at " << delay << " ms";
  }
  EXPECT_GE(hits, 2) << "the runs finished before most kills; the test proves little";
}

TEST(Faults, ExportKilledAtRandomPointsLeavesTheOldFileOrNone) {
  const auto dir = testing::scratch_dir();
  const auto checkpoint = testing::checkpoint_dir() / "full.pth";
  auto r = run_cli("export -c " + quoted(checkpoint) + " -o " + quoted(dir / "whole.onnx"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto whole = testing::file_contents(dir / "whole.onnx");
  ASSERT_GT(whole.size(), 1000000u);

  std::mt19937 rng(3);
  std::uniform_int_distribution<int> delay_ms(20, 2500);
  int hits = 0;
  const auto out = dir / "out" / "model.onnx";
  fs::create_directories(out.parent_path());
  for (int round = 0; round < 4; ++round) {
    // Rounds 0-1 start with no file, 2-3 with an older file (the tiny model) in its place.
    if (round >= 2)
      fs::copy_file(testing::model_fixture_dir() / "tiny_mil.onnx", out, fs::copy_options::overwrite_existing);
    const auto before = testing::file_contents(out);
    const int delay = delay_ms(rng);
    hits += run_and_kill("export -c " + quoted(checkpoint) + " -o " + quoted(out), std::chrono::milliseconds(delay),
                         dir / "killed.log");
    const auto visible = without_temporaries(files_under(out.parent_path()));
    if (visible.contains("model.onnx")) {
      const auto& now = visible.at("model.onnx");
      EXPECT_TRUE(now == whole || now == before) << "a partial model.onnx after a kill at " << delay << " ms";
    } else {
      EXPECT_TRUE(before.empty()) << "the old model.onnx vanished after a kill at " << delay << " ms";
    }
    r = run_cli("export -c " + quoted(checkpoint) + " -o " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(testing::file_contents(out), whole) << "the rerun's file differs from an uninterrupted export's";
    fs::remove(out);
  }
  EXPECT_GE(hits, 2) << "the exports finished before most kills; the test proves little";
}

// A shell prefix that makes writes past `kib` KiB fail with EFBIG instead of killing the
// process (SIGXFSZ ignored): a full disk as the program sees it.
std::string with_file_size_limit(int kib) { return fmt::format("trap '' XFSZ; ulimit -f {}; exec ", kib); }

TEST(Faults, FullDiskIsAClearErrorAndKeepsThePreviousOutputs) {
  const auto dir = testing::scratch_dir();
  const auto checkpoint = testing::checkpoint_dir() / "full.pth";
  const auto out = dir / "model.onnx";
  fs::copy_file(testing::model_fixture_dir() / "tiny_mil.onnx", out);
  const auto before = testing::file_contents(out);
  auto r = run_command(with_file_size_limit(1024) + testing::cli_path().string() + " export -c " + quoted(checkpoint) +
                       " -o " + quoted(out));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, -1) << "killed by a signal: " << r.output;
  EXPECT_THAT(r.output, HasSubstr(out.string())) << "the error must name the file";
  EXPECT_EQ(testing::file_contents(out), before) << "the previous model was damaged";
  EXPECT_EQ(without_temporaries(files_under(dir)).size(), 1u);
  EXPECT_EQ(files_under(dir).size(), 1u) << "a temporary was left behind";

  // precompute: the entries that fit are written, the others reported; a rerun with room
  // completes the cache and leaves the earlier entries as they were.
  const auto csv = make_split(dir / "data", 6);
  const auto cache = dir / "cache";
  r = run_command(with_file_size_limit(64) + testing::cli_path().string() + " precompute --threads 1 --csv " +
                  quoted(csv) + " --cache " + quoted(cache));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("File too large")) << r.output;
  for (const auto& [name, bytes] : without_temporaries(cache_entries(cache)))
    EXPECT_NO_THROW(io::read_npy_half(cache / name)) << name << " is damaged";
  r = run_cli("precompute --threads 1 --csv " + quoted(csv) + " --cache " + quoted(cache));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(cache_entries(cache).size(), 6u);
}

TEST(Faults, UnwritableOutputsAreClearErrors) {
  const auto dir = testing::scratch_dir();
  const auto checkpoint = testing::checkpoint_dir() / "full.pth";
  // A directory that is a file: even root cannot write under it.
  std::ofstream(dir / "a_file") << "x";
  auto r = run_cli("export -c " + quoted(checkpoint) + " -o " + quoted(dir / "a_file" / "model.onnx"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr((dir / "a_file" / "model.onnx").string()));
  EXPECT_EQ(testing::file_contents(dir / "a_file"), "x");
  const auto csv = make_split(dir / "data", 2);
  r = run_cli("precompute --csv " + quoted(csv) + " --cache " + quoted(dir / "a_file" / "cache"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 1) << "an unwritable cache is the user's to fix, not an internal error: " << r.output;
  EXPECT_THAT(r.output, HasSubstr("a_file"));
  // A directory without write permission (meaningful when not running as root).
  if (::geteuid() != 0) {
    fs::create_directories(dir / "locked");
    fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    r = run_cli("export -c " + quoted(checkpoint) + " -o " + quoted(dir / "locked" / "model.onnx"));
    fs::permissions(dir / "locked", fs::perms::owner_all);
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_THAT(r.output, HasSubstr("Permission denied"));
  }
}

TEST(Faults, ServerKeepsServingWhenItsModelFileIsRemovedOrReplaced) {
  const auto dir = testing::scratch_dir();
  const auto model = dir / "model.onnx";
  fs::copy_file(testing::model_fixture_dir() / "tiny_mil.onnx", model);
  write_wav(dir / "clip.wav", 4.0, 16000, 5);
  const auto audio = testing::file_contents(dir / "clip.wav");
  testing::ServerProcess server({"--model", model.string(), "--workers", "1"}, dir / "server.log");
  ASSERT_TRUE(server.wait_ready()) << server.log();
  httplib::Client client("127.0.0.1", server.port());
  const httplib::MultipartFormDataItems form = {{"file", audio, "clip.wav", "audio/wav"}};
  const auto first = client.Post("/v1/detect", form);
  ASSERT_TRUE(first) << server.log();
  ASSERT_EQ(first->status, 200) << first->body;
  const auto probability = nlohmann::json::parse(first->body)["bag_probability"];

  fs::remove(model);
  auto again = client.Post("/v1/detect", form);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(nlohmann::json::parse(again->body)["bag_probability"], probability);

  std::ofstream(model) << "garbage where the model was";
  again = client.Post("/v1/detect", form);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(nlohmann::json::parse(again->body)["bag_probability"], probability);
  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(Faults, DamagedCacheEntriesAreDetectedAndRebuilt) {
  const auto dir = testing::scratch_dir();
  const auto csv = make_split(dir / "data", 4);
  const auto cache = dir / "cache";
  auto r = run_cli("precompute --threads 1 --csv " + quoted(csv) + " --cache " + quoted(cache));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto whole = cache_entries(cache);
  ASSERT_EQ(whole.size(), 4u);
  // Truncated, a flipped header byte, and emptied: three kinds of damage.
  const auto entry = [&](int i) { return cache / fmt::format("clips/c{:02d}.wav.npy", i); };
  const auto bytes0 = testing::file_contents(entry(0));
  std::ofstream(entry(0), std::ios::binary | std::ios::trunc)
      .write(bytes0.data(), static_cast<std::streamsize>(bytes0.size() / 2));
  auto bytes1 = testing::file_contents(entry(1));
  bytes1[20] = '#';
  std::ofstream(entry(1), std::ios::binary | std::ios::trunc) << bytes1;
  std::ofstream(entry(2), std::ios::binary | std::ios::trunc);
  r = run_cli("precompute --threads 1 --csv " + quoted(csv) + " --cache " + quoted(cache));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("3 computed, 1 reused, 0 failed of 4 files"));
  EXPECT_EQ(cache_entries(cache), whole);
}

}  // namespace
}  // namespace coughkit
