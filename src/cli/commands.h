#pragma once
// Each subcommand registers its flags on the app and returns the function that runs it.
// Front ends stay thin: they parse flags, call the core library, and map errors to exit codes.
#include <functional>

#include <CLI/CLI.hpp>

#include "common/error.h"

namespace coughkit::cli {

// Exit codes, one meaning each (listed in `coughkit --help`).
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,  // a bug or an unexpected system failure
  kExitUsage = 2,     // bad flags or arguments
  kExitInput = 3,     // an input (audio file, model) was unusable; others were still processed
};

// The exit code of an error of `kind` (common/error.h), for main() and for commands that
// report one bad file and carry on.
inline int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return kExitUsage;
    case ErrorKind::kInput:
    case ErrorKind::kTooLarge: return kExitInput;
    case ErrorKind::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

using CommandRunner = std::function<int()>;

CommandRunner register_features(CLI::App& app);
CommandRunner register_detect(CLI::App& app);
CommandRunner register_monitor(CLI::App& app);
CommandRunner register_evaluate(CLI::App& app);
CommandRunner register_bench(CLI::App& app);
CommandRunner register_export(CLI::App& app);
CommandRunner register_compare(CLI::App& app);
CommandRunner register_serve(CLI::App& app);
CommandRunner register_precompute(CLI::App& app);
CommandRunner register_dataset(CLI::App& app);
CommandRunner register_train(CLI::App& app);

}  // namespace coughkit::cli
