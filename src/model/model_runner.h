#pragma once
// What the Detector needs from a model backend: run a batch of bags, and say what it is.
// Two implementations: the project's oneDNN engine (engine.h), used by every front end,
// and the LibTorch reference backend (training/torch_backend.h, `--backend torch`), which
// runs a checkpoint through PyTorch's own kernels so results can be set beside it.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace coughkit::model {

struct ModelOutputs {
  int batch = 0, segments = 0;
  std::vector<float> bag_probability, bag_logit;             // (B)
  std::vector<float> segment_probabilities, segment_logits;  // (B, S), row-major
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  // spectrograms: (B, S, 3, 224, 224) model input, already normalised (images_to_model_input);
  // segment_mask: (B, S), nonzero for real segments. Throws InputError on sizes that do not
  // match batch/segments. Safe to call from several threads (runs may be serialised).
  virtual ModelOutputs run(int batch, int segments, std::span<const float> spectrograms,
                           std::span<const std::uint8_t> segment_mask) const = 0;
  // Metadata as ONNX metadata_props carry it (threshold, highpass_hz, epoch, ...).
  virtual const std::map<std::string, std::string>& metadata() const = 0;
  virtual int threads() const = 0;
  // "onnx-engine" or "libtorch"; and a one-line description of how it computes
  // (e.g. the engine's convolution algorithms), for /v1/model and logs.
  virtual std::string backend_name() const = 0;
  virtual std::string describe() const = 0;
};

}  // namespace coughkit::model
