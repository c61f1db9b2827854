#pragma once
// AttnMILResNet (docs/pipeline.md section 6) as a LibTorch module: the model `coughkit train`
// trains and `--backend torch` runs. Parameter and buffer names are exactly the keys of the
// reference's PyTorch state dict (backbone.conv1.weight, backbone.layer1.0.bn1.running_mean,
// backbone.layer2.0.downsample.0.weight, attn.0.weight, bag_head.2.num_batches_tracked,
// seg_head.bias, ...), so checkpoints move between Python, this module and the engine.
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "checkpoint/state_dict.h"

namespace coughkit::training {

struct AttnMILOutputs {
  torch::Tensor bag_probability;        // (B)
  torch::Tensor segment_probabilities;  // (B, S)
  torch::Tensor segment_logits;         // (B, S)
  torch::Tensor bag_logit;              // (B)
};

class AttnMILResNetImpl : public torch::nn::Module {
 public:
  // Weights initialised as torchvision's resnet18(weights=None) and torch.nn's defaults
  // (kaiming-normal fan_out convolutions, BN 1/0, Linear's kaiming-uniform), from the
  // current torch::manual_seed.
  explicit AttnMILResNetImpl(double dropout = 0.3, int attn_hidden = 128);
  // spectrograms (B, S, 3, 224, 224) float32 normalised model input; segment_mask (B, S)
  // bool. Same operation order as tools/reference/attnmil.py (segments folded into the
  // batch for the backbone, masked scores -> float32 lowest before the softmax).
  AttnMILOutputs forward(const torch::Tensor& spectrograms, const torch::Tensor& segment_mask);
  torch::Tensor backbone_features(const torch::Tensor& images);  // (N, 3, 224, 224) -> (N, 512)

  // The reference runs every slot of a padded batch through the backbone, zero images
  // included. With skip_padding only the bags' own segments do: the outputs of real
  // segments and bags are unchanged in eval mode, and in training mode the BatchNorm
  // statistics no longer count the padding. A batch of 1-17-segment bags costs about a
  // third of the reference's compute. Off by default (reference behaviour).
  void set_skip_padding(bool skip) { skip_padding_ = skip; }
  bool skip_padding() const { return skip_padding_; }

 private:
  struct Parts;
  std::shared_ptr<Parts> parts_;
  bool skip_padding_ = false;
};
TORCH_MODULE(AttnMILResNet);

// The model's state dict in PyTorch's order (parameters and buffers, incl. the int64
// num_batches_tracked), as torch.nn.Module.state_dict() lists it.
std::vector<std::pair<std::string, torch::Tensor>> state_dict(AttnMILResNet& model);

// Copies a checkpoint's weights into the model (strict: every float key present with the
// right shape; num_batches_tracked may be absent). Throws InputError naming the key.
void load_state_dict(AttnMILResNet& model, const checkpoint::StateDict& state);

// (S, 224, 224) images in [-1, 1] (float32) -> (S, 3, 224, 224) normalised model input
// (docs/pipeline.md section 5, the reference's operation order).
torch::Tensor images_to_input(const torch::Tensor& images);

}  // namespace coughkit::training
