#pragma once
#include <string>

namespace coughkit {
// "coughkit 0.1.0 (commit abc1234)"
std::string version_string();
}  // namespace coughkit
