// The entry of libcoughkit_torch.so (torch_module.h): the table the core finds with dlsym.
#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "modules/torch_module.h"
#include "training/torch_backend.h"
#include "training/trainer.h"

namespace {

// Logging as the program does it (src/cli/main.cpp). Where spdlog is a shared library the
// module shares the program's registry, and a program that has set up its "coughkit"
// logger (and the level of --log-level) is left alone; otherwise (a host without it, or a
// module with its own spdlog copy) the same logger is made here, at COUGHKIT_LOG_LEVEL's
// level when that is set.
void configure_logging() {
  if (spdlog::get("coughkit")) return;
  auto logger = spdlog::stderr_color_mt("coughkit");
  logger->set_pattern("%^coughkit: %l:%$ %v");
  spdlog::set_default_logger(logger);
  if (const char* level = std::getenv("COUGHKIT_LOG_LEVEL"); level && *level)
    spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const void* coughkit_torch_module() {
  static const coughkit::training::TorchModule table = [] {
    configure_logging();
    return coughkit::training::TorchModule{
        .abi = coughkit::training::kTorchModuleAbi,
        .train = &coughkit::training::run_training,
        .load_checkpoint = &coughkit::training::load_torch_runner,
        .libtorch_version = &coughkit::training::libtorch_version,
    };
  }();
  return &table;
}
