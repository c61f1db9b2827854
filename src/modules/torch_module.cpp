// Part of the core: finds and opens the LibTorch module. See torch_module.h.
#include "modules/torch_module.h"

#include "modules/module_loader.h"

namespace coughkit::training {

const TorchModule& torch_module() {
  static LazyModule<TorchModule> module({
      .file_name = "libcoughkit_torch.so",
      .env_var = "COUGHKIT_TORCH_MODULE",
      .entry_symbol = "coughkit_torch_module",
      .abi = kTorchModuleAbi,
      .purpose = "the LibTorch training module",
      .remedy =
          "(training and --backend torch need LibTorch: install libtorch-dev (scripts/install-deps.sh) and rebuild)",
  });
  return module.get();
}

}  // namespace coughkit::training
