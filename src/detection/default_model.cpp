#include "detection/default_model.h"

#include <filesystem>

namespace coughkit::detection {

std::vector<std::string> default_model_candidates() {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    paths.push_back((dir / ".." / ".." / "models" / kDefaultModelFile).lexically_normal().string());
    paths.push_back((dir / ".." / "share" / "coughkit" / "models" / kDefaultModelFile).lexically_normal().string());
  }
  paths.push_back((fs::path("models") / kDefaultModelFile).string());
  return paths;
}

std::optional<std::string> find_default_model() {
  for (const auto& p : default_model_candidates()) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

}  // namespace coughkit::detection
