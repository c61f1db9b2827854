#pragma once
// A float32 written as a number a person or script reads: the shortest decimal that reads
// back as the same float (0.61f -> 0.61, not 0.6100000143051147), as a double for JSON.
// `coughkit detect --json`, the HTTP APIs, the monitor's reports and training metrics all
// write float32 values this way, so the same value prints the same everywhere.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>
#include <vector>

namespace coughkit {

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

}  // namespace coughkit
