// `coughkit train`: the reference recipe (docs/pipeline.md section 8) in LibTorch. See trainer.h
// for the whole run and train_loop.h for the pieces that work on tensors.
#include "training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <numeric>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/float_text.h"
#include "common/progress_bar.h"
#include "common/version.h"
#include "features/feature_cache.h"
#include "features/model_input_contract.h"
#include "io/atomic_file.h"
#include "training/allocator_tuning.h"
#include "training/metrics.h"
#include "training/plots.h"
#include "training/torch_checkpoint.h"
#include "training/train_loop.h"

namespace coughkit::training {

// ---------------------------------------------------------------------------------------
// Tensors: batches, the step, evaluation.

namespace {
constexpr std::int64_t kImageSize = 224;
constexpr std::size_t kPlane = static_cast<std::size_t>(kImageSize * kImageSize);
}  // namespace

Batch make_batch(std::span<const Bag* const> bags, const AugmentOptions* augment, std::mt19937_64* rng) {
  if (bags.empty()) throw std::invalid_argument("make_batch: no bags");
  std::size_t max_segments = 0;
  for (const Bag* bag : bags) {
    if (bag->segments == 0 || bag->half.size() != bag->segments * kPlane) {
      throw std::invalid_argument(
          fmt::format("make_batch: bag {} does not hold {} images of 224x224", bag->file_path, bag->segments));
    }
    max_segments = std::max(max_segments, bag->segments);
  }
  const auto b = static_cast<std::int64_t>(bags.size()), s = static_cast<std::int64_t>(max_segments);
  Batch batch{torch::zeros({b, s, 3, kImageSize, kImageSize}, torch::kFloat32), torch::zeros({b, s}, torch::kBool),
              torch::empty({b}, torch::kFloat32), torch::zeros({b, s}, torch::kFloat32),
              torch::zeros({b, s}, torch::kBool)};
  std::vector<float> images;
  auto labels = batch.labels.accessor<float, 1>();
  auto segment_labels = batch.segment_labels.accessor<float, 2>();
  auto segment_labelled = batch.segment_labelled.accessor<bool, 2>();
  for (std::int64_t i = 0; i < b; ++i) {
    const Bag& bag = *bags[static_cast<std::size_t>(i)];
    const auto n = static_cast<std::int64_t>(bag.segments);
    images.resize(bag.segments * kPlane);
    bag.to_float(images.data());
    if (augment && rng) augment_bag(images, static_cast<int>(n), kImageSize, kImageSize, *augment, *rng);
    const auto view = torch::from_blob(images.data(), {n, kImageSize, kImageSize}, torch::kFloat32);
    batch.inputs[i].narrow(0, 0, n).copy_(images_to_input(view));
    batch.mask[i].narrow(0, 0, n).fill_(true);
    labels[i] = bag.label;
    if (bag.has_segment_labels()) {
      if (bag.segment_labels.size() != bag.segments)
        throw std::invalid_argument(fmt::format("make_batch: bag {} has {} segment labels for {} segments",
                                                bag.file_path, bag.segment_labels.size(), bag.segments));
      for (std::int64_t j = 0; j < n; ++j) {
        segment_labels[i][j] = bag.segment_labels[static_cast<std::size_t>(j)];
        segment_labelled[i][j] = true;
      }
    }
  }
  return batch;
}

torch::Tensor bag_loss(const torch::Tensor& bag_logit, const torch::Tensor& labels, double pos_weight) {
  const auto weight = torch::full({1}, pos_weight, torch::kFloat32);
  return torch::binary_cross_entropy_with_logits(bag_logit, labels, {}, weight, at::Reduction::Mean);
}

torch::Tensor segment_loss(const torch::Tensor& segment_logits, const Batch& batch, double pos_weight) {
  if (!batch.segment_labelled.defined() || !batch.segment_labelled.any().item<bool>()) return {};
  const auto weight = torch::full({1}, pos_weight, torch::kFloat32);
  return torch::binary_cross_entropy_with_logits(segment_logits.masked_select(batch.segment_labelled),
                                                 batch.segment_labels.masked_select(batch.segment_labelled), {}, weight,
                                                 at::Reduction::Mean);
}

double train_step(AttnMILResNet& model, torch::optim::Optimizer& optimizer, const Batch& batch,
                  const LossOptions& options) {
  model->train();
  optimizer.zero_grad();
  const AttnMILOutputs out = model->forward(batch.inputs, batch.mask);
  torch::Tensor loss = bag_loss(out.bag_logit, batch.labels, options.pos_weight);
  if (options.segment_weight > 0) {
    if (const torch::Tensor term = segment_loss(out.segment_logits, batch, options.segment_pos_weight); term.defined())
      loss = loss + options.segment_weight * term;
  }
  loss.backward();
  optimizer.step();
  return loss.item<double>();
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(AttnMILResNet& model, double lr, double weight_decay) {
  // torch.optim.AdamW's defaults for betas and eps; LibTorch's default weight decay (1e-2)
  // differs from PyTorch's, so it is always set.
  return std::make_unique<torch::optim::AdamW>(
      model->parameters(), torch::optim::AdamWOptions(lr).betas({0.9, 0.999}).eps(1e-8).weight_decay(weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

double cosine_lr(int epoch, int epochs, double lr, double min_lr) {
  if (epochs <= 0) return lr;
  return min_lr + (lr - min_lr) * (1.0 + std::cos(std::numbers::pi * epoch / epochs)) / 2.0;
}

Evaluation evaluate(AttnMILResNet& model, const std::vector<Bag>& bags, int batch_size, double pos_weight,
                    const std::function<void(std::size_t, std::size_t)>& progress) {
  Evaluation ev;
  ev.n_bags = bags.size();
  ev.probabilities.assign(bags.size(), 0.0f);
  ev.labels.resize(bags.size());
  for (std::size_t i = 0; i < bags.size(); ++i) {
    ev.labels[i] = bags[i].label;
    ev.n_positive += bags[i].label != 0.0f;
  }
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  ev.segment_roc_auc = ev.segment_average_precision = ev.negative_segments_low_share = kNaN;
  if (bags.empty()) {
    ev.loss = ev.accuracy = ev.roc_auc = ev.average_precision = kNaN;
    return ev;
  }
  // Similar lengths together: less padding to compute, same results (eval mode).
  std::vector<std::size_t> order(bags.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return bags[a].segments < bags[b].segments; });

  model->eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  std::vector<float> segment_probabilities, segment_labels;
  std::size_t low_negative_segments = 0;
  const auto weight = torch::full({1}, pos_weight, torch::kFloat32);
  const std::size_t step = static_cast<std::size_t>(std::max(1, batch_size));
  for (std::size_t start = 0; start < order.size(); start += step) {
    std::vector<const Bag*> chunk;
    for (std::size_t j = start; j < std::min(order.size(), start + step); ++j) chunk.push_back(&bags[order[j]]);
    const Batch batch = make_batch(chunk);
    const AttnMILOutputs out = model->forward(batch.inputs, batch.mask);
    loss_sum += torch::binary_cross_entropy_with_logits(out.bag_logit, batch.labels, {}, weight, at::Reduction::Sum)
                    .item<double>();
    const auto probs = out.bag_probability.contiguous();
    const float* p = probs.data_ptr<float>();
    for (std::size_t j = 0; j < chunk.size(); ++j) ev.probabilities[order[start + j]] = p[j];
    const auto segment_probs = out.segment_probabilities.contiguous();
    const auto sp = segment_probs.accessor<float, 2>();
    for (std::size_t j = 0; j < chunk.size(); ++j) {
      const Bag& bag = *chunk[j];
      for (std::size_t k = 0; k < bag.segments; ++k) {
        const float prob = sp[static_cast<std::int64_t>(j)][static_cast<std::int64_t>(k)];
        if (bag.has_segment_labels()) {
          segment_probabilities.push_back(prob);
          segment_labels.push_back(bag.segment_labels[k]);
        }
        if (bag.label == 0.0f) {
          ++ev.n_negative_bag_segments;
          low_negative_segments += prob <= 0.1f;
        }
      }
    }
    if (progress) progress(std::min(order.size(), start + step), order.size());
  }
  ev.loss = loss_sum / static_cast<double>(bags.size());
  ev.accuracy = accuracy(ev.probabilities, ev.labels, 0.5);
  ev.roc_auc = roc_auc(ev.probabilities, ev.labels);
  ev.average_precision = average_precision(ev.probabilities, ev.labels);
  ev.n_labelled_segments = segment_labels.size();
  if (!segment_labels.empty()) {
    ev.segment_roc_auc = roc_auc(segment_probabilities, segment_labels);
    ev.segment_average_precision = average_precision(segment_probabilities, segment_labels);
  }
  if (ev.n_negative_bag_segments > 0) {
    ev.negative_segments_low_share =
        static_cast<double>(low_negative_segments) / static_cast<double>(ev.n_negative_bag_segments);
  }
  return ev;
}

// ---------------------------------------------------------------------------------------
// The whole run.

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

const double kDefaultThreshold = shortest(features::kReferenceThreshold);  // docs/pipeline.md section 7
constexpr int kStateFormat = 1;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string libtorch_version_string() { return TORCH_VERSION; }

// The run's progress bars (common/progress_bar.h): counts of clips or batches, drawn when
// --progress is on (the default), stderr is a terminal and there is something to count.
// Batches evaluate() runs on `bags` bags.
std::size_t eval_batches(std::size_t bags, int batch_size) {
  return (bags + static_cast<std::size_t>(batch_size) - 1) / static_cast<std::size_t>(batch_size);
}

std::unique_ptr<ProgressBar> make_bar(const std::string& label, std::size_t total, bool wanted) {
  return std::make_unique<ProgressBar>(label, static_cast<double>(total), ProgressUnits::kItems, wanted && total > 0);
}

// JSON has no NaN: undefined metrics become null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// A double that may be undefined: NaN (an AUC on one class) or, for the best score before
// any epoch, -infinity. JSON has neither, so it is written as null, and null reads back as
// `kUndefined`. Converts to and from double, so it is used as one.
template <bool kNegativeInfinity>
struct MaybeNumber {
  static constexpr double kUndefined =
      kNegativeInfinity ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  double value = kUndefined;
  MaybeNumber(double v = kUndefined) : value(v) {}  // NOLINT(google-explicit-constructor)
  operator double() const { return value; }         // NOLINT(google-explicit-constructor)
};
using Metric = MaybeNumber<false>;    // undefined = NaN
using BestScore = MaybeNumber<true>;  // undefined = -infinity

template <bool kNegativeInfinity>
void to_json(json& j, const MaybeNumber<kNegativeInfinity>& n) {
  j = number(n.value);
}
template <bool kNegativeInfinity>
void from_json(const json& j, MaybeNumber<kNegativeInfinity>& n) {
  n.value = j.is_number() ? j.get<double>() : MaybeNumber<kNegativeInfinity>::kUndefined;
}

// The members are named as train_state.json's fields (the macros below map them by name).
struct EpochRecord {
  int epoch = 0;
  double lr = 0;
  Metric train_loss = 0, val_loss = 0, val_accuracy = 0, val_roc_auc = 0, val_average_precision = 0;
  double seconds = 0;
  bool best = false;
  std::vector<double> step_losses;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EpochRecord, epoch, lr, train_loss, val_loss, val_accuracy, val_roc_auc,
                                   val_average_precision, seconds, best, step_losses)

// What train_state.json holds: enough to continue after the last finished epoch.
struct TrainState {
  int epoch = 0;  // last finished epoch (1-based), 0 = none
  bool has_best = false;
  int best_epoch = 0;
  BestScore best_score;
  Metric best_val_auc, best_val_ap;
  double threshold = kDefaultThreshold;
  bool threshold_from_validation = false;  // else kDefaultThreshold (F1 undefined on validation)
  int epochs_without_improvement = 0;
  bool stopped_early = false;
  double training_seconds = 0;
  std::uint64_t seed = 0;
  std::vector<EpochRecord> history;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TrainState, epoch, has_best, best_epoch, best_score, best_val_auc, best_val_ap,
                                   threshold, threshold_from_validation, epochs_without_improvement, stopped_early,
                                   training_seconds, seed, history)

// train_state.json: the state, its format and a note on the random generators.
json state_json(const TrainState& s) {
  json j = s;
  j["format"] = kStateFormat;
  j["rng"] =
      "each epoch reseeds torch::manual_seed and the std::mt19937_64 of shuffling and augmentation with "
      "epoch_seed(seed, epoch), so nothing else needs saving";
  return j;
}

TrainState state_from_json(const json& j) {
  if (j.value("format", 0) != kStateFormat) throw std::runtime_error("unknown format");
  return j.get<TrainState>();
}

std::string file_name(const std::string& path) { return path.empty() ? "" : fs::path(path).filename().string(); }

// A float option as the decimal the user typed (0.3, not 0.30000001192092896).
double plain(float v) { return std::stod(fmt::format("{}", v)); }

json options_json(const TrainOptions& o) {
  return {{"train_csv", o.train_csv},
          {"val_csv", o.val_csv},
          {"test_csv", o.test_csv},
          {"base_dir", o.base_dir},
          {"cache_dir", o.cache_dir},
          {"out_dir", o.out_dir},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"min_lr", o.min_lr},
          {"patience", o.patience},
          {"augment_probability", o.augment_probability},
          {"dropout", plain(o.dropout)},
          {"reference_padding", o.reference_padding},
          {"seed", o.seed},
          {"threads", o.threads},
          {"init", o.init},
          {"resume", o.resume},
          {"highpass_hz", plain(o.highpass_hz)},
          {"max_steps_per_epoch", o.max_steps_per_epoch},
          {"segment_loss_weight", o.segment_loss_weight}};
}

// The `config` of the checkpoints: the recipe, the preprocessing the model expects, its
// decision threshold and the datasets (file names only, no directories).
json checkpoint_config(const TrainOptions& o, const TrainState& s, const LossOptions& loss, std::size_t n_train,
                       std::size_t n_val) {
  return {{"model", "AttnMILResNet"},
          {"backbone", "resnet18"},
          {"attn_hidden", 128},
          {"dropout", plain(o.dropout)},
          {"reference_padding", o.reference_padding},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"min_lr", o.min_lr},
          {"optimizer", "AdamW"},
          {"scheduler", "CosineAnnealingLR"},
          {"patience", o.patience},
          {"augment_probability", o.augment_probability},
          {"seed", o.seed},
          {"max_steps_per_epoch", o.max_steps_per_epoch},
          {"init", file_name(o.init)},
          {"pos_weight", loss.pos_weight},
          {"segment_loss_weight", loss.segment_weight},
          {"segment_pos_weight", loss.segment_pos_weight},
          {"highpass_hz", plain(o.highpass_hz)},
          {"threshold", s.threshold},
          {"threshold_source",
           s.threshold_from_validation ? "max F1 on validation" : "default (F1 undefined on validation)"},
          {"train_csv", file_name(o.train_csv)},
          {"val_csv", file_name(o.val_csv)},
          {"test_csv", file_name(o.test_csv)},
          {"n_train_bags", n_train},
          {"n_val_bags", n_val},
          {"trained_with", fmt::format("{}, libtorch {}", version_string(), libtorch_version_string())}};
}

std::string history_csv(const std::vector<EpochRecord>& history) {
  std::string s = "epoch,lr,train_loss,val_loss,val_accuracy,val_roc_auc,val_average_precision,seconds,best\n";
  for (const auto& r : history) {
    s += fmt::format("{},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.9g},{:.3f},{}\n", r.epoch, r.lr, r.train_loss.value,
                     r.val_loss.value, r.val_accuracy.value, r.val_roc_auc.value, r.val_average_precision.value,
                     r.seconds, r.best ? 1 : 0);
  }
  return s;
}

std::string steps_csv(const std::vector<EpochRecord>& history) {
  std::string s = "epoch,step,lr,loss\n";
  for (const auto& r : history) {
    for (std::size_t i = 0; i < r.step_losses.size(); ++i)
      s += fmt::format("{},{},{:.9g},{:.9g}\n", r.epoch, i + 1, r.lr, r.step_losses[i]);
  }
  return s;
}

void write_curves(const std::string& dir, const std::vector<EpochRecord>& history) {
  std::vector<double> epochs, train, val, auc;
  for (const auto& r : history) {
    epochs.push_back(r.epoch);
    train.push_back(r.train_loss);
    val.push_back(r.val_loss);
    auc.push_back(r.val_roc_auc);
  }
  io::write_file_atomically(fs::path(dir) / "training_curves.svg", training_curves_svg(epochs, train, val, auc));
  io::write_file_atomically(fs::path(dir) / "history.csv", history_csv(history));
  io::write_file_atomically(fs::path(dir) / "steps.csv", steps_csv(history));
}

void save_optimizer(const torch::optim::Optimizer& optimizer, const fs::path& path) {
  io::replace_file_atomically(path, [&](const fs::path& tmp) { torch::save(optimizer, tmp.string()); });
}

json evaluation_json(const Evaluation& ev, double threshold) {
  return {{"loss", number(ev.loss)},
          {"accuracy", number(ev.accuracy)},
          {"roc_auc", number(ev.roc_auc)},
          {"average_precision", number(ev.average_precision)},
          {"accuracy_at_threshold", number(accuracy(ev.probabilities, ev.labels, threshold))},
          {"n_bags", ev.n_bags},
          {"n_positive", ev.n_positive},
          {"segment_roc_auc", number(ev.segment_roc_auc)},
          {"segment_average_precision", number(ev.segment_average_precision)},
          {"n_labelled_segments", ev.n_labelled_segments},
          {"negative_segments_at_most_0_1", number(ev.negative_segments_low_share)},
          {"n_negative_bag_segments", ev.n_negative_bag_segments}};
}

std::string fmt_metric(double v, int decimals) {
  return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "n/a";
}

// One `coughkit train` run, step by step: the bags, the model (resumed, initialised or
// random), the epochs, then the best model on every split.
class TrainingRun {
 public:
  explicit TrainingRun(const TrainOptions& options);
  int run();

 private:
  void load_data();
  void check_data();
  void start_model();
  void start_optimizer();
  void run_epoch(int epoch);
  double train_epoch(int epoch, std::mt19937_64& rng, EpochRecord& record);  // returns training segments/s
  Evaluation validate(int epoch);
  void select_model(int epoch, const Evaluation& ev, EpochRecord& record);
  void save_epoch(int epoch, const Evaluation& ev);
  void log_epoch(const EpochRecord& record, const Evaluation& ev, double segments_per_s) const;
  json evaluate_best_on(AttnMILResNet& best, const BagSplit& split);
  void write_metrics(json metrics) const;
  json config() const {  // of the checkpoints
    return checkpoint_config(options_, state_, loss_, train().bags.size(), val().bags.size());
  }
  const BagSplit& train() const { return data_.splits[0]; }
  const BagSplit& val() const { return data_.splits[1]; }

  const TrainOptions& options_;
  const fs::path out_dir_, best_path_, last_path_, optimizer_path_, state_path_;
  int threads_ = 1;
  LoadedSplits data_;
  LossOptions loss_;  // pos_weight and the segment term, from the training bags (check_data)
  bool val_auc_defined_ = true;
  TrainState state_;
  AttnMILResNet model_{nullptr};
  bool resumed_ = false;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  AugmentOptions augment_;
};

TrainingRun::TrainingRun(const TrainOptions& options)
    : options_(options),
      out_dir_(options.out_dir),
      best_path_(out_dir_ / "best_model.pth"),
      last_path_(out_dir_ / "last_checkpoint.pth"),
      optimizer_path_(out_dir_ / "last_optimizer.pt"),
      state_path_(out_dir_ / "train_state.json") {
  fs::create_directories(out_dir_);
  threads_ =
      options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (!keep_large_allocations_in_heap()) spdlog::debug("allocator settings for training not applied");
  torch::set_num_threads(threads_);
  augment_.probability = options.augment_probability;
}

int TrainingRun::run() {
  load_data();
  check_data();
  start_model();
  start_optimizer();
  for (int epoch = state_.epoch + 1; epoch <= options_.epochs && !state_.stopped_early; ++epoch) run_epoch(epoch);
  if (!state_.has_best || !fs::exists(best_path_))
    throw std::runtime_error(fmt::format("{} was not written", best_path_.string()));

  // The best model on every split: metrics.json, history.csv, plots.
  AttnMILResNet best = load_checkpoint_model(best_path_.string(), options_.dropout);
  json metrics;
  for (const BagSplit& split : data_.splits) metrics[split.name] = evaluate_best_on(best, split);
  write_metrics(std::move(metrics));
  return 0;
}

// Features: precompute what the cache lacks, then hold every bag in memory.
void TrainingRun::load_data() {
  features::PreprocessConfig preprocess;
  preprocess.condition.highpass_hz = options_.highpass_hz;
  const std::string cache_dir = options_.cache_dir.empty() ? (out_dir_ / "cache").string() : options_.cache_dir;
  const features::FeatureCache cache(cache_dir, preprocess);
  const features::FeaturePipeline pipeline(preprocess);
  std::vector<BagSplitSource> sources{{"train", options_.train_csv}, {"val", options_.val_csv}};
  if (!options_.test_csv.empty()) sources.push_back({"test", options_.test_csv});
  {
    std::unique_ptr<ProgressBar> bar;
    data_ = load_splits(sources, options_.base_dir, cache, pipeline, options_.threads,
                        [&](std::size_t done, std::size_t total, const std::string& item) {
                          if (!bar) bar = make_bar("features", total, options_.progress);
                          bar->set(static_cast<double>(done), item);  // a long path keeps its end
                        });
  }
  const auto& report = data_.precompute;
  spdlog::info("features: {} clips in {} ({} computed, {} cached, {} failed) in {:.1f} s", report.total, cache_dir,
               report.computed, report.reused, report.failures.size(), report.seconds);
  constexpr std::size_t kShownSkips = 20;
  for (std::size_t i = 0; i < data_.skipped.size() && i < kShownSkips; ++i) {
    const auto& s = data_.skipped[i];
    spdlog::warn("skipped {}:{} {}: {}", s.csv, s.line, s.file_path, s.error);
  }
  if (data_.skipped.size() > kShownSkips) {
    spdlog::warn("... and {} more skipped rows (all listed in metrics.json)", data_.skipped.size() - kShownSkips);
  }
}

// Both classes to train on, a validation set, and what follows from them: the loss's
// pos_weight and whether the best epoch can be chosen by ROC-AUC.
void TrainingRun::check_data() {
  for (const BagSplit& split : data_.splits) {
    spdlog::info("{}: {} bags ({} cough, {} no cough), {} segments", split.name, split.bags.size(), split.positives(),
                 split.negatives(), split.total_segments());
  }
  const BagSplit& train = this->train();
  const BagSplit& val = this->val();
  if (train.bags.empty()) throw InputError(fmt::format("{}: no usable training bags", options_.train_csv));
  if (train.positives() == 0 || train.negatives() == 0) {
    throw InputError(fmt::format("{}: the training set needs both classes ({} cough, {} no cough bags)",
                                 options_.train_csv, train.positives(), train.negatives()));
  }
  if (val.bags.empty()) throw InputError(fmt::format("{}: no usable validation bags", options_.val_csv));
  val_auc_defined_ = val.positives() > 0 && val.negatives() > 0;
  if (!val_auc_defined_) {
    spdlog::warn(
        "{}: validation has one class only, so ROC-AUC is undefined; the best epoch is the lowest validation loss",
        options_.val_csv);
  }
  loss_.pos_weight = static_cast<double>(train.negatives()) / static_cast<double>(train.positives());
  if (options_.segment_loss_weight > 0) {
    const std::size_t labelled = train.labelled_segments(), positive = train.positive_segments();
    if (positive == 0 || positive == labelled) {
      throw InputError(fmt::format(
          "{}: --segment-loss-weight needs segment labels of both classes in the training CSV (a segment_labels "
          "column: {} labelled segments, {} of them cough)",
          options_.train_csv, labelled, positive));
    }
    loss_.segment_weight = options_.segment_loss_weight;
    loss_.segment_pos_weight = static_cast<double>(labelled - positive) / static_cast<double>(positive);
    spdlog::info("segment loss: weight {:g}, {} labelled training segments ({} cough), pos_weight {:.4g}",
                 loss_.segment_weight, labelled, positive, loss_.segment_pos_weight);
  }
}

// The model: resumed from last_checkpoint.pth and train_state.json, initialised from
// --init, or random.
void TrainingRun::start_model() {
  state_.seed = options_.seed;
  if (options_.resume && fs::exists(state_path_)) {
    if (fs::exists(last_path_) && fs::exists(optimizer_path_)) {
      try {
        std::ifstream in(state_path_);
        state_ = state_from_json(json::parse(in));
      } catch (const std::exception& e) {
        throw InputError(
            fmt::format("{}: cannot resume ({}); use --no-resume to start over", state_path_.string(), e.what()));
      }
      if (state_.seed != options_.seed) {
        spdlog::warn("resuming a run seeded with {} (--seed {} ignored for the remaining epochs)", state_.seed,
                     options_.seed);
      }
      model_ = load_checkpoint_model(last_path_.string(), options_.dropout);
      resumed_ = true;
    } else {
      spdlog::warn("{} has train_state.json but not last_checkpoint.pth and last_optimizer.pt: starting over",
                   out_dir_.string());
    }
  }
  if (!resumed_) {
    torch::manual_seed(options_.seed);
    if (!options_.init.empty()) {
      model_ = load_checkpoint_model(options_.init, options_.dropout);
      spdlog::info("initial weights from {}", options_.init);
    } else {
      model_ = AttnMILResNet(options_.dropout);
      spdlog::info(
          "initial weights: random (seed {}); ImageNet weights are not downloaded, use --init CKPT to start "
          "from a checkpoint",
          options_.seed);
    }
  }
  // Padded slots through the backbone (the reference) or only the real segments.
  model_->set_skip_padding(!options_.reference_padding);
}

// AdamW, with its state when resumed; and the recipe in the log.
void TrainingRun::start_optimizer() {
  optimizer_ = make_optimizer(model_, options_.lr, options_.weight_decay);
  if (resumed_) {
    torch::load(*optimizer_, optimizer_path_.string());
    spdlog::info("resuming {} after epoch {} (best epoch {}, {} without improvement){}", out_dir_.string(),
                 state_.epoch, state_.best_epoch, state_.epochs_without_improvement,
                 state_.epoch < options_.epochs && !state_.stopped_early
                     ? fmt::format(": continuing with epoch {}", state_.epoch + 1)
                     : ": nothing left to train");
  }
  spdlog::info(
      "training: {} epochs, batch {}, AdamW lr {:g} (cosine to {:g}), weight decay {:g}, pos_weight {:.4g}, "
      "augmentation p {:g}, dropout {:g}, {} threads, {}",
      options_.epochs, options_.batch_size, options_.lr, options_.min_lr, options_.weight_decay, loss_.pos_weight,
      options_.augment_probability, options_.dropout, threads_,
      options_.reference_padding ? "padded slots through the backbone (reference)"
                                 : "real segments only through the backbone");
}

void TrainingRun::run_epoch(int epoch) {
  const auto epoch_start = Clock::now();
  EpochRecord record;
  record.epoch = epoch;
  record.lr = cosine_lr(epoch - 1, options_.epochs, options_.lr, options_.min_lr);
  set_learning_rate(*optimizer_, record.lr);
  const std::uint64_t seed = epoch_seed(state_.seed, epoch);  // the run's seed, also when resumed
  torch::manual_seed(seed);
  std::mt19937_64 rng(seed);
  const double segments_per_s = train_epoch(epoch, rng, record);
  const Evaluation ev = validate(epoch);
  record.val_loss = ev.loss;
  record.val_accuracy = ev.accuracy;
  record.val_roc_auc = ev.roc_auc;
  record.val_average_precision = ev.average_precision;
  select_model(epoch, ev, record);
  record.seconds = seconds_since(epoch_start);
  state_.training_seconds += record.seconds;
  state_.epoch = epoch;
  state_.history.push_back(record);
  if (options_.patience > 0 && state_.epochs_without_improvement >= options_.patience && epoch < options_.epochs) {
    state_.stopped_early = true;
  }
  save_epoch(epoch, ev);
  log_epoch(record, ev, segments_per_s);
}

// One pass over the shuffled training bags, augmented; the step losses go into `record`.
double TrainingRun::train_epoch(int epoch, std::mt19937_64& rng, EpochRecord& record) {
  auto batches = shuffled_batches(train().bags.size(), options_.batch_size, rng);
  // A last batch of one bag cannot train BatchNorm1d (it needs two values per channel);
  // that bag sits this epoch out (another one next epoch: the order is reshuffled).
  if (batches.size() > 1 && batches.back().size() == 1) batches.pop_back();
  if (options_.max_steps_per_epoch > 0 && batches.size() > static_cast<std::size_t>(options_.max_steps_per_epoch)) {
    batches.resize(static_cast<std::size_t>(options_.max_steps_per_epoch));
  }
  double loss_sum = 0;
  std::size_t bags_seen = 0, segments_seen = 0;
  const auto train_start = Clock::now();
  {
    const auto bar = make_bar(fmt::format("epoch {}/{}", epoch, options_.epochs), batches.size(), options_.progress);
    for (std::size_t step = 0; step < batches.size(); ++step) {
      std::vector<const Bag*> bags;
      for (std::size_t i : batches[step]) bags.push_back(&train().bags[i]);
      const Batch batch = make_batch(bags, &augment_, &rng);
      const double loss = train_step(model_, *optimizer_, batch, loss_);
      if (!std::isfinite(loss)) {
        throw std::runtime_error(
            fmt::format("training diverged: loss {} at epoch {} step {}; try a lower --lr", loss, epoch, step + 1));
      }
      record.step_losses.push_back(loss);
      loss_sum += loss * static_cast<double>(bags.size());
      bags_seen += bags.size();
      for (const Bag* bag : bags) segments_seen += bag->segments;
      bar->set(static_cast<double>(step + 1), fmt::format("loss {:.4f}", loss_sum / static_cast<double>(bags_seen)));
    }
  }
  record.train_loss = loss_sum / static_cast<double>(bags_seen);
  return static_cast<double>(segments_seen) / seconds_since(train_start);
}

Evaluation TrainingRun::validate(int epoch) {
  const auto bar = make_bar(fmt::format("validation {}/{}", epoch, options_.epochs),
                            eval_batches(val().bags.size(), options_.batch_size), options_.progress);
  return evaluate(model_, val().bags, options_.batch_size, loss_.pos_weight,
                  [&](std::size_t, std::size_t) { bar->advance(); });
}

// Model selection: validation ROC-AUC (the lowest loss when AUC is undefined). A better
// epoch is saved as best_model.pth with the threshold that maximises F1 on validation.
void TrainingRun::select_model(int epoch, const Evaluation& ev, EpochRecord& record) {
  const double score = val_auc_defined_ ? ev.roc_auc : -ev.loss;
  record.best = !state_.has_best || score > state_.best_score;
  if (!record.best) {
    ++state_.epochs_without_improvement;
    return;
  }
  const ThresholdChoice choice = best_f1_threshold(ev.probabilities, ev.labels, kDefaultThreshold);
  state_.has_best = true;
  state_.best_epoch = epoch;
  state_.best_score = score;
  state_.best_val_auc = ev.roc_auc;
  state_.best_val_ap = ev.average_precision;
  state_.threshold = choice.threshold;
  state_.threshold_from_validation = choice.from_data;
  state_.epochs_without_improvement = 0;
  save_checkpoint(best_path_.string(), model_, {epoch, ev.roc_auc, ev.average_precision, config()});
}

// The last checkpoint and optimizer first, train_state.json last: it is what resuming
// trusts, so an interruption in between repeats the epoch instead of skipping it.
void TrainingRun::save_epoch(int epoch, const Evaluation& ev) {
  save_checkpoint(last_path_.string(), model_, {epoch, ev.roc_auc, ev.average_precision, config()});
  save_optimizer(*optimizer_, optimizer_path_);
  io::write_file_atomically(state_path_, state_json(state_).dump(1) + "\n");
  write_curves(out_dir_.string(), state_.history);
}

// The segment head's figures, when there is something to say.
void log_segment_figures(const std::string& split, const Evaluation& ev) {
  if (ev.n_labelled_segments == 0 && ev.n_negative_bag_segments == 0) return;
  spdlog::info("  {} segments: AUC {}  AP {} ({} labelled); {} of {} segments of no-cough bags at p <= 0.1", split,
               fmt_metric(ev.segment_roc_auc, 4), fmt_metric(ev.segment_average_precision, 4), ev.n_labelled_segments,
               std::isfinite(ev.negative_segments_low_share)
                   ? fmt::format("{:.1f} %", 100 * ev.negative_segments_low_share)
                   : std::string("n/a"),
               ev.n_negative_bag_segments);
}

void TrainingRun::log_epoch(const EpochRecord& record, const Evaluation& ev, double segments_per_s) const {
  spdlog::info(
      "epoch {}/{}  lr {:.3g}  train loss {:.4f}  val loss {:.4f}  acc {}  AUC {}  AP {}  {:.1f}s ({:.1f} "
      "train segments/s){}",
      record.epoch, options_.epochs, record.lr, record.train_loss.value, record.val_loss.value,
      fmt_metric(ev.accuracy, 3), fmt_metric(ev.roc_auc, 4), fmt_metric(ev.average_precision, 4), record.seconds,
      segments_per_s, record.best ? "  *best*" : "");
  log_segment_figures("val", ev);
  if (state_.stopped_early) {
    spdlog::info("early stopping: validation {} has not improved for {} epochs (best epoch {})",
                 val_auc_defined_ ? "AUC" : "loss", state_.epochs_without_improvement, state_.best_epoch);
  }
}

// The best model on one split: its metrics (returned), ROC and PR curves, a log line.
json TrainingRun::evaluate_best_on(AttnMILResNet& best, const BagSplit& split) {
  Evaluation ev;
  {
    const auto bar = make_bar(fmt::format("evaluating {}", split.name),
                              eval_batches(split.bags.size(), options_.batch_size), options_.progress);
    ev = evaluate(best, split.bags, options_.batch_size, loss_.pos_weight,
                  [&](std::size_t, std::size_t) { bar->advance(); });
  }
  const double rate = ev.n_bags ? static_cast<double>(ev.n_positive) / static_cast<double>(ev.n_bags) : std::nan("");
  io::write_file_atomically(out_dir_ / fmt::format("roc_{}.svg", split.name),
                            roc_svg(split.name, roc_curve(ev.probabilities, ev.labels), ev.roc_auc));
  io::write_file_atomically(
      out_dir_ / fmt::format("pr_{}.svg", split.name),
      pr_svg(split.name, precision_recall_curve(ev.probabilities, ev.labels), ev.average_precision, rate));
  spdlog::info("best model on {}: loss {:.4f}  acc {}  AUC {}  AP {}  ({} bags, {} cough)", split.name, ev.loss,
               fmt_metric(ev.accuracy, 3), fmt_metric(ev.roc_auc, 4), fmt_metric(ev.average_precision, 4), ev.n_bags,
               ev.n_positive);
  log_segment_figures(split.name, ev);
  return evaluation_json(ev, state_.threshold);
}

// metrics.json: the splits' metrics, the threshold, the run and its options; the curves once more.
void TrainingRun::write_metrics(json metrics) const {
  json skipped = json::array();
  for (const auto& s : data_.skipped) {
    skipped.push_back(
        {{"split", s.split}, {"csv", s.csv}, {"line", s.line}, {"file_path", s.file_path}, {"error", s.error}});
  }
  metrics["threshold"] = state_.threshold;
  metrics["threshold_source"] =
      state_.threshold_from_validation ? "max F1 on validation" : "default (F1 undefined on validation)";
  metrics["best_epoch"] = state_.best_epoch;
  metrics["epochs_run"] = state_.epoch;
  metrics["stopped_early"] = state_.stopped_early;
  metrics["training_seconds"] = state_.training_seconds;
  metrics["pos_weight"] = loss_.pos_weight;
  metrics["segment_loss"] = {{"weight", loss_.segment_weight}, {"pos_weight", loss_.segment_pos_weight}};
  metrics["options"] = options_json(options_);
  metrics["skipped"] = skipped;
  metrics["libtorch_version"] = libtorch_version_string();
  metrics["coughkit_version"] = version_string();
  io::write_file_atomically(out_dir_ / "metrics.json", metrics.dump(2) + "\n");
  write_curves(out_dir_.string(), state_.history);
  spdlog::info("best epoch {} (val AUC {}), threshold {:.4f}; wrote {}", state_.best_epoch,
               fmt_metric(state_.best_val_auc, 4), state_.threshold, best_path_.string());
}

}  // namespace

int run_training(const TrainOptions& options) {
  options.Validate();
  return TrainingRun(options).run();
}

}  // namespace coughkit::training
