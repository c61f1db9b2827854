#pragma once
// The interface between the core (no LibTorch) and the LibTorch module
// (libcoughkit_torch.so, built from the rest of src/training/), which the core opens only
// when a command needs it: `coughkit train` and `--backend torch`. `coughkit detect` and
// `coughkit serve` never load it. Nothing here names a LibTorch type.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "checkpoint/checkpoint_reader.h"
#include "common/error.h"
#include "model/model_runner.h"

namespace coughkit::training {

// `coughkit train` (docs/pipeline.md section 8). Defaults are the reference recipe.
struct TrainOptions {
  std::string train_csv, val_csv, test_csv;  // test_csv optional (empty = none)
  std::string base_dir;                      // audio paths are relative to it; empty = each CSV's directory
  std::string cache_dir;                     // feature cache; empty = OUT/cache
  std::string out_dir;
  int epochs = 30;
  int batch_size = 16;  // bags per step (>= 2: BatchNorm1d in train mode)
  double lr = 1e-4, weight_decay = 1e-4;
  double min_lr = 1e-6;              // cosine annealing floor, reached at the last epoch
  int patience = 5;                  // early stopping on validation ROC-AUC; 0 = off
  double augment_probability = 0.1;  // per augmentation, training bags only; 0 = off
  float dropout = 0.3f;
  std::uint64_t seed = 42;
  int threads = 0;              // 0 = all cores
  std::string init;             // start from this checkpoint's weights (else from scratch)
  bool resume = true;           // continue OUT's last checkpoint when present
  float highpass_hz = 0.0f;     // preprocessing config the model is trained for
  int max_steps_per_epoch = 0;  // 0 = all; for smoke tests
  // Run padded batch slots through the backbone as the reference did (its BatchNorm then
  // counts the zero images). Off: only real segments are computed (AttnMILResNetImpl::
  // set_skip_padding), about a third of the work on 1-17-segment bags.
  bool reference_padding = false;
  // Weight of the segment term added to the bag loss (docs/pipeline.md section 8); 0 = the
  // reference recipe. > 0 needs training bags with segment labels.
  double segment_loss_weight = 0;
  bool progress = true;  // progress bar on a terminal

  void Validate() const;  // throws ConfigError naming the field
};

// Inline so that the core (the CLI) and the module both check the same way.
inline void TrainOptions::Validate() const {
  auto fail = [](const std::string& what) { throw ConfigError("TrainOptions: " + what); };
  if (train_csv.empty()) fail("train_csv is required");
  if (val_csv.empty()) fail("val_csv is required");
  if (out_dir.empty()) fail("out_dir is required");
  if (epochs < 1) fail("epochs must be >= 1");
  if (batch_size < 2) fail("batch_size must be >= 2 (the bag head's BatchNorm1d needs two bags in training)");
  if (!(lr > 0)) fail("lr must be > 0");
  if (!(weight_decay >= 0)) fail("weight_decay must be >= 0");
  if (!(min_lr >= 0) || min_lr > lr) fail("min_lr must be in [0, lr]");
  if (patience < 0) fail("patience must be >= 0");
  if (!(augment_probability >= 0 && augment_probability <= 1)) fail("augment_probability must be in [0, 1]");
  if (!(dropout >= 0 && dropout < 1)) fail("dropout must be in [0, 1)");
  if (threads < 0) fail("threads must be >= 0");
  if (!(highpass_hz >= 0 && highpass_hz < 8000)) fail("highpass_hz must be in [0, 8000)");
  if (max_steps_per_epoch < 0) fail("max_steps_per_epoch must be >= 0");
  if (!(segment_loss_weight >= 0 && segment_loss_weight <= 100)) fail("segment_loss_weight must be in [0, 100]");
}

inline constexpr int kTorchModuleAbi = 1;

struct TorchModule {
  int abi;
  // Runs training; returns a process exit code (0 ok, 3 unusable input). Throws
  // ConfigError/InputError/std::exception like the core does.
  int (*train)(const TrainOptions& options);
  // A checkpoint run by LibTorch in evaluation mode: the reference backend.
  // `metadata` is what the model reports (threshold, highpass_hz, ...).
  std::unique_ptr<model::ModelRunner> (*load_checkpoint)(const checkpoint::Checkpoint& ckpt,
                                                         const std::map<std::string, std::string>& metadata,
                                                         int threads);
  const char* (*libtorch_version)();
};

// Opens libcoughkit_torch.so on first use (see modules/module_loader.h for where it is
// looked for). Throws std::runtime_error when it is missing, e.g. a build without LibTorch.
const TorchModule& torch_module();

}  // namespace coughkit::training

// Exported by the module: the address of its TorchModule (a ModuleEntry, module_loader.h).
extern "C" const void* coughkit_torch_module();
