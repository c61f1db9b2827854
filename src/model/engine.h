#pragma once
// coughkit's inference engine for AttnMILResNet ONNX models (docs/pipeline.md sections
// 5-6), on its own graph executor with oneDNN kernels.
//
//   auto engine = coughkit::model::Engine::load_onnx("model.onnx", {});
//   std::vector<float> input(S * kSegmentValues);
//   coughkit::model::images_to_model_input(mel_images, S, input);
//   auto out = engine->run(1, S, input, mask);   // out.bag_probability[0], ...
//
// Thread safety: an Engine is immutable after load_onnx() except for internal caches;
// run() may be called from any number of threads at once. Runs are serialised by an
// internal mutex (one run uses all the configured threads), and each run sets the
// calling thread's OpenMP thread count to options.threads.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "features/model_input_contract.h"
#include "model/model_runner.h"

namespace coughkit::model {

struct Graph;  // model/graph.h

inline constexpr int kImageSize = features::kModelImageSize;
inline constexpr int kChannels = 3;
inline constexpr std::size_t kSegmentValues = std::size_t{kChannels} * kImageSize * kImageSize;

struct EngineOptions {
  int threads = 0;  // compute threads; 0 = all cores
  // Winograd F(2x2,3x3) for 3x3 stride-1 convolutions on AVX2 CPUs (winograd_conv.h);
  // false = oneDNN direct convolution everywhere. Both are within the parity tolerance.
  bool winograd = true;
  std::string ToString() const;
  void Validate() const;  // throws ConfigError saying what is wrong
};

class Engine final : public ModelRunner {
 public:
  // Loads, checks (inputs/outputs per docs/pipeline.md section 6, supported ops/attributes),
  // optimises (constant folding, BatchNorm folding, Conv+Add+ReLU fusion) and test-runs
  // the model on one zero segment. Throws InputError naming the file (and node/op) for
  // anything it cannot run exactly, ConfigError for bad options.
  static std::unique_ptr<Engine> load_onnx(const std::string& path, const EngineOptions& options);
  // The same for a serialised ONNX ModelProto in memory (e.g. built from a checkpoint);
  // `source` names it in error messages.
  static std::unique_ptr<Engine> load_onnx_bytes(const std::string& bytes, const std::string& source,
                                                 const EngineOptions& options);
  ~Engine() override;

  // spectrograms: (B, S, 3, 224, 224) model input, already normalised (images_to_model_input);
  // segment_mask: (B, S), nonzero for real segments (padded segments should be zeros).
  // Throws InputError on sizes that do not match batch/segments.
  ModelOutputs run(int batch, int segments, std::span<const float> spectrograms,
                   std::span<const std::uint8_t> segment_mask) const override;

  const std::map<std::string, std::string>& metadata() const override;  // the file's metadata_props
  double flops_per_segment() const;  // convolutions + matrix products, for GFLOP/s reports
  const EngineOptions& options() const;
  int threads() const override;                   // resolved thread count
  std::string conv_algorithms() const;            // e.g. "direct+own_winograd_f2x3"
  std::vector<std::string> kernels_used() const;  // Executor::kernels_used()
  std::string backend_name() const override { return "onnx-engine"; }
  std::string describe() const override;  // options and convolution algorithms

 private:
  Engine();
  static std::unique_ptr<Engine> from_graph(Graph g, const std::string& source, const EngineOptions& options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// (S, 224, 224) mel images in [-1, 1] -> (S, 3, 224, 224) model input, docs/pipeline.md
// section 5: x01 = (v + 1) / 2, then (x01 - mean[c]) / std[c] with ImageNet statistics,
// in float32 in the reference's operation order. Throws InputError on wrong sizes.
void images_to_model_input(std::span<const float> images, int segments, std::span<float> out);

}  // namespace coughkit::model
