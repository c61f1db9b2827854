#pragma once
// `coughkit train`: the reference recipe (docs/pipeline.md section 8) in LibTorch.
#include "modules/torch_module.h"

namespace coughkit::training {

// Runs a whole training (precompute of missing features, epochs, early stopping, best and
// last checkpoints, metrics, plots). Returns a process exit code.
int run_training(const TrainOptions& options);

}  // namespace coughkit::training
