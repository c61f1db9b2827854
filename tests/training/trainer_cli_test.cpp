// `coughkit train` run as a user runs it, on a small learnable corpus written as WAV files
// (cough = a 1 kHz tone in noise, no cough = noise alone; 2.0 or 2.5 s, so 1 or 2 segments):
// outputs, a falling training loss, the best checkpoint read back by PyTorch (strict
// load_state_dict) and by coughkit's reader with the same outputs, resuming that repeats an
// uninterrupted run exactly, unusable rows / an empty training set, and the segment loss
// from a segment_labels column.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "features/feature_cache.h"
#include "io/npy.h"
#include "support/run_cli.h"
#include "support/test_data.h"
#include "training/torch_checkpoint.h"

namespace coughkit::training {
namespace {

namespace fs = std::filesystem;
std::string qp(const fs::path& p) { return coughkit::testing::quoted(p); }
using coughkit::testing::run_cli;
using coughkit::testing::run_command;

void write_wav(const fs::path& path, const std::vector<float>& samples) {
  std::vector<std::int16_t> s16;
  for (float s : samples) s16.push_back(static_cast<std::int16_t>(std::lround(std::clamp(s, -1.0f, 1.0f) * 32767.0f)));
  coughkit::testing::write_wav_s16(path, s16, 16000);
}

// A clip: 1 kHz tone in faint noise (cough) or noise alone (no cough).
void write_clip(const fs::path& path, bool cough, double seconds, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  const auto n = static_cast<std::size_t>(seconds * 16000);
  std::vector<float> x(n);
  const float tone_hz = 900.0f + 200.0f * static_cast<float>(seed % 5) / 4.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float t = static_cast<float>(i) / 16000.0f;
    x[i] = cough ? 0.5f * std::sin(2.0f * 3.14159265f * tone_hz * t) + 0.02f * noise(rng) : 0.2f * noise(rng);
  }
  write_wav(path, x);
}

struct Row {
  std::string file;
  int label;
};

// Writes `count` clips alternating cough / no cough into dir and returns their rows.
std::vector<Row> make_clips(const fs::path& dir, const std::string& prefix, int count, std::uint32_t seed) {
  fs::create_directories(dir);
  std::vector<Row> rows;
  for (int i = 0; i < count; ++i) {
    const bool cough = i % 2 == 0;
    const std::string name = prefix + "_" + std::to_string(i) + (cough ? "_cough.wav" : "_other.wav");
    write_clip(dir / name, cough, (i / 2) % 2 ? 2.5 : 2.0, seed + static_cast<std::uint32_t>(i));
    rows.push_back({name, cough ? 1 : 0});
  }
  return rows;
}

void write_csv(const fs::path& path, const std::vector<Row>& rows) {
  std::ofstream out(path);
  out << "file_path,cough_label\n";
  for (const auto& r : rows) out << r.file << "," << r.label << "\n";
}

// history.csv rows without the `seconds` column.
std::vector<std::string> history_rows(const fs::path& path) {
  std::vector<std::string> rows;
  std::istringstream in(testing::file_contents(path));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "epoch,lr,train_loss,val_loss,val_accuracy,val_roc_auc,val_average_precision,seconds,best");
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ls(line);
    std::string f;
    while (std::getline(ls, f, ',')) fields.push_back(f);
    EXPECT_EQ(fields.size(), 9u) << line;
    if (fields.size() == 9) fields.erase(fields.begin() + 7);
    std::string joined;
    for (const auto& x : fields) joined += x + ",";
    rows.push_back(joined);
  }
  return rows;
}

std::vector<double> column(const fs::path& csv, std::size_t index) {
  std::vector<double> out;
  std::istringstream in(testing::file_contents(csv));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream ls(line);
    std::string f;
    for (std::size_t i = 0; i <= index; ++i) std::getline(ls, f, ',');
    out.push_back(std::stod(f));
  }
  return out;
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = coughkit::testing::scratch_dir();
    data_ = root_ / "data";
    train_ = make_clips(data_, "train", 8, 100);
    val_ = make_clips(data_, "val", 4, 200);
    test_ = make_clips(data_, "test", 2, 300);
    write_csv(data_ / "train.csv", train_);
    write_csv(data_ / "val.csv", val_);
    write_csv(data_ / "test.csv", test_);
  }
  std::string train_args(const fs::path& out, int epochs) const {
    return "train --train-csv " + qp(data_ / "train.csv") + " --val-csv " + qp(data_ / "val.csv") + " --test-csv " +
           qp(data_ / "test.csv") + " --cache " + qp(root_ / "cache") + " --out " + qp(out) + " --epochs " +
           std::to_string(epochs) + " --batch-size 4 --lr 1e-3 --threads 2 --seed 7";
  }
  fs::path root_, data_;
  std::vector<Row> train_, val_, test_;
};

TEST_F(TrainCli, TrainsWritesOutputsResumesAndRoundTrips) {
  // An uninterrupted run of two epochs.
  const fs::path a = root_ / "a";
  const auto run_a = run_cli(train_args(a, 2));
  ASSERT_EQ(run_a.exit_code, 0) << run_a.output;
  EXPECT_NE(run_a.output.find("epoch 1/2"), std::string::npos) << run_a.output;
  EXPECT_NE(run_a.output.find("*best*"), std::string::npos) << run_a.output;
  EXPECT_NE(run_a.output.find("14 clips"), std::string::npos) << run_a.output;
  for (const char* f : {"best_model.pth", "last_checkpoint.pth", "last_optimizer.pt", "train_state.json",
                        "metrics.json", "history.csv", "steps.csv", "training_curves.svg", "roc_train.svg",
                        "roc_val.svg", "roc_test.svg", "pr_train.svg", "pr_val.svg", "pr_test.svg"}) {
    EXPECT_TRUE(fs::exists(a / f)) << f;
  }
  const auto metrics = nlohmann::json::parse(testing::file_contents(a / "metrics.json"));
  for (const char* split : {"train", "val", "test"}) {
    for (const char* key : {"loss", "accuracy", "roc_auc", "average_precision", "n_bags", "n_positive"}) {
      EXPECT_TRUE(metrics.at(split).contains(key)) << split << "." << key;
    }
  }
  for (const char* key : {"threshold", "best_epoch", "epochs_run", "training_seconds", "options", "libtorch_version"}) {
    EXPECT_TRUE(metrics.contains(key)) << key;
  }
  EXPECT_EQ(metrics["train"]["n_bags"], 8);
  EXPECT_EQ(metrics["val"]["n_positive"], 2);
  EXPECT_EQ(metrics["epochs_run"], 2);
  EXPECT_TRUE(testing::file_contents(a / "roc_val.svg").starts_with("<svg"));

  // The training loss falls: the second epoch's mean below the first's.
  const auto train_loss = column(a / "history.csv", 2);
  ASSERT_EQ(train_loss.size(), 2u);
  EXPECT_LT(train_loss[1], train_loss[0]);
  std::printf("train loss per epoch: %.4f -> %.4f; step losses: %s\n", train_loss[0], train_loss[1],
              testing::file_contents(a / "steps.csv").c_str());

  // best_model.pth: PyTorch (torch.load + strict load_state_dict, tools/reference) and
  // coughkit's reader give the same outputs on the cached images of the validation clips.
  const auto ckpt = checkpoint::read_checkpoint((a / "best_model.pth").string());
  EXPECT_EQ(ckpt.epoch, metrics["best_epoch"].get<std::int64_t>());
  EXPECT_DOUBLE_EQ(ckpt.config_number("threshold").value_or(-1), metrics["threshold"].get<double>());
  EXPECT_EQ(ckpt.config_string("train_csv"), "train.csv");
  features::PreprocessConfig preprocess;
  const features::FeatureCache cache((root_ / "cache").string(), preprocess);
  std::string images;
  for (const auto& row : val_) images += " " + qp(cache.entry_path(row.file));
  const fs::path py_out = root_ / "python_outputs.json";
  const auto py =
      run_command(std::string(COUGHKIT_PYTHON) + " " + COUGHKIT_TRAIN_STEP_PY + " forward --threads 2 --checkpoint " +
                  qp(a / "best_model.pth") + " --out " + qp(py_out) + images);
  ASSERT_EQ(py.exit_code, 0) << py.output;
  const auto expected = nlohmann::json::parse(testing::file_contents(py_out)).at("bags");
  torch::set_num_threads(2);
  AttnMILResNet model = load_checkpoint_model((a / "best_model.pth").string());
  torch::NoGradGuard no_grad;
  double worst = 0;
  for (std::size_t i = 0; i < val_.size(); ++i) {
    const io::NpyArray mel = io::read_npy(cache.entry_path(val_[i].file));
    const auto s = static_cast<std::int64_t>(mel.shape[0]);
    auto x = images_to_input(torch::from_blob(const_cast<float*>(mel.data.data()), {s, 224, 224}).clone()).unsqueeze(0);
    const auto out = model->forward(x, torch::ones({1, s}, torch::kBool));
    worst =
        std::max(worst, std::abs(out.bag_probability.item<double>() - expected[i]["bag_probability"].get<double>()));
    worst = std::max(worst, std::abs(out.bag_logit.item<double>() - expected[i]["bag_logit"].get<double>()));
    for (std::int64_t j = 0; j < s; ++j) {
      worst = std::max(
          worst, std::abs(out.segment_logits[0][j].item<double>() - expected[i]["segment_logits"][j].get<double>()));
    }
  }
  EXPECT_LE(worst, 1e-5);
  std::printf("best_model.pth, PyTorch strict load vs coughkit reader: max output diff %.3g\n", worst);

  // The program's own engine reads it too.
  const auto detect = run_cli("detect --json --model " + qp(a / "best_model.pth") + " " + qp(data_ / val_[0].file));
  EXPECT_EQ(detect.exit_code, 0) << detect.output;
  EXPECT_NE(detect.output.find("bag_probability"), std::string::npos) << detect.output;

  // Interrupted after one epoch, then resumed: the same two epochs as the uninterrupted run.
  const fs::path b = root_ / "b";
  const auto run_b1 = run_cli(train_args(b, 1));
  ASSERT_EQ(run_b1.exit_code, 0) << run_b1.output;
  EXPECT_NE(run_b1.output.find("0 computed"), std::string::npos) << "features should come from the cache\n"
                                                                 << run_b1.output;
  const auto run_b2 = run_cli(train_args(b, 2));
  ASSERT_EQ(run_b2.exit_code, 0) << run_b2.output;
  EXPECT_NE(run_b2.output.find("continuing with epoch 2"), std::string::npos) << run_b2.output;
  EXPECT_EQ(run_b2.output.find("epoch 1/2"), std::string::npos) << run_b2.output;
  EXPECT_EQ(history_rows(b / "history.csv"), history_rows(a / "history.csv"));
  // Nothing left: evaluates and exits 0. --no-resume starts over.
  const auto run_b3 = run_cli(train_args(b, 2));
  EXPECT_EQ(run_b3.exit_code, 0) << run_b3.output;
  EXPECT_NE(run_b3.output.find("nothing left to train"), std::string::npos) << run_b3.output;
}

TEST_F(TrainCli, SkipsUnusableRowsAndRefusesAnEmptyTrainingSet) {
  // Two rows name missing files, one a file that is not audio: skipped and reported.
  std::vector<Row> rows(train_.begin(), train_.begin() + 4);
  rows.push_back({"missing_1.wav", 1});
  rows.push_back({"missing_2.wav", 0});
  std::ofstream(data_ / "not_audio.wav") << "this is not a WAV file";
  rows.push_back({"not_audio.wav", 0});
  write_csv(data_ / "partial.csv", rows);
  const fs::path out = root_ / "partial";
  const auto run = run_cli("train --train-csv " + qp(data_ / "partial.csv") + " --val-csv " + qp(data_ / "val.csv") +
                           " --out " + qp(out) + " --epochs 1 --batch-size 2 --max-steps-per-epoch 1 --threads 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("missing_1.wav"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("not_audio.wav"), std::string::npos) << run.output;
  const auto metrics = nlohmann::json::parse(testing::file_contents(out / "metrics.json"));
  EXPECT_EQ(metrics["train"]["n_bags"], 4);
  ASSERT_EQ(metrics["skipped"].size(), 3u);
  EXPECT_EQ(metrics["skipped"][0]["file_path"], "missing_1.wav");
  EXPECT_EQ(metrics["skipped"][0]["line"], 6);
  EXPECT_FALSE(metrics.contains("test"));
  EXPECT_EQ(column(out / "steps.csv", 3).size(), 1u);  // --max-steps-per-epoch

  // Nothing usable to train on: a clear error, exit 3.
  write_csv(data_ / "empty.csv", {{"missing_1.wav", 1}, {"missing_2.wav", 0}});
  const auto empty = run_cli("train --train-csv " + qp(data_ / "empty.csv") + " --val-csv " + qp(data_ / "val.csv") +
                             " --out " + qp(root_ / "empty"));
  EXPECT_EQ(empty.exit_code, 3) << empty.output;
  EXPECT_NE(empty.output.find("no usable training bags"), std::string::npos) << empty.output;
  // A CSV that does not exist: exit 3 too; a bad flag: usage error.
  const auto no_csv = run_cli("train --train-csv " + qp(data_ / "nope.csv") + " --val-csv " + qp(data_ / "val.csv") +
                              " --out " + qp(root_ / "nope"));
  EXPECT_EQ(no_csv.exit_code, 3) << no_csv.output;
  const auto bad = run_cli("train --train-csv a.csv --val-csv b.csv --out x --batch-size 1");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  const auto help = run_cli("train --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("ImageNet"), std::string::npos);
}

// The segment loss learns from the CSV's segment_labels (one per segment: the 2.0-s clips
// have one, the 2.5-s clips two); a row with the wrong count is skipped and listed, and the
// option without labels is refused.
TEST_F(TrainCli, SegmentLossFromSegmentLabels) {
  auto write_segment_csv = [](const fs::path& path, const std::vector<Row>& rows, bool wrong_count_first) {
    std::ofstream out(path);
    out << "file_path,cough_label,segment_labels\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const bool two = rows[i].file.find("_2_") != std::string::npos || rows[i].file.find("_3_") != std::string::npos ||
                       rows[i].file.find("_6_") != std::string::npos || rows[i].file.find("_7_") != std::string::npos;
      std::string labels(two ? 2 : 1, rows[i].label ? '1' : '0');
      if (wrong_count_first && i == 0) labels += "0";
      out << rows[i].file << "," << rows[i].label << "," << labels << "\n";
    }
  };
  write_segment_csv(data_ / "train_seg.csv", train_, true);
  write_segment_csv(data_ / "val_seg.csv", val_, false);
  const fs::path out = root_ / "seg";
  const auto run = run_cli("train --train-csv " + qp(data_ / "train_seg.csv") + " --val-csv " +
                           qp(data_ / "val_seg.csv") + " --cache " + qp(root_ / "cache") + " --out " + qp(out) +
                           " --epochs 1 --batch-size 4 --lr 1e-3 --threads 2 --seed 7 --segment-loss-weight 0.5");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // 7 usable training bags (the first row is skipped), 11 labelled segments, 5 of them cough.
  EXPECT_NE(run.output.find("segment loss: weight 0.5, 11 labelled training segments (5 cough)"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("val segments: AUC"), std::string::npos) << run.output;
  const auto metrics = nlohmann::json::parse(testing::file_contents(out / "metrics.json"));
  EXPECT_EQ(metrics["segment_loss"]["weight"], 0.5);
  EXPECT_GT(metrics["segment_loss"]["pos_weight"].get<double>(), 0.0);
  EXPECT_EQ(metrics["options"]["segment_loss_weight"], 0.5);
  EXPECT_EQ(metrics["train"]["n_bags"], 7);
  ASSERT_EQ(metrics["skipped"].size(), 1u);
  EXPECT_EQ(metrics["skipped"][0]["file_path"], train_[0].file);
  EXPECT_NE(metrics["skipped"][0]["error"].get<std::string>().find("segment_labels has 2 labels"), std::string::npos);
  // Validation: 4 bags of 1, 1, 2, 2 segments, all labelled; 3 segments of no-cough bags.
  EXPECT_EQ(metrics["val"]["n_labelled_segments"], 6);
  EXPECT_EQ(metrics["val"]["n_negative_bag_segments"], 3);
  EXPECT_TRUE(metrics["val"]["segment_roc_auc"].is_number()) << metrics["val"];
  const auto best = nlohmann::json::parse(run_command(std::string(COUGHKIT_PYTHON) +
                                                      " -c \"import torch,json,sys; c=torch.load(sys.argv[1]); "
                                                      "print(json.dumps(c['config']))\" " +
                                                      qp(out / "best_model.pth"))
                                              .output);
  EXPECT_EQ(best["segment_loss_weight"], 0.5);

  // The option without segment labels: refused, naming the column.
  const auto refused =
      run_cli("train --train-csv " + qp(data_ / "train.csv") + " --val-csv " + qp(data_ / "val.csv") + " --cache " +
              qp(root_ / "cache") + " --out " + qp(root_ / "refused") + " --segment-loss-weight 1");
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_NE(refused.output.find("segment_labels"), std::string::npos) << refused.output;
  // A label that is not 0/1: refused with the line.
  {
    std::ofstream bad(data_ / "bad_seg.csv");
    bad << "file_path,cough_label,segment_labels\n" << train_[0].file << ",1,1x\n";
  }
  const auto bad = run_cli("train --train-csv " + qp(data_ / "bad_seg.csv") + " --val-csv " + qp(data_ / "val.csv") +
                           " --out " + qp(root_ / "bad"));
  EXPECT_EQ(bad.exit_code, 3) << bad.output;
  EXPECT_NE(bad.output.find("bad_seg.csv:2"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace coughkit::training
