// Part of the core: finds and opens the LibTorch module. See torch_module.h.
#include <mutex>
#include <stdexcept>

#include "common/module_loader.h"
#include "training/torch_module.h"

namespace coughkit::training {

const TorchModule& torch_module() {
  static const TorchModule* loaded = nullptr;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      loaded = static_cast<const TorchModule*>(load_module({.file_name = "libcoughkit_torch.so",
                                                            .env_var = "COUGHKIT_TORCH_MODULE",
                                                            .entry_symbol = "coughkit_torch_module",
                                                            .abi = kTorchModuleAbi,
                                                            .purpose = "the LibTorch training module"}));
    } catch (const std::runtime_error& e) {
      error = std::string(e.what()) +
              "\n(training and --backend torch need LibTorch: install libtorch-dev (scripts/install-deps.sh) and rebuild)";
    }
  });
  if (!loaded) throw std::runtime_error(error);
  return *loaded;
}

}  // namespace coughkit::training
