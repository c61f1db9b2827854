#include "modules/module_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace coughkit {
namespace {

std::vector<std::string> module_candidates(const ModuleSpec& spec) {
  std::vector<std::string> paths;
  if (const char* env = std::getenv(spec.env_var); env && *env) paths.emplace_back(env);
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&module_candidates), &info) && info.dli_fname) {
    const auto dir = std::filesystem::path(info.dli_fname).parent_path();
    paths.push_back((dir / ".." / "lib" / spec.file_name).lexically_normal().string());
    paths.push_back((dir / spec.file_name).string());
  }
  paths.emplace_back(spec.file_name);
  return paths;
}

}  // namespace

const void* load_module(const ModuleSpec& spec) {
  std::string tried;
  for (const auto& path : module_candidates(spec)) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += fmt::format("\n  {}: {}", path, dlerror());
      continue;
    }
    auto entry = reinterpret_cast<ModuleEntry>(dlsym(handle, spec.entry_symbol));
    const void* table = entry ? entry() : nullptr;
    if (!table || *static_cast<const int*>(table) != spec.abi) {
      tried += fmt::format("\n  {}: not a matching coughkit module (entry {} missing or ABI differs)", path,
                           spec.entry_symbol);
      dlclose(handle);
      continue;
    }
    return table;
  }
  throw std::runtime_error(fmt::format("{} ({}) could not be loaded; tried:{}", spec.purpose, spec.file_name, tried));
}

}  // namespace coughkit
