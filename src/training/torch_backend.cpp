#include "training/torch_backend.h"

#include <thread>

#include <fmt/format.h>
#include <torch/version.h>

#include "common/error.h"
#include "model/engine.h"
#include "training/torch_checkpoint.h"

namespace coughkit::training {
namespace {

int resolve_threads(int threads) {
  if (threads < 0) throw ConfigError(fmt::format("threads must be >= 0 (0 = all cores), got {}", threads));
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

std::vector<float> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

TorchRunner::TorchRunner(AttnMILResNet model, std::map<std::string, std::string> metadata, int threads)
    : model_(std::move(model)), metadata_(std::move(metadata)), threads_(resolve_threads(threads)) {
  model_->eval();
  torch::set_num_threads(threads_);
}

model::ModelOutputs TorchRunner::run(int batch, int segments, std::span<const float> spectrograms,
                                     std::span<const std::uint8_t> segment_mask) const {
  if (batch < 1 || segments < 1)
    throw InputError(fmt::format("batch and segments must be positive, got {} x {}", batch, segments));
  const std::size_t n = static_cast<std::size_t>(batch) * static_cast<std::size_t>(segments);
  if (spectrograms.size() != n * model::kSegmentValues)
    throw InputError(fmt::format("spectrograms hold {} values, expected {} x {} x 3 x 224 x 224 = {}",
                                 spectrograms.size(), batch, segments, n * model::kSegmentValues));
  if (segment_mask.size() != n)
    throw InputError(
        fmt::format("segment_mask holds {} values, expected {} x {}", segment_mask.size(), batch, segments));

  std::lock_guard lock(mutex_);
  // The intra-op thread count is per OpenMP thread: set it on whichever thread runs.
  if (torch::get_num_threads() != threads_) torch::set_num_threads(threads_);
  c10::InferenceMode guard;
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(spectrograms.data()),
                       {batch, segments, model::kChannels, model::kImageSize, model::kImageSize}, torch::kFloat32)
          .clone();
  const torch::Tensor mask =
      torch::from_blob(const_cast<std::uint8_t*>(segment_mask.data()), {batch, segments}, torch::kUInt8).ne(0);
  const AttnMILOutputs out = model_->forward(x, mask);

  model::ModelOutputs r;
  r.batch = batch;
  r.segments = segments;
  r.bag_probability = to_vector(out.bag_probability);
  r.bag_logit = to_vector(out.bag_logit);
  r.segment_probabilities = to_vector(out.segment_probabilities);
  r.segment_logits = to_vector(out.segment_logits);
  return r;
}

std::string TorchRunner::describe() const {
  return fmt::format("LibTorch {} (PyTorch's CPU kernels, fp32, eval mode), threads={}", TORCH_VERSION, threads_);
}

std::unique_ptr<model::ModelRunner> load_torch_runner(const checkpoint::Checkpoint& ckpt,
                                                      const std::map<std::string, std::string>& metadata, int threads) {
  resolve_threads(threads);  // a bad count before the slow part
  return std::make_unique<TorchRunner>(model_from_checkpoint(ckpt), metadata, threads);
}

const char* libtorch_version() { return TORCH_VERSION; }

}  // namespace coughkit::training
