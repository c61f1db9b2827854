#pragma once
// JSON number helpers shared by the API handlers.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>
#include <vector>

namespace coughkit::server {

// A float as the shortest decimal that reads back as the same float (0.61f -> 0.61, not
// 0.6100000143051147), as `coughkit detect --json` writes it.
inline double shortest(float v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::strtod(std::string(buf, end).c_str(), nullptr) : static_cast<double>(v);
}

inline std::vector<double> shortest(const std::vector<float>& values) {
  std::vector<double> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(), [](float v) { return shortest(v); });
  return out;
}

}  // namespace coughkit::server
