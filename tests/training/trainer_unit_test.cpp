// Unit tests of the trainer's pieces: metrics (against sklearn's definitions, values from
// numpy ports of roc_auc_score/average_precision_score and by hand), augmentation, batch
// order, the learning-rate schedule, plots and option checks.
#include <cmath>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "modules/torch_module.h"
#include "training/augment.h"
#include "training/bag_dataset.h"
#include "training/metrics.h"
#include "training/plots.h"
#include "training/train_loop.h"

namespace coughkit::training {
namespace {

// --- metrics ---------------------------------------------------------------------------

TEST(TrainMetrics, KnownValues) {
  // sklearn's documentation example: roc_auc 0.75, average_precision 0.8333.
  const std::vector<float> y{0, 0, 1, 1}, s{0.1f, 0.4f, 0.35f, 0.8f};
  EXPECT_DOUBLE_EQ(roc_auc(s, y), 0.75);
  EXPECT_NEAR(average_precision(s, y), 0.8333333333333333, 1e-12);
  EXPECT_DOUBLE_EQ(accuracy(s, y, 0.5), 0.75);  // 0.35 is the one miss
  EXPECT_DOUBLE_EQ(accuracy(s, y, 0.3), 0.75);  // 0.4 is the one miss
}

TEST(TrainMetrics, TiesCountHalf) {
  // By hand: positive/negative pairs 3 (0.9) + 2.5 (0.5 vs 0.5 tie, 0.2, 0.2) + 1 (0.2 vs two
  // tied 0.2) = 6.5 of 9. AP: cuts 0.9 (P 1, R 1/3), 0.5 (P 2/3, R 2/3), 0.2 (P 1/2, R 1).
  const std::vector<float> y{0, 1, 0, 1, 1, 0}, s{0.5f, 0.5f, 0.2f, 0.9f, 0.2f, 0.2f};
  EXPECT_NEAR(roc_auc(s, y), 6.5 / 9.0, 1e-12);
  EXPECT_NEAR(average_precision(s, y), (1.0 + 2.0 / 3.0 + 0.5) / 3.0, 1e-12);
  // The curves: one point per distinct score, ties move together.
  const Curve roc = roc_curve(s, y);
  ASSERT_EQ(roc.x.size(), 4u);
  EXPECT_DOUBLE_EQ(roc.x[1], 0.0);
  EXPECT_DOUBLE_EQ(roc.y[1], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(roc.x[2], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(roc.y[2], 2.0 / 3.0);
  // All scores equal: the chance line, AUC 0.5; AP the positive rate.
  const std::vector<float> flat(6, 0.3f);
  EXPECT_DOUBLE_EQ(roc_auc(flat, y), 0.5);
  EXPECT_DOUBLE_EQ(average_precision(flat, y), 0.5);
}

TEST(TrainMetrics, MatchesNumpyPortOfSklearn) {
  // 50 labels/scores rounded to 0.1 (many ties); expected values from numpy ports of
  // sklearn's _binary_clf_curve + trapezoid (roc_auc_score) and average_precision_score.
  const std::vector<float> y{1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0,
                             0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1};
  const std::vector<float> s{0.5f, 0.1f, 0.7f, 0.3f, 0.9f, 0.3f, 0.6f, 0.4f, 0.6f, 0.2f, 0.2f, 0.7f, 0.8f,
                             0.6f, 0.9f, 0.2f, 0.9f, 0.2f, 1.0f, 0.6f, 0.6f, 1.0f, 0.8f, 0.8f, 0.1f, 0.4f,
                             0.1f, 0.2f, 0.2f, 0.9f, 0.1f, 0.3f, 0.5f, 0.8f, 1.0f, 0.7f, 0.2f, 0.5f, 0.7f,
                             0.1f, 0.7f, 0.4f, 0.6f, 0.7f, 0.7f, 0.5f, 0.6f, 0.2f, 0.5f, 0.1f};
  EXPECT_NEAR(roc_auc(s, y), 0.365874363327674, 1e-12);
  EXPECT_NEAR(average_precision(s, y), 0.3526991721728564, 1e-12);
}

TEST(TrainMetrics, UndefinedIsNaN) {
  const std::vector<float> ones{1, 1, 1}, zeros{0, 0, 0}, s{0.2f, 0.5f, 0.9f};
  EXPECT_TRUE(std::isnan(roc_auc(s, ones)));
  EXPECT_TRUE(std::isnan(roc_auc(s, zeros)));
  EXPECT_TRUE(std::isnan(average_precision(s, zeros)));
  EXPECT_DOUBLE_EQ(average_precision(s, ones), 1.0);  // all positive: precision 1 everywhere
  EXPECT_TRUE(roc_curve(s, ones).x.empty());
  EXPECT_TRUE(precision_recall_curve(s, zeros).x.empty());
  const std::vector<float> none;
  EXPECT_TRUE(std::isnan(roc_auc(none, none)));
  EXPECT_TRUE(std::isnan(average_precision(none, none)));
  EXPECT_TRUE(std::isnan(accuracy(none, none)));
  const std::vector<float> short_labels{1};
  EXPECT_THROW(roc_auc(s, short_labels), std::invalid_argument);
}

TEST(TrainMetrics, BestF1Threshold) {
  // Cuts: {0.8} F1 2/3, {0.8, 0.4} 1/2, {0.8, 0.4, 0.35} 4/5, all 2/3 -> between 0.35 and 0.1.
  const std::vector<float> y{0, 0, 1, 1}, s{0.1f, 0.4f, 0.35f, 0.8f};
  const ThresholdChoice c = best_f1_threshold(s, y, 0.61);
  EXPECT_TRUE(c.from_data);
  EXPECT_NEAR(c.f1, 0.8, 1e-12);
  EXPECT_DOUBLE_EQ(c.threshold, (static_cast<double>(0.35f) + static_cast<double>(0.1f)) / 2.0);
  EXPECT_NEAR(c.precision, 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(c.recall, 1.0);
  // The rule score > threshold reproduces the chosen cut.
  std::size_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] > c.threshold) (y[i] ? tp : fp)++;
  }
  EXPECT_EQ(tp, 2u);
  EXPECT_EQ(fp, 1u);
  // Perfect separation: the cut right below the positives, ties keep the higher threshold.
  const std::vector<float> y2{0, 0, 1, 1}, s2{0.1f, 0.2f, 0.7f, 0.9f};
  EXPECT_DOUBLE_EQ(best_f1_threshold(s2, y2, 0.61).threshold,
                   (static_cast<double>(0.7f) + static_cast<double>(0.2f)) / 2.0);
  // Undefined: the fallback.
  const std::vector<float> zeros{0, 0, 0}, three{0.1f, 0.2f, 0.3f};
  const ThresholdChoice none = best_f1_threshold(three, zeros, 0.61);
  EXPECT_FALSE(none.from_data);
  EXPECT_DOUBLE_EQ(none.threshold, 0.61);
}

// --- augmentation ------------------------------------------------------------------------

std::vector<float> ramp_images(int segments, int h, int w) {
  std::vector<float> v(static_cast<std::size_t>(segments * h * w));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = -0.9f + 1.8f * static_cast<float>(i % 97) / 96.0f;
  return v;
}

TEST(TrainAugment, OffLeavesImagesAlone) {
  auto images = ramp_images(2, 224, 224);
  const auto before = images;
  std::mt19937_64 rng(1);
  AugmentOptions off;
  off.probability = 0;
  const AugmentTrace t = augment_bag(images, 2, 224, 224, off, rng);
  EXPECT_FALSE(t.noise || t.gain || t.freq_mask || t.time_mask);
  EXPECT_EQ(images, before);
}

TEST(TrainAugment, AllFourOnEverySegment) {
  const int s = 3, h = 224, w = 224;
  auto images = ramp_images(s, h, w);
  const auto before = images;
  AugmentOptions always;
  always.probability = 1.0;
  std::mt19937_64 rng(7);
  const AugmentTrace t = augment_bag(images, s, h, w, always, rng);
  ASSERT_TRUE(t.noise && t.gain && t.freq_mask && t.time_mask);
  EXPECT_GE(t.gain_factor, 0.9f);
  EXPECT_LE(t.gain_factor, 1.1f);
  ASSERT_GE(t.freq_start, 0);
  ASSERT_LE(t.freq_start, h - 12);
  ASSERT_GE(t.time_start, 0);
  ASSERT_LE(t.time_start, w - 16);
  double noise_sq = 0;
  std::size_t noise_n = 0;
  for (int seg = 0; seg < s; ++seg) {
    for (int r = 0; r < h; ++r) {
      for (int c = 0; c < w; ++c) {
        const std::size_t i = (static_cast<std::size_t>(seg) * h + r) * w + c;
        const bool masked =
            (r >= t.freq_start && r < t.freq_start + 12) || (c >= t.time_start && c < t.time_start + 16);
        if (masked) {
          ASSERT_EQ(images[i], 0.0f) << seg << "," << r << "," << c;
        } else {
          ASSERT_GE(images[i], -1.0f);
          ASSERT_LE(images[i], 1.0f);
          const float expected = before[i] * t.gain_factor;
          if (std::abs(expected) < 0.95f) {  // away from the clamp: value = (x + noise) * gain
            const double noise = images[i] / t.gain_factor - before[i];
            noise_sq += noise * noise;
            ++noise_n;
          }
        }
      }
    }
  }
  EXPECT_NEAR(std::sqrt(noise_sq / static_cast<double>(noise_n)), 0.01, 0.0005);
  // The same rng state gives the same bag.
  auto again = before;
  std::mt19937_64 rng2(7);
  augment_bag(again, s, h, w, always, rng2);
  EXPECT_EQ(again, images);
}

TEST(TrainAugment, EachWithItsProbability) {
  AugmentOptions opts;  // p = 0.1
  std::mt19937_64 rng(3);
  std::vector<float> tiny(16 * 16, 0.5f);
  AugmentOptions small = opts;
  small.freq_mask_rows = 4;
  small.time_mask_cols = 4;
  int noise = 0, gain = 0, freq = 0, time = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const auto t = augment_bag(tiny, 1, 16, 16, small, rng);
    noise += t.noise;
    gain += t.gain;
    freq += t.freq_mask;
    time += t.time_mask;
  }
  for (int count : {noise, gain, freq, time}) EXPECT_NEAR(count / static_cast<double>(n), 0.1, 0.01);
  std::vector<float> wrong(10);
  EXPECT_THROW(augment_bag(wrong, 1, 16, 16, opts, rng), std::invalid_argument);
}

// --- batches, seeds, schedule --------------------------------------------------------------

TEST(TrainBatches, ShuffledCoverEveryBagOnce) {
  std::mt19937_64 rng(epoch_seed(42, 1));
  const auto batches = shuffled_batches(37, 16, rng);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 16u);
  EXPECT_EQ(batches[2].size(), 5u);
  std::set<std::size_t> seen;
  for (const auto& b : batches) seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen.size(), 37u);
  EXPECT_EQ(*seen.rbegin(), 36u);
  std::mt19937_64 same(epoch_seed(42, 1)), other(epoch_seed(42, 2));
  EXPECT_EQ(shuffled_batches(37, 16, same), batches);
  EXPECT_NE(shuffled_batches(37, 16, other), batches);
  EXPECT_NE(epoch_seed(42, 1), epoch_seed(43, 1));
  const auto seq = sequential_batches(5, 2);
  ASSERT_EQ(seq.size(), 3u);
  EXPECT_EQ(seq[2], std::vector<std::size_t>{4});
}

TEST(TrainSchedule, CosineAnnealingAsPyTorch) {
  // torch.optim.lr_scheduler.CosineAnnealingLR(AdamW(lr=1e-4), T_max=30, eta_min=1e-6),
  // lr of epochs 0, 1, 7, 15, 29 (stepped once per epoch), printed by PyTorch 1.13.
  const std::vector<std::pair<int, double>> expected{
      {0, 1e-4}, {1, 9.972883382072954e-05}, {7, 8.728566886113101e-05}, {15, 5.05e-05}, {29, 1.2711661792704665e-06}};
  for (const auto& [epoch, lr] : expected) EXPECT_NEAR(cosine_lr(epoch, 30, 1e-4, 1e-6), lr, lr * 1e-12) << epoch;
}

// --- plots, options ------------------------------------------------------------------------

TEST(TrainPlots, SvgDocuments) {
  const std::vector<float> y{0, 0, 1, 1}, s{0.1f, 0.4f, 0.35f, 0.8f};
  const std::string roc = roc_svg("val <&>", roc_curve(s, y), roc_auc(s, y));
  EXPECT_TRUE(roc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(roc.ends_with("</svg>\n"));
  EXPECT_NE(roc.find("AUC = 0.7500"), std::string::npos);
  EXPECT_NE(roc.find("val &lt;&amp;&gt;"), std::string::npos);
  EXPECT_NE(roc.find("<polyline"), std::string::npos);
  const std::string pr = pr_svg("test", precision_recall_curve(s, y), average_precision(s, y), 0.5);
  EXPECT_NE(pr.find("AP = 0.8333"), std::string::npos);
  const std::vector<float> ones{1, 1, 1, 1};
  EXPECT_NE(roc_svg("x", roc_curve(s, ones), roc_auc(s, ones)).find("undefined"), std::string::npos);
  const double nan = std::nan("");
  const std::string curves = training_curves_svg({1, 2, 3}, {0.7, 0.6, 0.5}, {0.8, nan, 0.55}, {0.6, 0.7, nan});
  EXPECT_EQ(curves.find("nan"), std::string::npos);
  EXPECT_NE(curves.find("Validation ROC-AUC"), std::string::npos);
  EXPECT_NE(curves.find("<circle"), std::string::npos);  // the isolated val-loss point
}

TEST(TrainOptionsValidate, Validate) {
  TrainOptions o;
  EXPECT_THROW(o.Validate(), ConfigError);  // CSVs and out dir are required
  o.train_csv = "t.csv";
  o.val_csv = "v.csv";
  o.out_dir = "out";
  EXPECT_NO_THROW(o.Validate());
  auto bad = [&](auto change) {
    TrainOptions b = o;
    change(b);
    EXPECT_THROW(b.Validate(), ConfigError);
  };
  bad([](TrainOptions& b) { b.batch_size = 1; });
  bad([](TrainOptions& b) { b.epochs = 0; });
  bad([](TrainOptions& b) { b.lr = 0; });
  bad([](TrainOptions& b) { b.min_lr = 1.0; });
  bad([](TrainOptions& b) { b.augment_probability = 1.5; });
  bad([](TrainOptions& b) { b.dropout = 1.0f; });
  bad([](TrainOptions& b) { b.patience = -1; });
  bad([](TrainOptions& b) { b.highpass_hz = -1; });
}

}  // namespace
}  // namespace coughkit::training
