#include "fuzz_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace coughkit::fuzz {
namespace {

std::filesystem::path scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base;
    if (const char* t = std::getenv("TMPDIR"); t && *t)
      base = t;
    else if (std::filesystem::is_directory("/dev/shm"))
      base = "/dev/shm";  // RAM: millions of writes must not wear a disk or slow the loop
    else
      base = "/tmp";
    auto d = base / ("coughkit-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

std::string input_file(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw std::runtime_error("fuzz harness: cannot write " + path.string());
  return path.string();
}

void report_finding(const char* target, std::string_view what) {
  std::fprintf(stderr, "\n[%s] finding: %.*s\n", target, static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace coughkit::fuzz
