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
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include "common/error.h"
#include "common/float_text.h"
#include "common/progress_bar.h"
#include "features/model_input_contract.h"
#include "common/version.h"
#include "features/feature_cache.h"
#include "io/atomic_file.h"
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
      throw std::invalid_argument(fmt::format("make_batch: bag {} does not hold {} images of 224x224", bag->file_path, bag->segments));
    }
    max_segments = std::max(max_segments, bag->segments);
  }
  const auto b = static_cast<std::int64_t>(bags.size()), s = static_cast<std::int64_t>(max_segments);
  Batch batch{torch::zeros({b, s, 3, kImageSize, kImageSize}, torch::kFloat32), torch::zeros({b, s}, torch::kBool),
              torch::empty({b}, torch::kFloat32)};
  std::vector<float> images;
  auto labels = batch.labels.accessor<float, 1>();
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
  }
  return batch;
}

torch::Tensor bag_loss(const torch::Tensor& bag_logit, const torch::Tensor& labels, double pos_weight) {
  const auto weight = torch::full({1}, pos_weight, torch::kFloat32);
  return torch::binary_cross_entropy_with_logits(bag_logit, labels, {}, weight, at::Reduction::Mean);
}

double train_step(AttnMILResNet& model, torch::optim::Optimizer& optimizer, const Batch& batch, double pos_weight) {
  model->train();
  optimizer.zero_grad();
  const AttnMILOutputs out = model->forward(batch.inputs, batch.mask);
  torch::Tensor loss = bag_loss(out.bag_logit, batch.labels, pos_weight);
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
  if (bags.empty()) {
    ev.loss = ev.accuracy = ev.roc_auc = ev.average_precision = std::numeric_limits<double>::quiet_NaN();
    return ev;
  }
  // Similar lengths together: less padding to compute, same results (eval mode).
  std::vector<std::size_t> order(bags.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return bags[a].segments < bags[b].segments; });

  model->eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  const auto weight = torch::full({1}, pos_weight, torch::kFloat32);
  const std::size_t step = static_cast<std::size_t>(std::max(1, batch_size));
  for (std::size_t start = 0; start < order.size(); start += step) {
    std::vector<const Bag*> chunk;
    for (std::size_t j = start; j < std::min(order.size(), start + step); ++j) chunk.push_back(&bags[order[j]]);
    const Batch batch = make_batch(chunk);
    const AttnMILOutputs out = model->forward(batch.inputs, batch.mask);
    loss_sum += torch::binary_cross_entropy_with_logits(out.bag_logit, batch.labels, {}, weight, at::Reduction::Sum).item<double>();
    const auto probs = out.bag_probability.contiguous();
    const float* p = probs.data_ptr<float>();
    for (std::size_t j = 0; j < chunk.size(); ++j) ev.probabilities[order[start + j]] = p[j];
    if (progress) progress(std::min(order.size(), start + step), order.size());
  }
  ev.loss = loss_sum / static_cast<double>(bags.size());
  ev.accuracy = accuracy(ev.probabilities, ev.labels, 0.5);
  ev.roc_auc = roc_auc(ev.probabilities, ev.labels);
  ev.average_precision = average_precision(ev.probabilities, ev.labels);
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
using Metric = MaybeNumber<false>;     // undefined = NaN
using BestScore = MaybeNumber<true>;   // undefined = -infinity

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
          {"max_steps_per_epoch", o.max_steps_per_epoch}};
}

// The `config` of the checkpoints: the recipe, the preprocessing the model expects, its
// decision threshold and the datasets (file names only, no directories).
json checkpoint_config(const TrainOptions& o, const TrainState& s, double pos_weight, std::size_t n_train, std::size_t n_val) {
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
          {"pos_weight", pos_weight},
          {"highpass_hz", plain(o.highpass_hz)},
          {"threshold", s.threshold},
          {"threshold_source", s.threshold_from_validation ? "max F1 on validation" : "default (F1 undefined on validation)"},
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
                     r.val_loss.value, r.val_accuracy.value, r.val_roc_auc.value, r.val_average_precision.value, r.seconds,
                     r.best ? 1 : 0);
  }
  return s;
}

std::string steps_csv(const std::vector<EpochRecord>& history) {
  std::string s = "epoch,step,lr,loss\n";
  for (const auto& r : history) {
    for (std::size_t i = 0; i < r.step_losses.size(); ++i) s += fmt::format("{},{},{:.9g},{:.9g}\n", r.epoch, i + 1, r.lr, r.step_losses[i]);
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
          {"n_positive", ev.n_positive}};
}

std::string fmt_metric(double v, int decimals) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "n/a"; }

}  // namespace

int run_training(const TrainOptions& options) {
  options.Validate();
  const fs::path out_dir(options.out_dir);
  fs::create_directories(out_dir);
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  const fs::path best_path = out_dir / "best_model.pth", last_path = out_dir / "last_checkpoint.pth",
                 optimizer_path = out_dir / "last_optimizer.pt", state_path = out_dir / "train_state.json";

  // --- Features: precompute what the cache lacks, then hold every bag in memory. ---
  features::PreprocessConfig preprocess;
  preprocess.condition.highpass_hz = options.highpass_hz;
  const std::string cache_dir = options.cache_dir.empty() ? (out_dir / "cache").string() : options.cache_dir;
  const features::FeatureCache cache(cache_dir, preprocess);
  const features::FeaturePipeline pipeline(preprocess);
  std::vector<BagSplitSource> sources{{"train", options.train_csv}, {"val", options.val_csv}};
  if (!options.test_csv.empty()) sources.push_back({"test", options.test_csv});

  LoadedSplits data;
  {
    std::unique_ptr<ProgressBar> bar;
    data = load_splits(sources, options.base_dir, cache, pipeline, options.threads,
                       [&](std::size_t done, std::size_t total, const std::string& item) {
                         if (!bar) bar = make_bar("features", total, options.progress);
                         bar->set(static_cast<double>(done), item);  // a long path keeps its end
                       });
  }
  const auto& report = data.precompute;
  spdlog::info("features: {} clips in {} ({} computed, {} cached, {} failed) in {:.1f} s", report.total, cache_dir, report.computed,
               report.reused, report.failures.size(), report.seconds);
  constexpr std::size_t kShownSkips = 20;
  for (std::size_t i = 0; i < data.skipped.size() && i < kShownSkips; ++i) {
    const auto& s = data.skipped[i];
    spdlog::warn("skipped {}:{} {}: {}", s.csv, s.line, s.file_path, s.error);
  }
  if (data.skipped.size() > kShownSkips) {
    spdlog::warn("... and {} more skipped rows (all listed in metrics.json)", data.skipped.size() - kShownSkips);
  }
  const BagSplit& train = data.splits[0];
  const BagSplit& val = data.splits[1];
  for (const BagSplit& split : data.splits) {
    spdlog::info("{}: {} bags ({} cough, {} no cough), {} segments", split.name, split.bags.size(), split.positives(), split.negatives(),
                 split.total_segments());
  }
  if (train.bags.empty()) throw InputError(fmt::format("{}: no usable training bags", options.train_csv));
  if (train.positives() == 0 || train.negatives() == 0) {
    throw InputError(fmt::format("{}: the training set needs both classes ({} cough, {} no cough bags)", options.train_csv,
                                 train.positives(), train.negatives()));
  }
  if (val.bags.empty()) throw InputError(fmt::format("{}: no usable validation bags", options.val_csv));
  const bool val_auc_defined = val.positives() > 0 && val.negatives() > 0;
  if (!val_auc_defined) {
    spdlog::warn("{}: validation has one class only, so ROC-AUC is undefined; the best epoch is the lowest validation loss",
                 options.val_csv);
  }
  const double pos_weight = static_cast<double>(train.negatives()) / static_cast<double>(train.positives());

  // --- Model and optimizer: resumed, initialised from a checkpoint, or from scratch. ---
  TrainState state;
  state.seed = options.seed;
  AttnMILResNet model{nullptr};
  bool resumed = false;
  if (options.resume && fs::exists(state_path)) {
    if (fs::exists(last_path) && fs::exists(optimizer_path)) {
      try {
        std::ifstream in(state_path);
        state = state_from_json(json::parse(in));
      } catch (const std::exception& e) {
        throw InputError(fmt::format("{}: cannot resume ({}); use --no-resume to start over", state_path.string(), e.what()));
      }
      if (state.seed != options.seed) {
        spdlog::warn("resuming a run seeded with {} (--seed {} ignored for the remaining epochs)", state.seed, options.seed);
      }
      model = load_checkpoint_model(last_path.string(), options.dropout);
      resumed = true;
    } else {
      spdlog::warn("{} has train_state.json but not last_checkpoint.pth and last_optimizer.pt: starting over", out_dir.string());
    }
  }
  if (!resumed) {
    torch::manual_seed(options.seed);
    if (!options.init.empty()) {
      model = load_checkpoint_model(options.init, options.dropout);
      spdlog::info("initial weights from {}", options.init);
    } else {
      model = AttnMILResNet(options.dropout);
      spdlog::info("initial weights: random (seed {}); ImageNet weights are not downloaded, use --init CKPT to start from a checkpoint",
                   options.seed);
    }
  }
  // Padded slots through the backbone (the reference) or only the real segments.
  model->set_skip_padding(!options.reference_padding);
  auto optimizer = make_optimizer(model, options.lr, options.weight_decay);
  if (resumed) {
    torch::load(*optimizer, optimizer_path.string());
    spdlog::info("resuming {} after epoch {} (best epoch {}, {} without improvement){}", out_dir.string(), state.epoch, state.best_epoch,
                 state.epochs_without_improvement, state.epoch < options.epochs && !state.stopped_early
                                                       ? fmt::format(": continuing with epoch {}", state.epoch + 1)
                                                       : ": nothing left to train");
  }
  spdlog::info("training: {} epochs, batch {}, AdamW lr {:g} (cosine to {:g}), weight decay {:g}, pos_weight {:.4g}, augmentation p {:g}, "
               "dropout {:g}, {} threads, {}",
               options.epochs, options.batch_size, options.lr, options.min_lr, options.weight_decay, pos_weight,
               options.augment_probability, options.dropout, threads,
               options.reference_padding ? "padded slots through the backbone (reference)" : "real segments only through the backbone");

  AugmentOptions augment;
  augment.probability = options.augment_probability;

  // --- Epochs. ---
  for (int epoch = state.epoch + 1; epoch <= options.epochs && !state.stopped_early; ++epoch) {
    const auto epoch_start = Clock::now();
    EpochRecord record;
    record.epoch = epoch;
    record.lr = cosine_lr(epoch - 1, options.epochs, options.lr, options.min_lr);
    set_learning_rate(*optimizer, record.lr);
    const std::uint64_t seed = epoch_seed(state.seed, epoch);  // the run's seed, also when resumed
    torch::manual_seed(seed);
    std::mt19937_64 rng(seed);
    auto batches = shuffled_batches(train.bags.size(), options.batch_size, rng);
    // A last batch of one bag cannot train BatchNorm1d (it needs two values per channel);
    // that bag sits this epoch out (another one next epoch: the order is reshuffled).
    if (batches.size() > 1 && batches.back().size() == 1) batches.pop_back();
    if (options.max_steps_per_epoch > 0 && batches.size() > static_cast<std::size_t>(options.max_steps_per_epoch)) {
      batches.resize(static_cast<std::size_t>(options.max_steps_per_epoch));
    }

    double loss_sum = 0;
    std::size_t bags_seen = 0, segments_seen = 0;
    const auto train_start = Clock::now();
    {
      const auto bar = make_bar(fmt::format("epoch {}/{}", epoch, options.epochs), batches.size(), options.progress);
      for (std::size_t step = 0; step < batches.size(); ++step) {
        std::vector<const Bag*> bags;
        for (std::size_t i : batches[step]) bags.push_back(&train.bags[i]);
        const Batch batch = make_batch(bags, &augment, &rng);
        const double loss = train_step(model, *optimizer, batch, pos_weight);
        if (!std::isfinite(loss)) {
          throw std::runtime_error(fmt::format("training diverged: loss {} at epoch {} step {}; try a lower --lr", loss, epoch, step + 1));
        }
        record.step_losses.push_back(loss);
        loss_sum += loss * static_cast<double>(bags.size());
        bags_seen += bags.size();
        for (const Bag* bag : bags) segments_seen += bag->segments;
        bar->set(static_cast<double>(step + 1), fmt::format("loss {:.4f}", loss_sum / static_cast<double>(bags_seen)));
      }
    }
    record.train_loss = loss_sum / static_cast<double>(bags_seen);
    const double segments_per_s = static_cast<double>(segments_seen) / seconds_since(train_start);

    Evaluation ev;
    {
      const auto bar = make_bar(fmt::format("validation {}/{}", epoch, options.epochs),
                                eval_batches(val.bags.size(), options.batch_size), options.progress);
      ev = evaluate(model, val.bags, options.batch_size, pos_weight, [&](std::size_t, std::size_t) { bar->advance(); });
    }
    record.val_loss = ev.loss;
    record.val_accuracy = ev.accuracy;
    record.val_roc_auc = ev.roc_auc;
    record.val_average_precision = ev.average_precision;

    // Model selection: validation ROC-AUC (the lowest loss when AUC is undefined).
    const double score = val_auc_defined ? ev.roc_auc : -ev.loss;
    record.best = !state.has_best || score > state.best_score;
    if (record.best) {
      const ThresholdChoice choice = best_f1_threshold(ev.probabilities, ev.labels, kDefaultThreshold);
      state.has_best = true;
      state.best_epoch = epoch;
      state.best_score = score;
      state.best_val_auc = ev.roc_auc;
      state.best_val_ap = ev.average_precision;
      state.threshold = choice.threshold;
      state.threshold_from_validation = choice.from_data;
      state.epochs_without_improvement = 0;
      save_checkpoint(best_path.string(), model,
                      {epoch, ev.roc_auc, ev.average_precision, checkpoint_config(options, state, pos_weight, train.bags.size(), val.bags.size())});
    } else {
      ++state.epochs_without_improvement;
    }
    record.seconds = seconds_since(epoch_start);
    state.training_seconds += record.seconds;
    state.epoch = epoch;
    state.history.push_back(record);
    if (options.patience > 0 && state.epochs_without_improvement >= options.patience && epoch < options.epochs) {
      state.stopped_early = true;
    }

    // The last checkpoint and optimizer first, train_state.json last: it is what resuming
    // trusts, so an interruption in between repeats the epoch instead of skipping it.
    save_checkpoint(last_path.string(), model,
                    {epoch, ev.roc_auc, ev.average_precision, checkpoint_config(options, state, pos_weight, train.bags.size(), val.bags.size())});
    save_optimizer(*optimizer, optimizer_path);
    io::write_file_atomically(state_path, state_json(state).dump(1) + "\n");
    write_curves(out_dir.string(), state.history);

    spdlog::info("epoch {}/{}  lr {:.3g}  train loss {:.4f}  val loss {:.4f}  acc {}  AUC {}  AP {}  {:.1f}s ({:.1f} train segments/s){}",
                 epoch, options.epochs, record.lr, record.train_loss.value, record.val_loss.value, fmt_metric(ev.accuracy, 3),
                 fmt_metric(ev.roc_auc, 4), fmt_metric(ev.average_precision, 4), record.seconds, segments_per_s,
                 record.best ? "  *best*" : "");
    if (state.stopped_early) {
      spdlog::info("early stopping: validation {} has not improved for {} epochs (best epoch {})", val_auc_defined ? "AUC" : "loss",
                   state.epochs_without_improvement, state.best_epoch);
    }
  }
  if (!state.has_best || !fs::exists(best_path)) throw std::runtime_error(fmt::format("{} was not written", best_path.string()));

  // --- The best model on every split: metrics.json, history.csv, plots. ---
  AttnMILResNet best = load_checkpoint_model(best_path.string(), options.dropout);
  json metrics;
  for (const BagSplit& split : data.splits) {
    Evaluation ev;
    {
      const auto bar = make_bar(fmt::format("evaluating {}", split.name),
                                eval_batches(split.bags.size(), options.batch_size), options.progress);
      ev = evaluate(best, split.bags, options.batch_size, pos_weight,
                    [&](std::size_t, std::size_t) { bar->advance(); });
    }
    metrics[split.name] = evaluation_json(ev, state.threshold);
    const double rate = ev.n_bags ? static_cast<double>(ev.n_positive) / static_cast<double>(ev.n_bags) : std::nan("");
    io::write_file_atomically(out_dir / fmt::format("roc_{}.svg", split.name),
                              roc_svg(split.name, roc_curve(ev.probabilities, ev.labels), ev.roc_auc));
    io::write_file_atomically(out_dir / fmt::format("pr_{}.svg", split.name),
                              pr_svg(split.name, precision_recall_curve(ev.probabilities, ev.labels), ev.average_precision, rate));
    spdlog::info("best model on {}: loss {:.4f}  acc {}  AUC {}  AP {}  ({} bags, {} cough)", split.name, ev.loss, fmt_metric(ev.accuracy, 3),
                 fmt_metric(ev.roc_auc, 4), fmt_metric(ev.average_precision, 4), ev.n_bags, ev.n_positive);
  }
  json skipped = json::array();
  for (const auto& s : data.skipped) {
    skipped.push_back({{"split", s.split}, {"csv", s.csv}, {"line", s.line}, {"file_path", s.file_path}, {"error", s.error}});
  }
  metrics["threshold"] = state.threshold;
  metrics["threshold_source"] = state.threshold_from_validation ? "max F1 on validation" : "default (F1 undefined on validation)";
  metrics["best_epoch"] = state.best_epoch;
  metrics["epochs_run"] = state.epoch;
  metrics["stopped_early"] = state.stopped_early;
  metrics["training_seconds"] = state.training_seconds;
  metrics["pos_weight"] = pos_weight;
  metrics["options"] = options_json(options);
  metrics["skipped"] = skipped;
  metrics["libtorch_version"] = libtorch_version_string();
  metrics["coughkit_version"] = version_string();
  io::write_file_atomically(out_dir / "metrics.json", metrics.dump(2) + "\n");
  write_curves(out_dir.string(), state.history);
  spdlog::info("best epoch {} (val AUC {}), threshold {:.4f}; wrote {}", state.best_epoch, fmt_metric(state.best_val_auc, 4), state.threshold,
               (out_dir / "best_model.pth").string());
  return 0;
}

}  // namespace coughkit::training
