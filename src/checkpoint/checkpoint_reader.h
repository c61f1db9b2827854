#pragma once
// Reads a PyTorch checkpoint written by torch.save — the zip format (PyTorch >= 1.6) or the
// legacy pickle stream (`_use_new_zipfile_serialization=False`) — without Python and
// without running anything in it (unpickler.h, torch_globals.h).
//
//   auto ckpt = coughkit::checkpoint::read_checkpoint("best_model.pth");
//   const auto& w = ckpt.state.at("seg_head.weight", {1, 512});
//
// Accepted contents (docs/pipeline.md section 6): a dict with `model_state_dict` (or
// `state_dict`) and optional `epoch`, `val_auc`, `val_ap`, `config`,
// `optimizer_state_dict`; or a bare state dict. Tensors of the optimizer state are never
// read. Thread safety: a free function on its own data.
#include <cstdint>
#include <optional>
#include <string>

#include "checkpoint/state_dict.h"

namespace coughkit::checkpoint {

struct Checkpoint {
  std::string path;
  std::string format;  // "zip" or "legacy"
  std::uint64_t file_size = 0;
  std::string sha256;  // of the file, hex
  StateDict state;     // float tensors of the model state dict (num_batches_tracked etc. dropped)
  bool bare_state_dict = false;
  bool has_optimizer_state = false;
  std::optional<std::int64_t> epoch;
  std::optional<double> val_auc, val_ap;
  // The `config` dict's plain values (numbers, strings, bools, None, and lists and dicts of
  // them; anything else as "<type>") as the text of a JSON object: "{}" when there is none.
  std::string config_json = "{}";

  bool has_config() const;  // the config has at least one key
  // config[key] when it is a number (a bool is not) / a string; nullopt when absent or of another type.
  std::optional<double> config_number(const std::string& key) const;
  std::optional<std::string> config_string(const std::string& key) const;
};

// Throws InputError naming the file and what is wrong: not a checkpoint, truncated or
// corrupt archive, a refused global (e.g. `posix.system`), no model state dict, a tensor
// whose data does not match its header.
Checkpoint read_checkpoint(const std::string& path);

// True for file names torch.save checkpoints usually have (.pth, .pt, .ckpt, .bin is not).
bool is_checkpoint_path(const std::string& path);

}  // namespace coughkit::checkpoint
