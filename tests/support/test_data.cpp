#include "support/test_data.h"

#include <fstream>
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

}  // namespace coughkit::testing
