#include "export/attnmil_onnx.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <variant>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "common/error.h"
#include "model/op_specs.h"

namespace coughkit::exporter {
namespace {

using checkpoint::FloatTensor;
using checkpoint::StateDict;
using Shape = std::vector<std::int64_t>;

// torch.nn.BatchNorm{1,2}d default eps; the checkpoint does not store it.
constexpr double kBatchNormEps = 1e-5;

// ResNet-18: four stages of two BasicBlocks (docs/pipeline.md section 6).
constexpr int kStageChannels[4] = {64, 128, 256, 512};
constexpr int kFeatures = 512;

// IR version that goes with each opset (onnx/helper.py VERSION_TABLE), so older runtimes
// accept the file.
int ir_version_for(int opset) { return opset <= 11 ? 6 : opset <= 14 ? 7 : 8; }

class GraphBuilder {
 public:
  GraphBuilder(const StateDict& sd, const ExportOptions& o, onnx::GraphProto& g) : sd_(sd), opt_(o), g_(g) {}

  // A float initializer; with fp16 it is stored as float16 behind a Cast node.
  std::string weight(const std::string& name, const std::vector<float>& data, const Shape& shape) {
    auto* t = g_.add_initializer();
    for (auto d : shape) t->add_dims(d);
    if (!opt_.fp16) {
      t->set_name(name);
      t->set_data_type(onnx::TensorProto::FLOAT);
      t->set_raw_data(std::string(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(float)));
      return name;
    }
    t->set_name(name + "_fp16");
    t->set_data_type(onnx::TensorProto::FLOAT16);
    std::string raw(data.size() * 2, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) {
      const std::uint16_t h = checkpoint::float_to_half(data[i]);
      std::memcpy(raw.data() + 2 * i, &h, 2);
    }
    t->set_raw_data(std::move(raw));
    auto* cast = node("Cast", {name + "_fp16"}, {name}, "Cast_" + name);
    attr_int(cast, "to", onnx::TensorProto::FLOAT);
    return name;
  }

  std::string ints(const std::string& name, const Shape& values) {
    auto* t = g_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(values.size()));
    for (auto v : values) t->add_int64_data(v);
    return name;
  }

  std::string scalar(const std::string& name, float value) {
    auto* t = g_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(value);
    return name;
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                        const std::string& name) {
    auto* n = g_.add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : in) n->add_input(i);
    for (const auto& o : out) n->add_output(o);
    return n;
  }
  static void attr_int(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_ints(onnx::NodeProto* n, const std::string& name, const Shape& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  static void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }

  // BatchNorm `bn` (weight, bias, running_mean, running_var) as per-channel scale/shift:
  // y = x * scale + shift. Computed in double, like a careful fold, then rounded once.
  void bn_affine(const std::string& bn, std::int64_t c, std::vector<double>& scale, std::vector<double>& shift) {
    const auto& g = sd_.at(bn + ".weight", {c});
    const auto& b = sd_.at(bn + ".bias", {c});
    const auto& m = sd_.at(bn + ".running_mean", {c});
    const auto& v = sd_.at(bn + ".running_var", {c});
    scale.resize(c);
    shift.resize(c);
    for (std::int64_t i = 0; i < c; ++i) {
      if (!(v.data[i] >= 0.0f))
        throw InputError(fmt::format("{}: '{}.running_var' has a negative or NaN entry", sd_.source(), bn));
      scale[i] = g.data[i] / std::sqrt(static_cast<double>(v.data[i]) + kBatchNormEps);
      shift[i] = b.data[i] - m.data[i] * scale[i];
    }
  }

  // Conv (no bias, as in torchvision) followed by BatchNorm, folded: W' = W * s, b' = shift.
  std::string conv_bn(const std::string& x, const std::string& conv, const std::string& bn, std::int64_t cin,
                      std::int64_t cout, int k, int stride, int pad, const std::string& out) {
    const auto& w = sd_.at(conv + ".weight", {cout, cin, k, k});
    std::vector<double> scale, shift;
    bn_affine(bn, cout, scale, shift);
    std::vector<float> wf(w.data.size()), bf(cout);
    const std::size_t per_out = w.data.size() / cout;
    for (std::int64_t o = 0; o < cout; ++o) {
      for (std::size_t j = 0; j < per_out; ++j)
        wf[o * per_out + j] = static_cast<float>(w.data[o * per_out + j] * scale[o]);
      bf[o] = static_cast<float>(shift[o]);
    }
    const auto wn = weight(conv + ".weight", wf, w.shape);
    const auto bn_name = weight(conv + ".bias", bf, {cout});
    auto* n = node("Conv", {x, wn, bn_name}, {out}, conv);
    attr_ints(n, "kernel_shape", {k, k});
    attr_ints(n, "strides", {stride, stride});
    attr_ints(n, "pads", {pad, pad, pad, pad});
    attr_ints(n, "dilations", {1, 1});
    attr_int(n, "group", 1);
    return out;
  }

  // y = x W^T + b (torch.nn.Linear) as Gemm transB=1.
  std::string linear(const std::string& x, const std::string& name, const std::vector<float>& w,
                     const std::vector<float>& b, std::int64_t out_f, std::int64_t in_f, const std::string& out) {
    const auto wn = weight(name + ".weight", w, {out_f, in_f});
    const auto bn = weight(name + ".bias", b, {out_f});
    auto* n = node("Gemm", {x, wn, bn}, {out}, name);
    attr_float(n, "alpha", 1.0f);
    attr_float(n, "beta", 1.0f);
    attr_int(n, "transB", 1);
    return out;
  }
  std::string linear(const std::string& x, const std::string& name, std::int64_t out_f, std::int64_t in_f,
                     const std::string& out) {
    return linear(x, name, sd_.at(name + ".weight", {out_f, in_f}).data, sd_.at(name + ".bias", {out_f}).data, out_f,
                  in_f, out);
  }

  std::string unary(const std::string& op, const std::string& x, const std::string& out) {
    node(op, {x}, {out}, out);
    return out;
  }

  // Unsqueeze/ReduceSum take axes as an attribute before opset 13, as an input from 13.
  onnx::NodeProto* with_axes(const std::string& op, const std::string& x, const Shape& axes, const std::string& out) {
    if (opt_.opset >= 13) return node(op, {x, ints(out + "_axes", axes)}, {out}, out);
    auto* n = node(op, {x}, {out}, out);
    attr_ints(n, "axes", axes);
    return n;
  }

  std::string basic_block(const std::string& x, const std::string& p, std::int64_t cin, std::int64_t cout, int stride) {
    auto y = conv_bn(x, p + ".conv1", p + ".bn1", cin, cout, 3, stride, 1, p + ".conv1_out");
    y = unary("Relu", y, p + ".relu1_out");
    y = conv_bn(y, p + ".conv2", p + ".bn2", cout, cout, 3, 1, 1, p + ".conv2_out");
    std::string identity = x;
    if (stride != 1 || cin != cout)
      identity = conv_bn(x, p + ".downsample.0", p + ".downsample.1", cin, cout, 1, stride, 0, p + ".downsample_out");
    node("Add", {y, identity}, {p + ".add_out"}, p + ".add");
    return unary("Relu", p + ".add_out", p + ".out");
  }

  void build() {
    // (B, S, 3, 224, 224) -> (B*S, 3, 224, 224): segments folded into the batch.
    node("Reshape", {"spectrograms", ints("image_batch_shape", {-1, 3, 224, 224})}, {"images"}, "fold_segments");
    auto x = conv_bn("images", "backbone.conv1", "backbone.bn1", 3, 64, 7, 2, 3, "backbone.conv1_out");
    x = unary("Relu", x, "backbone.relu_out");
    auto* pool = node("MaxPool", {x}, {"backbone.maxpool_out"}, "backbone.maxpool");
    attr_ints(pool, "kernel_shape", {3, 3});
    attr_ints(pool, "strides", {2, 2});
    attr_ints(pool, "pads", {1, 1, 1, 1});
    x = "backbone.maxpool_out";
    std::int64_t cin = 64;
    for (int stage = 0; stage < 4; ++stage) {
      const std::int64_t cout = kStageChannels[stage];
      for (int block = 0; block < 2; ++block) {
        const int stride = stage > 0 && block == 0 ? 2 : 1;
        x = basic_block(x, fmt::format("backbone.layer{}.{}", stage + 1, block), cin, cout, stride);
        cin = cout;
      }
    }
    node("GlobalAveragePool", {x}, {"backbone.avgpool_out"}, "backbone.avgpool");
    auto* flat = node("Flatten", {"backbone.avgpool_out"}, {"features"}, "backbone.flatten");
    attr_int(flat, "axis", 1);

    // (B, S) from the mask's shape: the dynamic axes come from the inputs, never constants.
    node("Shape", {"segment_mask"}, {"bag_shape"}, "bag_shape");
    auto* concat =
        node("Concat", {"bag_shape", ints("feature_dim", {kFeatures})}, {"bag_feature_shape"}, "bag_feature_shape");
    attr_int(concat, "axis", 0);
    node("Reshape", {"features", "bag_feature_shape"}, {"bag_features"}, "bag_features");

    // Attention: Linear -> Tanh -> Linear, one score per segment; masked scores become
    // float32 lowest before the softmax over S (docs/pipeline.md section 6).
    const std::int64_t hidden = sd_.at("attn.0.weight").shape.empty() ? 0 : sd_.at("attn.0.weight").shape[0];
    if (hidden <= 0 || hidden > 65536)
      throw InputError(fmt::format("{}: 'attn.0.weight' has shape {}, expected (hidden,512)", sd_.source(),
                                   checkpoint::shape_string(sd_.at("attn.0.weight").shape)));
    linear("features", "attn.0", hidden, kFeatures, "attn.0_out");
    unary("Tanh", "attn.0_out", "attn.1_out");
    linear("attn.1_out", "attn.2", 1, hidden, "attn.2_out");
    node("Reshape", {"attn.2_out", "bag_shape"}, {"scores"}, "scores");
    node("Where", {"segment_mask", "scores", scalar("lowest", std::numeric_limits<float>::lowest())}, {"masked_scores"},
         "mask_scores");
    auto* softmax = node("Softmax", {"masked_scores"}, {"attention"}, "softmax");
    attr_int(softmax, "axis", 1);
    with_axes("Unsqueeze", "attention", {2}, "attention_3d");
    node("Mul", {"attention_3d", "bag_features"}, {"weighted_features"}, "weight_features");
    attr_int(with_axes("ReduceSum", "weighted_features", {1}, "bag_feature"), "keepdims", 0);
    const std::string bag = "bag_feature";

    // Bag head: Linear -> ReLU -> BatchNorm1d -> Dropout (identity) -> Linear. The
    // BatchNorm is folded into the last Linear: W4 (x*s + t) + b4 = (W4 diag(s)) x + (W4 t + b4).
    linear(bag, "bag_head.0", kFeatures, kFeatures, "bag_head.0_out");
    unary("Relu", "bag_head.0_out", "bag_head.1_out");
    std::vector<double> scale, shift;
    bn_affine("bag_head.2", kFeatures, scale, shift);
    const auto& w4 = sd_.at("bag_head.4.weight", {1, kFeatures});
    const auto& b4 = sd_.at("bag_head.4.bias", {1});
    std::vector<float> w4f(kFeatures);
    double b4d = b4.data[0];
    for (int i = 0; i < kFeatures; ++i) {
      w4f[i] = static_cast<float>(w4.data[i] * scale[i]);
      b4d += w4.data[i] * shift[i];
    }
    linear("bag_head.1_out", "bag_head.4", w4f, {static_cast<float>(b4d)}, 1, kFeatures, "bag_head.4_out");
    node("Reshape", {"bag_head.4_out", ints("flat_shape", {-1})}, {"bag_logit"}, "bag_logit");

    // Segment head on every segment's features.
    linear("features", "seg_head", 1, kFeatures, "seg_head_out");
    node("Reshape", {"seg_head_out", "bag_shape"}, {"segment_logits"}, "segment_logits");
    unary("Sigmoid", "bag_logit", "bag_probability");
    unary("Sigmoid", "segment_logits", "segment_probabilities");
  }

 private:
  const StateDict& sd_;
  const ExportOptions& opt_;
  onnx::GraphProto& g_;
};

void add_io(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list, const std::string& name, int type,
            const std::vector<std::variant<std::int64_t, std::string>>& dims) {
  auto* v = list->Add();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(type);
  for (const auto& d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (std::holds_alternative<std::int64_t>(d))
      dim->set_dim_value(std::get<std::int64_t>(d));
    else
      dim->set_dim_param(std::get<std::string>(d));
  }
}

}  // namespace

void ExportOptions::Validate() const {
  if (opset < model::kMinOpset || opset > model::kMaxOpset)
    throw ConfigError(fmt::format("opset must be in [{}, {}], got {}", model::kMinOpset, model::kMaxOpset, opset));
}

std::string build_attnmil_onnx(const checkpoint::StateDict& state, const ExportOptions& options) {
  options.Validate();
  onnx::ModelProto m;
  m.set_ir_version(ir_version_for(options.opset));
  m.set_producer_name("coughkit");
  m.set_producer_version(COUGHKIT_VERSION);
  m.set_doc_string("AttnMILResNet cough model exported from a PyTorch checkpoint by coughkit");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(options.opset);
  auto* g = m.mutable_graph();
  g->set_name("AttnMILResNet");
  // Dynamic axes as torch.onnx.export names them (tools/reference/export_models.py).
  const std::string B = "batch_size", S = "num_segments";
  add_io(g->mutable_input(), "spectrograms", onnx::TensorProto::FLOAT,
         {B, S, std::int64_t{3}, std::int64_t{224}, std::int64_t{224}});
  add_io(g->mutable_input(), "segment_mask", onnx::TensorProto::BOOL, {B, S});
  add_io(g->mutable_output(), "bag_probability", onnx::TensorProto::FLOAT, {B});
  add_io(g->mutable_output(), "segment_probabilities", onnx::TensorProto::FLOAT, {B, S});
  add_io(g->mutable_output(), "segment_logits", onnx::TensorProto::FLOAT, {B, S});
  add_io(g->mutable_output(), "bag_logit", onnx::TensorProto::FLOAT, {B});
  GraphBuilder(state, options, *g).build();
  for (const auto& [k, v] : options.metadata) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes)) throw InputError(state.source() + ": the ONNX model could not be serialised");
  return bytes;
}

}  // namespace coughkit::exporter
