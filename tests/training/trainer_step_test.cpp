// One optimisation step of the trainer against PyTorch's (tools/reference/train_step.py):
// same initial weights, same three bags (S = 2, 1, 3), dropout 0, no augmentation. The batch
// assembly must give PyTorch's padded input, the loss and every updated weight and
// BatchNorm running statistic must match: for the reference recipe (the bag loss alone) and
// with the segment loss (two bags with segment labels, one without).
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_reader.h"
#include "common/half.h"
#include "io/npy.h"
#include "training/torch_checkpoint.h"
#include "training/train_loop.h"

namespace coughkit::training {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = COUGHKIT_TRAIN_STEP_DIR;
const fs::path kSegmentDir = COUGHKIT_TRAIN_STEP_SEGMENTS_DIR;

Bag bag_from_npy(const fs::path& path, float label) {
  const io::NpyArray a = io::read_npy(path);
  Bag bag{path.filename().string(), label, a.shape.at(0), std::vector<std::uint16_t>(a.size())};
  floats_to_halves(a.data, bag.half);  // the images were rounded through float16: exact
  return bag;
}

double max_abs_diff(const torch::Tensor& a, const std::vector<float>& b) {
  const auto flat = a.contiguous().to(torch::kFloat32).view({-1});
  EXPECT_EQ(static_cast<std::size_t>(flat.numel()), b.size());
  const float* p = flat.data_ptr<float>();
  double worst = 0;
  for (std::size_t i = 0; i < b.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(p[i] - b[i])));
  return worst;
}

void expect_step_matches_pytorch(const fs::path& kDir) {
  torch::set_num_threads(2);  // as the reference ran
  std::ifstream in(kDir / "reference.json");
  ASSERT_TRUE(in) << "missing " << (kDir / "reference.json") << ": run the generate_train_step* tests";
  const auto ref = nlohmann::json::parse(in);
  const auto labels = ref.at("labels").get<std::vector<float>>();
  LossOptions loss_options;
  loss_options.pos_weight = ref.at("pos_weight").get<double>();
  const bool with_segments = ref.contains("segment_labels");
  if (with_segments) {
    loss_options.segment_weight = ref.at("segment_loss_weight").get<double>();
    loss_options.segment_pos_weight = ref.at("segment_pos_weight").get<double>();
  }

  // The batch, assembled by the trainer, is PyTorch's padded batch.
  std::vector<Bag> bags;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    bags.push_back(bag_from_npy(kDir / ("bag" + std::to_string(i) + ".npy"), labels[i]));
    if (with_segments && !ref.at("segment_labels").at(i).is_null())
      bags.back().segment_labels = ref.at("segment_labels").at(i).get<std::vector<float>>();
  }
  std::vector<const Bag*> ptrs;
  for (const Bag& b : bags) ptrs.push_back(&b);
  const Batch batch = make_batch(ptrs);
  const io::NpyArray inputs = io::read_npy(kDir / "inputs.npy");
  const io::NpyArray mask = io::read_npy(kDir / "mask.npy");
  ASSERT_EQ(batch.inputs.sizes(), torch::IntArrayRef({3, 3, 3, 224, 224}));
  const double input_diff = max_abs_diff(batch.inputs, inputs.data);
  EXPECT_LE(input_diff, 1e-6);
  EXPECT_EQ(max_abs_diff(batch.mask.to(torch::kFloat32), mask.data), 0.0);
  EXPECT_EQ(max_abs_diff(batch.labels, labels), 0.0);
  if (with_segments) {
    // Bag 0's two segments, none of bag 1 (no labels), bag 2's three; never the padding.
    EXPECT_EQ(max_abs_diff(batch.segment_labelled.to(torch::kFloat32), {1, 1, 0, 0, 0, 0, 1, 1, 1}), 0.0);
    EXPECT_EQ(max_abs_diff(batch.segment_labels, {1, 0, 0, 0, 0, 0, 0, 0, 1}), 0.0);
    AttnMILResNet probe = load_checkpoint_model((kDir / "initial.pth").string(), 0.0);
    probe->train();
    const AttnMILOutputs out = probe->forward(batch.inputs, batch.mask);
    const double term = segment_loss(out.segment_logits, batch, loss_options.segment_pos_weight).item<double>();
    const double ref_term = ref.at("segment_loss").get<double>();
    EXPECT_LE(std::abs(term - ref_term) / ref_term, 1e-5) << "segment loss " << term << " vs PyTorch " << ref_term;
  }

  // One step from the same weights.
  AttnMILResNet model = load_checkpoint_model((kDir / "initial.pth").string(), 0.0);
  auto optimizer = make_optimizer(model, ref.at("lr").get<double>(), ref.at("weight_decay").get<double>());
  const double loss = train_step(model, *optimizer, batch, loss_options);
  const double ref_loss = ref.at("loss").get<double>();
  const double loss_rel = std::abs(loss - ref_loss) / std::abs(ref_loss);
  EXPECT_LE(loss_rel, 1e-5) << "loss " << loss << " vs PyTorch " << ref_loss;

  const checkpoint::Checkpoint updated = checkpoint::read_checkpoint((kDir / "updated.pth").string());
  const checkpoint::Checkpoint initial = checkpoint::read_checkpoint((kDir / "initial.pth").string());
  double worst = 0, worst_change = 0, segment_head_change = 0;
  std::string worst_key;
  std::size_t compared = 0;
  for (const auto& [name, tensor] : state_dict(model)) {
    if (!tensor.is_floating_point()) continue;  // num_batches_tracked: the reader drops it
    ASSERT_TRUE(updated.state.contains(name)) << name;
    const auto& want = updated.state.at(name).data;
    const double d = max_abs_diff(tensor, want);
    if (d > worst) {
      worst = d;
      worst_key = name;
    }
    // The step must have moved the weights (not a test that passes by doing nothing): by
    // about lr, Adam's first step being lr * g / (|g| + eps).
    if (name.find("running_") == std::string::npos) {
      const auto& before = initial.state.at(name).data;
      for (std::size_t i = 0; i < want.size(); ++i) {
        const double change = std::abs(want[i] - before[i]);
        worst_change = std::max(worst_change, change);
        if (name.starts_with("seg_head.")) segment_head_change = std::max(segment_head_change, change);
      }
    }
    ++compared;
  }
  EXPECT_EQ(compared, updated.state.names().size());
  EXPECT_GT(worst_change, 5e-5);
  EXPECT_LT(worst_change, 2e-4);
  EXPECT_LE(worst, 1e-5) << "worst key " << worst_key;
  // The segment head learns only from the segment term (without it, weight decay alone
  // moves it by lr * weight_decay * |w|).
  if (with_segments) {
    EXPECT_GT(segment_head_change, 5e-5);
  } else {
    EXPECT_LT(segment_head_change, 1e-6);
  }
  std::printf(
      "one step vs PyTorch: input max diff %.3g, loss %.9g vs %.9g (rel %.3g), %zu tensors, weights/buffers max diff "
      "%.3g (%s), "
      "largest change of a parameter in the step %.3g (segment head %.3g)%s\n",
      input_diff, loss, ref_loss, loss_rel, compared, worst, worst_key.c_str(), worst_change, segment_head_change,
      with_segments ? ", with the segment loss" : "");
}

TEST(TrainStep, MatchesPyTorch) { expect_step_matches_pytorch(kDir); }

TEST(TrainStep, WithSegmentLossMatchesPyTorch) { expect_step_matches_pytorch(kSegmentDir); }

}  // namespace
}  // namespace coughkit::training
