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
  // (B, S) float32 0/1 segment labels, and (B, S) bool: true where a bag's own segment has
  // one (bags without segment labels are all false).
  torch::Tensor segment_labels, segment_labelled;
};

// What a step's loss is made of (docs/pipeline.md section 8). The defaults are the
// reference recipe: the bag term alone.
struct LossOptions {
  double pos_weight = 1;          // bag term: negatives / positives of the training bags
  double segment_weight = 0;      // weight of the segment term; 0 = off
  double segment_pos_weight = 1;  // segment term: negative / positive labelled training segments
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

// BCEWithLogits with pos_weight on the segment logits of the labelled segments only, mean
// over them: torch.nn.BCEWithLogitsLoss(pos_weight=...)(segment_logits[labelled],
// segment_labels[labelled]). An undefined tensor when the batch has no labelled segment.
torch::Tensor segment_loss(const torch::Tensor& segment_logits, const Batch& batch, double pos_weight);

// One step: model.train(), zero_grad, forward, the loss, backward, optimizer.step(). The
// loss is bag_loss + segment_weight * segment_loss (the segment term only when its weight
// is > 0 and the batch has labelled segments). Returns the loss of the batch (before the step).
double train_step(AttnMILResNet& model, torch::optim::Optimizer& optimizer, const Batch& batch,
                  const LossOptions& loss);

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
  // The segment head: ROC-AUC and AP over the labelled segments (NaN without any), and the
  // share of the segments of negative bags whose probability is <= 0.1 (noise and speech
  // should not look like coughs; NaN without negative bags).
  double segment_roc_auc = 0, segment_average_precision = 0, negative_segments_low_share = 0;
  std::size_t n_labelled_segments = 0, n_negative_bag_segments = 0;
};

// Eval mode, no gradients, batches of `batch_size` bags (bags of similar length are put
// together; padding changes nothing in eval mode). Loss as bag_loss (mean over bags),
// accuracy at 0.5, ROC-AUC and AP (metrics.h; NaN when undefined), and the segment figures.
// `progress(done, total)` after each batch.
Evaluation evaluate(AttnMILResNet& model, const std::vector<Bag>& bags, int batch_size, double pos_weight,
                    const std::function<void(std::size_t, std::size_t)>& progress = {});

}  // namespace coughkit::training
