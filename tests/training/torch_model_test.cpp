// The LibTorch AttnMILResNet against PyTorch (tools/reference/attnmil.py): state-dict keys,
// eval outputs on the same weights, checkpoints written by save_checkpoint read back by
// Python's torch.load and by coughkit's reader, and the `--backend torch` runner against
// the engine.
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_reader.h"
#include "checkpoint/sha256.h"
#include "common/error.h"
#include "detection/model_factory.h"
#include "export/checkpoint_model.h"
#include "io/npy.h"
#include "model/engine.h"
#include "support/compare.h"
#include "support/run_cli.h"
#include "support/test_data.h"
#include "training/attnmil_torch.h"
#include "training/torch_backend.h"
#include "training/torch_checkpoint.h"

namespace coughkit::training {
namespace {

namespace fs = std::filesystem;
using testing::quoted;

const char* const kOutputNames[] = {"bag_probability", "segment_probabilities", "segment_logits", "bag_logit"};

fs::path fixture_dir() { return COUGHKIT_TORCH_MODEL_DIR; }

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing " + path.string() + " (the torch_model fixture makes it)");
  return nlohmann::json::parse(in);
}

struct Batch {
  torch::Tensor x, mask;  // (B,S,3,224,224) float, (B,S) bool
  std::vector<float> x_data;
  std::vector<std::uint8_t> mask_data;
  int batch = 0, segments = 0;
};

Batch load_batch() {
  Batch b;
  auto x = io::read_npy(fixture_dir() / "x.npy");
  auto m = io::read_npy(fixture_dir() / "mask.npy");
  EXPECT_EQ(x.shape.size(), 5u);
  b.batch = static_cast<int>(x.shape[0]);
  b.segments = static_cast<int>(x.shape[1]);
  b.x_data = x.data;
  for (float v : m.data) b.mask_data.push_back(v != 0.0f);
  b.x = torch::from_blob(b.x_data.data(), {b.batch, b.segments, 3, 224, 224}, torch::kFloat32).clone();
  b.mask = torch::from_blob(b.mask_data.data(), {b.batch, b.segments}, torch::kUInt8).ne(0);
  return b;
}

std::vector<float> values(const torch::Tensor& t) {
  const auto c = t.detach().contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

std::vector<float> values(const nlohmann::json& j) { return j.get<std::vector<float>>(); }

std::vector<std::vector<float>> outputs_of(const AttnMILOutputs& o) {
  return {values(o.bag_probability), values(o.segment_probabilities), values(o.segment_logits), values(o.bag_logit)};
}
std::vector<std::vector<float>> outputs_of(const model::ModelOutputs& o) {
  return {o.bag_probability, o.segment_probabilities, o.segment_logits, o.bag_logit};
}

std::string tensor_sha256(const torch::Tensor& t) {
  const auto c = t.contiguous();
  checkpoint::Sha256 h;
  h.update(std::string_view(static_cast<const char*>(c.data_ptr()), c.nbytes()));
  return h.hex_digest();
}

TEST(TorchModel, StateDictKeysShapesAndOrderAreExactlyPyTorchs) {
  const auto expected = read_json(fixture_dir() / "keys.json");
  AttnMILResNet model;
  const auto sd = state_dict(model);
  ASSERT_EQ(sd.size(), expected.size());
  for (std::size_t i = 0; i < sd.size(); ++i) {
    const auto& [name, tensor] = sd[i];
    EXPECT_EQ(name, expected[i][0].get<std::string>()) << "at " << i;
    EXPECT_EQ(tensor.sizes().vec(), expected[i][1].get<std::vector<std::int64_t>>()) << name;
    EXPECT_EQ(tensor.dtype() == torch::kInt64     ? "int64"
              : tensor.dtype() == torch::kFloat32 ? "float32"
                                                  : "other",
              expected[i][2].get<std::string>())
        << name;
  }
  // Parameters (not buffers) are what an optimiser sees: everything but BN statistics.
  std::size_t params = 0;
  for (const auto& p : model->named_parameters()) params += static_cast<std::size_t>(p.value().numel());
  EXPECT_EQ(params, 11176512u + 65664u + 129 + 262656u + 1024 + 513 + 513);
}

TEST(TorchModel, InitialisationIsTorchvisions) {
  torch::manual_seed(1);
  AttnMILResNet model;
  for (const auto& [name, t] : state_dict(model)) {
    if (name.ends_with("running_var") || (name.find("bn") != std::string::npos && name.ends_with(".weight")) ||
        (name.find("downsample.1") != std::string::npos && name.ends_with(".weight"))) {
      EXPECT_TRUE(torch::all(t == 1).item<bool>()) << name;
    }
    if (name.ends_with("running_mean") || (name.find("bn") != std::string::npos && name.ends_with(".bias"))) {
      EXPECT_TRUE(torch::all(t == 0).item<bool>()) << name;
    }
  }
  // kaiming_normal_(fan_out, relu): std = sqrt(2 / (out_channels * k * k)).
  const auto w = model->named_parameters()["backbone.layer4.1.conv2.weight"];
  EXPECT_NEAR(w.std().item<double>(), std::sqrt(2.0 / (512 * 9)), 0.02 * std::sqrt(2.0 / (512 * 9)));
  // Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  const auto a = model->named_parameters()["attn.0.weight"];
  EXPECT_LE(a.abs().max().item<double>(), 1.0 / std::sqrt(512.0));
  EXPECT_GT(a.abs().max().item<double>(), 0.9 / std::sqrt(512.0));
}

TEST(TorchModel, EvalOutputsMatchPyTorchOnTheSameWeights) {
  AttnMILResNet model = load_checkpoint_model((fixture_dir() / "model.pth").string());
  EXPECT_FALSE(model->is_training());
  const Batch b = load_batch();
  AttnMILOutputs out;
  {
    torch::NoGradGuard no_grad;
    out = model->forward(b.x, b.mask);
  }
  const auto expected = read_json(fixture_dir() / "expected.json");
  const auto got = outputs_of(out);
  for (int k = 0; k < 4; ++k) {
    const double tol = k == 0 || k == 1 ? 1e-5 : 1e-4;  // probabilities 1e-5; logits reported
    const auto d = testing::expect_close(got[k], values(expected[kOutputNames[k]]), tol, kOutputNames[k]);
    std::printf("[torch vs pytorch] %s: max |diff| = %.3g\n", kOutputNames[k], d.max_abs);
  }
}

TEST(TorchModel, ImagesToInputMatchesTheEnginesConversion) {
  torch::manual_seed(3);
  const torch::Tensor images = torch::rand({2, 224, 224}) * 2 - 1;
  const torch::Tensor x = images_to_input(images);
  ASSERT_EQ(x.sizes().vec(), (std::vector<std::int64_t>{2, 3, 224, 224}));
  const auto img = values(images);
  std::vector<float> engine_x(2 * model::kSegmentValues);
  model::images_to_model_input(img, 2, engine_x);
  const auto d = testing::expect_close(values(x), engine_x, 0.0, "images_to_input");
  std::printf("[images_to_input] max |diff| vs model::images_to_model_input = %.3g\n", d.max_abs);
}

TEST(TorchModel, LoadStateDictIsStrict) {
  const auto ckpt = checkpoint::read_checkpoint((fixture_dir() / "model.pth").string());
  AttnMILResNet model;
  // Missing key.
  checkpoint::StateDict missing("missing.pth");
  for (const auto& name : ckpt.state.names())
    if (name != "seg_head.bias") missing.add(name, ckpt.state.at(name));
  try {
    load_state_dict(model, missing);
    ADD_FAILURE() << "a missing key was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("seg_head.bias"), std::string::npos) << e.what();
  }
  // Wrong shape.
  checkpoint::StateDict wrong("wrong.pth");
  for (const auto& name : ckpt.state.names()) {
    auto t = ckpt.state.at(name);
    if (name == "seg_head.weight") t.shape = {512, 1};
    wrong.add(name, t);
  }
  EXPECT_THROW(load_state_dict(model, wrong), InputError);
  // Unexpected key.
  checkpoint::StateDict extra("extra.pth");
  for (const auto& name : ckpt.state.names()) extra.add(name, ckpt.state.at(name));
  extra.add("fc.weight", checkpoint::FloatTensor{{1}, checkpoint::ScalarType::Float32, {0.0f}});
  try {
    load_state_dict(model, extra);
    ADD_FAILURE() << "an unexpected key was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos) << e.what();
  }
}

// A model whose every tensor differs from a fresh one: random weights, non-trivial BN
// statistics and counters.
AttnMILResNet perturbed_model() {
  torch::manual_seed(20240611);
  AttnMILResNet model(0.3);
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : state_dict(model)) {
    if (name.ends_with("num_batches_tracked"))
      t.fill_(17);
    else if (name.ends_with("running_var"))
      t.copy_(0.5 + torch::rand_like(t));
    else if (name.ends_with("running_mean"))
      t.copy_(0.1 * torch::randn_like(t));
    else if (name.find("bn") != std::string::npos || name.find("downsample.1") != std::string::npos ||
             name.find("bag_head.2") != std::string::npos)
      t.add_(0.1 * torch::randn_like(t));
  }
  model->eval();
  return model;
}

TEST(TorchCheckpoint, SaveCheckpointReadsBackInPythonAndInCoughkitsReader) {
  const auto dir = testing::scratch_dir();
  AttnMILResNet model = perturbed_model();
  CheckpointInfo info;
  info.epoch = 12;
  info.val_auc = 0.9375;
  info.val_ap = 0.90625;
  info.config = {{"threshold", 0.45},
                 {"highpass_hz", 60.0},
                 {"epochs", 30},
                 {"augment", true},
                 {"model", "AttnMILResNet"},
                 {"classes", {"cough", "other"}},
                 {"nested", {{"a", 1}, {"b", nullptr}}},
                 {"big", 18446744073709551615ull}};
  const auto path = dir / "best_model.pth";
  save_checkpoint(path.string(), model, info);
  ASSERT_TRUE(fs::exists(path));
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "temporary left: " << e.path();

  const Batch b = load_batch();
  AttnMILOutputs mine;
  {
    torch::NoGradGuard no_grad;
    mine = model->forward(b.x, b.mask);
  }

  // Python: torch.load (also weights_only=True) + strict load_state_dict into attnmil.py's model.
  const auto result_path = dir / "python.json";
  const auto r = testing::run_command(std::string(COUGHKIT_PYTHON) + " " + COUGHKIT_ROUNDTRIP_PY + " check --ckpt " +
                                      quoted(path) + " --x " + quoted(fixture_dir() / "x.npy") + " --mask " +
                                      quoted(fixture_dir() / "mask.npy") + " --out " + quoted(result_path));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto py = read_json(result_path);
  EXPECT_EQ(py["weights_only"], "ok");
  // No TorchScript type tags (torch.jit._pickle.*): only what torch.save itself writes.
  for (const auto& g : py["globals"])
    EXPECT_TRUE(g == "collections.OrderedDict" || g == "torch._utils._rebuild_tensor_v2" || g == "torch.FloatStorage" ||
                g == "torch.LongStorage")
        << g;
  EXPECT_EQ(py["top_level_type"], "dict");
  const auto sd = state_dict(model);
  ASSERT_EQ(py["keys"].size(), sd.size());
  for (std::size_t i = 0; i < sd.size(); ++i) {
    const auto& [name, t] = sd[i];
    EXPECT_EQ(py["keys"][i], name);
    EXPECT_EQ(py["sha256"][name], tensor_sha256(t)) << name << ": Python read other bytes";
    EXPECT_EQ(py["dtypes"][name], t.dtype() == torch::kInt64 ? "int64" : "float32") << name;
  }
  const auto got = outputs_of(mine);
  for (int k = 0; k < 4; ++k) {
    const auto d = testing::expect_close(values(py["outputs"][kOutputNames[k]]), got[k], 1e-6, kOutputNames[k]);
    std::printf("[C++ checkpoint -> PyTorch] %s: max |diff| = %.3g\n", kOutputNames[k], d.max_abs);
  }
  EXPECT_EQ(py["epoch"], 12);
  EXPECT_DOUBLE_EQ(py["val_auc"].get<double>(), 0.9375);
  EXPECT_DOUBLE_EQ(py["val_ap"].get<double>(), 0.90625);
  auto expected_config = info.config;
  expected_config["big"] = 18446744073709551615.0;  // beyond int64: written as a float
  EXPECT_EQ(py["config"], expected_config) << py["config"].dump();

  // coughkit's reader: every float tensor bit for bit, and the metadata.
  const auto ckpt = checkpoint::read_checkpoint(path.string());
  EXPECT_EQ(ckpt.format, "zip");
  EXPECT_FALSE(ckpt.bare_state_dict);
  EXPECT_FALSE(ckpt.has_optimizer_state);
  std::size_t floats = 0;
  for (const auto& [name, t] : sd) {
    if (t.dtype() != torch::kFloat32) continue;
    ++floats;
    const auto& ft = ckpt.state.at(name, t.sizes().vec());
    ASSERT_EQ(ft.data.size(), static_cast<std::size_t>(t.numel())) << name;
    EXPECT_EQ(std::memcmp(ft.data.data(), t.contiguous().data_ptr<float>(), ft.data.size() * sizeof(float)), 0) << name;
  }
  EXPECT_EQ(ckpt.state.names().size(), floats);
  ASSERT_TRUE(ckpt.epoch && ckpt.val_auc && ckpt.val_ap);
  EXPECT_EQ(*ckpt.epoch, 12);
  EXPECT_DOUBLE_EQ(*ckpt.val_auc, 0.9375);
  EXPECT_DOUBLE_EQ(*ckpt.val_ap, 0.90625);
  EXPECT_DOUBLE_EQ(ckpt.config_number("threshold").value_or(-1), 0.45);
  EXPECT_EQ(ckpt.config_string("model"), "AttnMILResNet");
  const auto meta = exporter::checkpoint_metadata(ckpt);
  const auto threshold = std::find_if(meta.begin(), meta.end(), [](const auto& kv) { return kv.first == "threshold"; });
  ASSERT_NE(threshold, meta.end());
  EXPECT_EQ(threshold->second, "0.45");

  // And back into a C++ model: identical outputs.
  AttnMILResNet reloaded = load_checkpoint_model(path.string());
  AttnMILOutputs again;
  {
    torch::NoGradGuard no_grad;
    again = reloaded->forward(b.x, b.mask);
  }
  const auto got_again = outputs_of(again);
  for (int k = 0; k < 4; ++k) testing::expect_close(got_again[k], got[k], 0.0, kOutputNames[k]);
}

TEST(TorchCheckpoint, SaveCheckpointFailsCleanlyOnAnUnwritableDirectory) {
  AttnMILResNet model;
  EXPECT_THROW(save_checkpoint((testing::scratch_dir() / "no" / "such" / "dir" / "x.pth").string(), model, {}),
               std::runtime_error);
}

// torch::pickle_save (TorchScript's pickler, used by other LibTorch programs) tags every
// dict and list with torch.jit._pickle.restore_type_tag and writes int lists through
// build_intlist: identity functions coughkit's reader allows.
TEST(TorchCheckpoint, ReaderAcceptsTorchPickleSaveArchives) {
  AttnMILResNet model = perturbed_model();
  c10::Dict<std::string, torch::Tensor> state;
  for (const auto& [name, t] : state_dict(model)) state.insert(name, t.detach().clone());
  c10::impl::GenericDict config(c10::StringType::get(), c10::AnyType::get());
  config.insert("threshold", 0.5);
  c10::List<std::int64_t> ints({1, 2, 3});
  config.insert("ints", ints);
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("model_state_dict", state);
  root.insert("epoch", std::int64_t{4});
  root.insert("config", config);
  const auto bytes = torch::pickle_save(root);
  const auto path = testing::scratch_dir() / "pickle_save.pth";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

  const auto ckpt = checkpoint::read_checkpoint(path.string());
  EXPECT_EQ(*ckpt.epoch, 4);
  EXPECT_DOUBLE_EQ(ckpt.config_number("threshold").value_or(-1), 0.5);
  EXPECT_EQ(nlohmann::json::parse(ckpt.config_json).at("ints"), nlohmann::json({1, 2, 3}));
  const auto& w = ckpt.state.at("seg_head.weight", {1, 512});
  const auto t = state.at("seg_head.weight");
  EXPECT_EQ(std::memcmp(w.data.data(), t.data_ptr<float>(), 512 * sizeof(float)), 0);
}

TEST(TorchBackend, RunnerMatchesPyTorchAndTheEngine) {
  const auto path = (fixture_dir() / "model.pth").string();
  const auto ckpt = checkpoint::read_checkpoint(path);
  std::map<std::string, std::string> meta;
  for (auto& [k, v] : exporter::checkpoint_metadata(ckpt)) meta[k] = v;
  const auto runner = load_torch_runner(ckpt, meta, 2);
  EXPECT_EQ(runner->backend_name(), "libtorch");
  EXPECT_EQ(runner->threads(), 2);
  EXPECT_NE(runner->describe().find("LibTorch 1."), std::string::npos) << runner->describe();
  EXPECT_EQ(runner->metadata().at("threshold"), "0.55");
  EXPECT_EQ(runner->metadata().at("epoch"), "7");

  const Batch b = load_batch();
  const auto torch_out = runner->run(b.batch, b.segments, b.x_data, b.mask_data);
  EXPECT_EQ(torch_out.batch, b.batch);
  EXPECT_EQ(torch_out.segments, b.segments);
  const auto expected = read_json(fixture_dir() / "expected.json");
  const auto got = outputs_of(torch_out);
  for (int k = 0; k < 4; ++k) {
    const auto d =
        testing::expect_close(got[k], values(expected[kOutputNames[k]]), k < 2 ? 1e-5 : 1e-4, kOutputNames[k]);
    std::printf("[torch backend vs pytorch] %s: max |diff| = %.3g\n", kOutputNames[k], d.max_abs);
  }

  const auto engine = detection::open_engine(path, {.threads = 2});
  const auto engine_out = outputs_of(engine->run(b.batch, b.segments, b.x_data, b.mask_data));
  for (int k = 0; k < 4; ++k) {
    // Probabilities within the parity tolerance (docs/pipeline.md); logits reported.
    const auto d = testing::expect_close(got[k], engine_out[k], k < 2 ? 1e-4 : 1e-3, kOutputNames[k]);
    std::printf("[torch backend vs engine] %s: max |diff| = %.3g\n", kOutputNames[k], d.max_abs);
  }

  // Sizes are checked.
  EXPECT_THROW(runner->run(b.batch, b.segments + 1, b.x_data, b.mask_data), InputError);
  EXPECT_THROW(runner->run(b.batch, b.segments, b.x_data, std::span(b.mask_data).first(1)), InputError);
  EXPECT_THROW(runner->run(0, b.segments, {}, {}), InputError);
  EXPECT_THROW(load_torch_runner(ckpt, meta, -1), ConfigError);
}

TEST(TorchBackend, ConcurrentRunsAreSerialisedAndAgree) {
  const auto ckpt = checkpoint::read_checkpoint((fixture_dir() / "model.pth").string());
  const auto runner = load_torch_runner(ckpt, {}, 1);
  const Batch b = load_batch();
  // One bag of one segment per thread; all must give the same answer.
  std::vector<float> x(b.x_data.begin(), b.x_data.begin() + static_cast<std::ptrdiff_t>(model::kSegmentValues));
  const std::vector<std::uint8_t> mask{1};
  const auto first = runner->run(1, 1, x, mask);
  std::vector<model::ModelOutputs> outs(3);
  std::vector<std::thread> threads;
  for (auto& o : outs) threads.emplace_back([&] { o = runner->run(1, 1, x, mask); });
  for (auto& t : threads) t.join();
  for (const auto& o : outs) {
    EXPECT_EQ(o.bag_probability, first.bag_probability);
    EXPECT_EQ(o.segment_logits, first.segment_logits);
  }
}

}  // namespace
}  // namespace coughkit::training
