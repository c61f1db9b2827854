#include "monitoring/batch.h"

#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "common/error.h"

namespace coughkit::monitoring {

Shard Shard::parse(const std::string& text) {
  static const std::regex re(R"(^(\d{1,6})/(\d{1,6})$)");
  std::smatch m;
  if (std::regex_match(text, m, re)) {
    Shard s{std::stoi(m[1]), std::stoi(m[2])};
    if (s.count >= 1 && s.count <= 100000 && s.index >= 1 && s.index <= s.count) return s;
  }
  throw ConfigError(fmt::format("--shard must be i/N with 1 <= i <= N (e.g. 2/4), got '{}'", text));
}

bool Shard::takes(const std::string& path) const {
  return fnv1a(path) % static_cast<std::uint64_t>(count) == static_cast<std::uint64_t>(index - 1);
}

std::uint64_t fnv1a(const std::string& bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string report_name(const std::string& path) {
  return fmt::format("{}-{:08x}", std::filesystem::path(path).stem().string(), fnv1a(path) & 0xffffffffull);
}

}  // namespace coughkit::monitoring
