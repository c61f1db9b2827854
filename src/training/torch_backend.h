#pragma once
// `--backend torch`: a checkpoint run by LibTorch in evaluation mode, behind the same
// model::ModelRunner interface as coughkit's engine. It computes with PyTorch's own kernels,
// so its results can be set beside the engine's (`coughkit compare --backend engine,torch`).
//
// Thread safety: run() may be called from any thread; runs are serialised by a mutex (one
// run uses all the configured intra-op threads).
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "checkpoint/checkpoint_reader.h"
#include "model/model_runner.h"
#include "training/attnmil_torch.h"

namespace coughkit::training {

class TorchRunner final : public model::ModelRunner {
 public:
  // `model` is put in eval mode. threads: intra-op threads, 0 = all cores (process-wide
  // LibTorch setting).
  TorchRunner(AttnMILResNet model, std::map<std::string, std::string> metadata, int threads);

  model::ModelOutputs run(int batch, int segments, std::span<const float> spectrograms,
                          std::span<const std::uint8_t> segment_mask) const override;
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }
  int threads() const override { return threads_; }
  std::string backend_name() const override { return "libtorch"; }
  std::string describe() const override;

 private:
  mutable AttnMILResNet model_;
  std::map<std::string, std::string> metadata_;
  int threads_;
  mutable std::mutex mutex_;
};

// The module's load_checkpoint entry (torch_module.h): the checkpoint's weights in a
// TorchRunner. Throws InputError for weights that do not fit AttnMILResNet, ConfigError for
// a negative thread count.
std::unique_ptr<model::ModelRunner> load_torch_runner(const checkpoint::Checkpoint& ckpt,
                                                      const std::map<std::string, std::string>& metadata, int threads);

// "1.13.0"
const char* libtorch_version();

}  // namespace coughkit::training
