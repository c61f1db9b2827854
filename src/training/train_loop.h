#pragma once
// The pieces of `coughkit train` (trainer.h) that work on tensors, exposed so tests can run
// them on a given batch: batch assembly, one optimisation step of the reference recipe
// (docs/pipeline.md section 8), evaluation, and the learning-rate schedule.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <torch/torch.h>

#include "training/attnmil_torch.h"
#include "training/augment.h"
#include "training/bag_dataset.h"

namespace coughkit::training {

struct Batch {
  torch::Tensor inputs;  // (B, S, 3, 224, 224) float32 model input, S = the batch's largest bag
  torch::Tensor mask;    // (B, S) bool, true for a bag's own segments
  torch::Tensor labels;  // (B) float32 0/1
};

// Stacks bags into a batch as the reference's collate did: each bag's [-1, 1] images are
// widened from half, augmented (when `augment` and `rng` are given; augment.h), normalised
// with images_to_input, and shorter bags are padded with all-zero model-input images
// (masked out of the attention; the backbone and its BatchNorm statistics see them only
// when the model does not skip padding, AttnMILResNetImpl::set_skip_padding).
Batch make_batch(std::span<const Bag* const> bags, const AugmentOptions* augment = nullptr,
                 std::mt19937_64* rng = nullptr);

// BCEWithLogits on the bag logits with pos_weight (a tensor of one value), mean over bags:
// torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([pos_weight])).
torch::Tensor bag_loss(const torch::Tensor& bag_logit, const torch::Tensor& labels, double pos_weight);

// One step: model.train(), zero_grad, forward, bag_loss, backward, optimizer.step().
// Returns the loss of the batch (before the step).
double train_step(AttnMILResNet& model, torch::optim::Optimizer& optimizer, const Batch& batch, double pos_weight);

// AdamW over all parameters in model order (weight decay on all, as the reference's
// torch.optim.AdamW(model.parameters(), lr, weight_decay)), betas (0.9, 0.999), eps 1e-8.
std::unique_ptr<torch::optim::AdamW> make_optimizer(AttnMILResNet& model, double lr, double weight_decay);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// The learning rate of epoch `epoch` (0-based) under
// torch.optim.lr_scheduler.CosineAnnealingLR(T_max=epochs, eta_min=min_lr) stepped once
// after each epoch: min_lr + (lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2 (the
// scheduler's closed form; its recursive update equals it up to rounding).
double cosine_lr(int epoch, int epochs, double lr, double min_lr);

struct Evaluation {
  double loss = 0, accuracy = 0, roc_auc = 0, average_precision = 0;
  std::size_t n_bags = 0, n_positive = 0;
  std::vector<float> probabilities, labels;  // per bag, in the split's order
};

// Eval mode, no gradients, batches of `batch_size` bags (bags of similar length are put
// together; padding changes nothing in eval mode). Loss as bag_loss (mean over bags),
// accuracy at 0.5, ROC-AUC and AP (metrics.h; NaN when undefined).
// `progress(done, total)` after each batch.
Evaluation evaluate(AttnMILResNet& model, const std::vector<Bag>& bags, int batch_size, double pos_weight,
                    const std::function<void(std::size_t, std::size_t)>& progress = {});

}  // namespace coughkit::training
