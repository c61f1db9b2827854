#include "training/attnmil_torch.h"

#include <limits>
#include <set>

#include <fmt/format.h>

#include "common/error.h"
#include "features/model_input_contract.h"

namespace coughkit::training {
namespace {

namespace nn = torch::nn;

// torchvision.models.resnet.BasicBlock: conv3x3-bn-relu-conv3x3-bn, plus the identity or
// downsample (conv1x1 stride s, bn), then relu. Children registered in torchvision's order
// (conv1, bn1, conv2, bn2, downsample) so state-dict keys and order match.
class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride) {
    conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
    bn1_ = register_module("bn1", nn::BatchNorm2d(out));
    conv2_ = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).stride(1).padding(1).bias(false)));
    bn2_ = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      downsample_ = register_module(
          "downsample",
          nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)), nn::BatchNorm2d(out)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = conv1_->forward(x);
    out = bn1_->forward(out);
    out = torch::relu(out);
    out = conv2_->forward(out);
    out = bn2_->forward(out);
    const torch::Tensor identity = downsample_ ? downsample_->forward(x) : x;
    out = out + identity;
    return torch::relu(out);
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

// torchvision.models.resnet18(weights=None) with fc = Identity (which has no parameters,
// so it is simply not there).
class ResNet18Impl : public nn::Module {
 public:
  ResNet18Impl() {
    conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
    bn1_ = register_module("bn1", nn::BatchNorm2d(64));
    std::int64_t in = 64;
    const std::int64_t widths[4] = {64, 128, 256, 512};
    for (int i = 0; i < 4; ++i) {
      const std::int64_t stride = i == 0 ? 1 : 2;
      nn::Sequential layer(BasicBlock(in, widths[i], stride), BasicBlock(widths[i], widths[i], 1));
      layers_[i] = register_module(fmt::format("layer{}", i + 1), layer);
      in = widths[i];
    }
    // torchvision's initialisation (zero_init_residual=False).
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
        nn::init::constant_(bn->weight, 1.0);
        nn::init::constant_(bn->bias, 0.0);
      }
    }
  }

  torch::Tensor forward(const torch::Tensor& images) {
    torch::Tensor x = conv1_->forward(images);
    x = bn1_->forward(x);
    x = torch::relu(x);
    x = torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
    for (auto& layer : layers_) x = layer->forward(x);
    x = torch::adaptive_avg_pool2d(x, {1, 1});
    return torch::flatten(x, 1);
  }

 private:
  nn::Conv2d conv1_{nullptr};
  nn::BatchNorm2d bn1_{nullptr};
  nn::Sequential layers_[4] = {nn::Sequential{nullptr}, nn::Sequential{nullptr}, nn::Sequential{nullptr},
                               nn::Sequential{nullptr}};
};
TORCH_MODULE(ResNet18);

constexpr std::int64_t kFeatureDim = 512;

}  // namespace

struct AttnMILResNetImpl::Parts {
  ResNet18 backbone{nullptr};
  nn::Sequential attn{nullptr}, bag_head{nullptr};
  nn::Linear seg_head{nullptr};
};

AttnMILResNetImpl::AttnMILResNetImpl(double dropout, int attn_hidden) : parts_(std::make_shared<Parts>()) {
  if (!(dropout >= 0.0 && dropout < 1.0)) throw ConfigError(fmt::format("dropout must be in [0, 1), got {}", dropout));
  if (attn_hidden < 1) throw ConfigError(fmt::format("attn_hidden must be positive, got {}", attn_hidden));
  // Registration order = the reference's attribute order = state-dict order.
  parts_->backbone = register_module("backbone", ResNet18());
  parts_->attn = register_module(
      "attn", nn::Sequential(nn::Linear(kFeatureDim, attn_hidden), nn::Tanh(), nn::Linear(attn_hidden, 1)));
  parts_->bag_head = register_module(
      "bag_head", nn::Sequential(nn::Linear(kFeatureDim, kFeatureDim), nn::ReLU(), nn::BatchNorm1d(kFeatureDim),
                                 nn::Dropout(dropout), nn::Linear(kFeatureDim, 1)));
  parts_->seg_head = register_module("seg_head", nn::Linear(kFeatureDim, 1));
}

torch::Tensor AttnMILResNetImpl::backbone_features(const torch::Tensor& images) {
  return parts_->backbone->forward(images);
}

AttnMILOutputs AttnMILResNetImpl::forward(const torch::Tensor& spectrograms, const torch::Tensor& segment_mask) {
  TORCH_CHECK(spectrograms.dim() == 5, "spectrograms must be (B, S, 3, H, W), got ", spectrograms.sizes());
  TORCH_CHECK(segment_mask.dim() == 2 && segment_mask.size(0) == spectrograms.size(0) &&
                  segment_mask.size(1) == spectrograms.size(1),
              "segment_mask must be (B, S) = (", spectrograms.size(0), ", ", spectrograms.size(1), "), got ",
              segment_mask.sizes());
  const std::int64_t b = spectrograms.size(0), s = spectrograms.size(1);
  const torch::Tensor flat =
      spectrograms.reshape({b * s, spectrograms.size(2), spectrograms.size(3), spectrograms.size(4)});
  torch::Tensor feats;
  const torch::Tensor real =
      skip_padding_ ? segment_mask.reshape({b * s}).to(torch::kBool).nonzero().squeeze(1) : torch::Tensor();
  if (skip_padding_ && real.size(0) < b * s) {
    // Only the bags' own segments go through the backbone; padded slots get zero features
    // (masked out of the attention anyway). See set_skip_padding().
    const torch::Tensor real_feats = parts_->backbone->forward(flat.index_select(0, real));
    feats = torch::zeros({b * s, real_feats.size(1)}, real_feats.options()).index_copy(0, real, real_feats);
  } else {
    feats = parts_->backbone->forward(flat);
  }
  const torch::Tensor bag_feats = feats.reshape({b, s, feats.size(1)});
  torch::Tensor scores = parts_->attn->forward(feats).reshape({b, s});
  const torch::Tensor lowest =
      torch::tensor(std::numeric_limits<float>::lowest(), torch::TensorOptions().dtype(scores.dtype()));
  scores = torch::where(segment_mask.to(torch::kBool), scores, lowest);
  const torch::Tensor weights = torch::softmax(scores, 1);
  const torch::Tensor bag = (weights.unsqueeze(-1) * bag_feats).sum(1);
  const torch::Tensor bag_logit = parts_->bag_head->forward(bag).squeeze(1);
  const torch::Tensor segment_logits = parts_->seg_head->forward(feats).reshape({b, s});
  return {torch::sigmoid(bag_logit), torch::sigmoid(segment_logits), segment_logits, bag_logit};
}

std::vector<std::pair<std::string, torch::Tensor>> state_dict(AttnMILResNet& model) {
  // torch.nn.Module.state_dict(): each module's own parameters, then its own buffers, then
  // its children's, depth first in registration order.
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model->named_modules()) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false))
      out.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.key(), b.value());
  }
  return out;
}

void load_state_dict(AttnMILResNet& model, const checkpoint::StateDict& state) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& [name, tensor] : state_dict(model)) {
    if (!tensor.is_floating_point()) {
      // num_batches_tracked: the reader keeps float tensors only; momentum is set, so the
      // count never affects the running statistics.
      continue;
    }
    const auto& t = state.at(name, tensor.sizes().vec());  // InputError naming the key
    const auto src = torch::from_blob(const_cast<float*>(t.data.data()), tensor.sizes(), torch::kFloat32);
    tensor.copy_(src);
    used.insert(name);
  }
  for (const auto& name : state.names()) {
    if (!used.count(name))
      throw InputError(
          fmt::format("{}: unexpected key '{}' (not a parameter or buffer of AttnMILResNet)", state.source(), name));
  }
}

torch::Tensor images_to_input(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 3, "images must be (S, H, W), got ", images.sizes());
  const torch::Tensor x01 = (images.to(torch::kFloat32) + 1.0) / 2.0;
  const auto& m = features::kImageNetMean;
  const auto& s = features::kImageNetStd;
  const auto mean = torch::tensor({m[0], m[1], m[2]}).view({1, 3, 1, 1});
  const auto std = torch::tensor({s[0], s[1], s[2]}).view({1, 3, 1, 1});
  return (x01.unsqueeze(1).expand({-1, 3, -1, -1}) - mean) / std;
}

}  // namespace coughkit::training
