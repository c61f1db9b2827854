// `coughkit train`: parses the flags into TrainOptions and hands them to the LibTorch
// module (modules/torch_module.h), which is opened only now. No LibTorch here.
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "common/error.h"
#include "modules/torch_module.h"

namespace coughkit::cli {
namespace {

int run_train(const training::TrainOptions& options) {
  options.Validate();  // before loading LibTorch: a bad flag should not cost its start-up
  return training::torch_module().train(options);
}

}  // namespace

CommandRunner register_train(CLI::App& app) {
  auto options = std::make_shared<training::TrainOptions>();
  auto* cmd = app.add_subcommand(
      "train", "Train an AttnMILResNet cough model on labelled clips (LibTorch, the reference recipe)");
  cmd->footer(
      "CSVs: `file_path,cough_label` with a header (extra columns ignored); paths relative to --base-dir, or to each\n"
      "CSV's own directory. An optional `segment_labels` column (one 0/1 per 2-s segment, e.g. 00110; written by\n"
      "`coughkit dataset build`) is what --segment-loss-weight learns from; a row whose count of labels differs\n"
      "from its clip's segments is skipped and listed. Features of every split are computed first into the cache (as "
      "`coughkit precompute`);\n"
      "clips that cannot be decoded are skipped and listed (log and metrics.json), never replaced by zeros. An empty\n"
      "training or validation set, or a training set with one class only, exits 3.\n"
      "\n"
      "Recipe (docs/pipeline.md section 8): bags of 2-s segments, batches of --batch-size bags shuffled each epoch\n"
      "(padded with zero images and masked), BCEWithLogits on the bag logit with pos_weight = negatives/positives of\n"
      "the training set, AdamW(--lr, --weight-decay), cosine annealing of the lr per epoch from --lr to --min-lr over\n"
      "--epochs, augmentation of training bags (each of Gaussian noise, gain, a 12-row frequency mask and a 16-column\n"
      "time mask with probability --augment-prob), validation every epoch (loss, accuracy at 0.5, ROC-AUC, AP), best\n"
      "model by validation ROC-AUC, early stopping after --patience epochs without improvement. The decision "
      "threshold\n"
      "stored with the model is the one that maximises F1 on validation (0.61 when undefined). --seed makes runs\n"
      "repeatable for the same --threads.\n"
      "\n"
      "Weights: torchvision's ImageNet weights cannot be downloaded here, so training starts from a random\n"
      "initialisation (as resnet18(weights=None)) or from --init CKPT (any AttnMILResNet .pth checkpoint).\n"
      "\n"
      "Outputs in --out: best_model.pth (torch.save-compatible: epoch, val_auc, val_ap, config with threshold and\n"
      "highpass_hz; usable by `coughkit detect --model`, `export` and Python), metrics.json (per split: loss, "
      "accuracy,\n"
      "roc_auc, average_precision, n_bags, n_positive; threshold, best_epoch, ...), history.csv, steps.csv,\n"
      "training_curves.svg, roc_<split>.svg, pr_<split>.svg; and for resuming last_checkpoint.pth,\n"
      "last_optimizer.pt, train_state.json.\n"
      "\n"
      "Resuming: rerunning with the same --out continues after the last finished epoch (the log says so), with the\n"
      "same shuffling and augmentation as an uninterrupted run; --epochs may be raised. --no-resume starts over.\n"
      "\n"
      "Example: coughkit train --train-csv data/train.csv --val-csv data/val.csv --test-csv data/test.csv --out "
      "runs/a");
  cmd->add_option("--train-csv", options->train_csv, "Training clips (file_path,cough_label)")->required();
  cmd->add_option("--val-csv", options->val_csv, "Validation clips: model selection, early stopping, threshold")
      ->required();
  cmd->add_option("--test-csv", options->test_csv, "Test clips, evaluated once with the best model (optional)");
  cmd->add_option("--out", options->out_dir, "Output directory (created if missing)")->required();
  cmd->add_option("--base-dir", options->base_dir,
                  "Directory the CSVs' relative paths are under (default: each CSV's directory)");
  cmd->add_option("--cache", options->cache_dir, "Feature cache directory (default: OUT/cache)");
  cmd->add_option("--epochs", options->epochs, "Epoch budget (also the cosine schedule's length)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--batch-size", options->batch_size, "Bags per step")
      ->check(CLI::Range(2, 4096))
      ->capture_default_str();
  cmd->add_option("--lr", options->lr, "AdamW learning rate at the first epoch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--weight-decay", options->weight_decay, "AdamW weight decay")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--min-lr", options->min_lr, "Learning rate the cosine schedule ends at")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--patience", options->patience, "Early stopping: epochs without a better validation AUC (0 = off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--augment-prob", options->augment_probability,
                  "Probability of each augmentation per training bag (0 = off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--dropout", options->dropout, "Dropout in the bag head")
      ->check(CLI::Range(0.0f, 0.99f))
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Random seed (initial weights, shuffling, augmentation, dropout)")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--init", options->init, "Start from this checkpoint's weights instead of a random initialisation")
      ->check(CLI::ExistingFile);
  cmd->add_flag("!--no-resume", options->resume, "Start over even if --out holds an unfinished run");
  cmd->add_option("--highpass-hz", options->highpass_hz,
                  "High-pass cutoff of the preprocessing the model is trained for (0 = off)")
      ->check(CLI::Range(0.0f, 7999.0f))
      ->capture_default_str();
  cmd->add_flag("--reference-padding", options->reference_padding,
                "Run the zero images that pad short bags through the backbone, as the reference did (its BatchNorm\n"
                "then counts them; ~3x the compute). Default: only real segments are computed");
  cmd->add_option("--segment-loss-weight", options->segment_loss_weight,
                  "Add this weight x a segment-level BCE (segment logits of the labelled segments vs the CSV's\n"
                  "segment_labels, pos_weight = negative/positive training segments) to the bag loss, so that\n"
                  "segment_probabilities mean \"this 2-s segment holds a cough\". 0 = the reference recipe")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--max-steps-per-epoch", options->max_steps_per_epoch,
                  "Stop each epoch after this many steps (0 = all; for quick runs)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return [options] { return run_train(*options); };
}

}  // namespace coughkit::cli
