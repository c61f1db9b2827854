#include "support/test_data.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

namespace coughkit::testing {

std::filesystem::path source_dir() { return COUGHKIT_SOURCE_DIR; }
std::filesystem::path testdata_dir() { return COUGHKIT_TESTDATA_DIR; }
std::filesystem::path reference_dir() { return COUGHKIT_REFERENCE_DIR; }
std::filesystem::path cli_path() { return COUGHKIT_CLI; }

std::optional<std::filesystem::path> shared_golden_dir() {
  std::filesystem::path dir = COUGHKIT_SHARED_GOLDEN_DIR;
  if (const char* env = std::getenv("COUGHKIT_GOLDEN_DIR")) dir = env;
  if (std::filesystem::exists(dir / "manifest.json")) return dir;
  return std::nullopt;
}

nlohmann::json load_manifest(const std::filesystem::path& set_dir) {
  std::ifstream in(set_dir / "manifest.json");
  if (!in) throw std::runtime_error("reference manifest missing: " + (set_dir / "manifest.json").string());
  return nlohmann::json::parse(in);
}

std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "scratch";
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = testdata_dir() / "scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_wav_s16(const std::filesystem::path& path, std::span<const std::int16_t> interleaved, int rate,
                   int channels) {
  std::string b;
  auto le = [&](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  const std::uint64_t data_bytes = interleaved.size() * 2, ch = static_cast<std::uint64_t>(channels);
  b += "RIFF";
  le(36 + data_bytes, 4);
  b += "WAVEfmt ";
  le(16, 4);  // fmt chunk size
  le(1, 2);   // PCM
  le(ch, 2);
  le(static_cast<std::uint64_t>(rate), 4);
  le(static_cast<std::uint64_t>(rate) * ch * 2, 4);  // bytes per second
  le(ch * 2, 2);                                     // bytes per frame
  le(16, 2);                                         // bits per sample
  b += "data";
  le(data_bytes, 4);
  for (const std::int16_t v : interleaved) le(static_cast<std::uint16_t>(v), 2);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << b;
  out.close();
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

std::string file_contents(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace coughkit::testing
