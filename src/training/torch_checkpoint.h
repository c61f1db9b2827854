#pragma once
// Checkpoints as the reference writes them (docs/pipeline.md section 6): a torch.save-compatible
// zip archive of a dict {model_state_dict, epoch, val_auc, val_ap, config} that Python's
// torch.load + load_state_dict and coughkit's checkpoint reader both accept.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_reader.h"
#include "training/attnmil_torch.h"

namespace coughkit::training {

struct CheckpointInfo {
  std::int64_t epoch = 0;
  double val_auc = 0.0, val_ap = 0.0;
  // Plain values only (numbers, strings, bools, null, lists/dicts of them): training
  // options, "threshold", "highpass_hz", dataset description.
  nlohmann::json config = nlohmann::json::object();
};

// Writes atomically (temporary file + rename). Throws std::runtime_error on I/O errors.
// The pickle carries no TorchScript type tags, so Python reads it with torch.load, also
// with weights_only=True.
void save_checkpoint(const std::string& path, AttnMILResNet& model, const CheckpointInfo& info);

// A model with the weights of a checkpoint file (read by coughkit's safe reader), in eval
// mode. Throws InputError for an unusable file.
AttnMILResNet load_checkpoint_model(const std::string& path, double dropout = 0.3);
// The same for a checkpoint already read (attn_hidden taken from attn.0.weight's shape).
AttnMILResNet model_from_checkpoint(const checkpoint::Checkpoint& ckpt, double dropout = 0.3);

}  // namespace coughkit::training
