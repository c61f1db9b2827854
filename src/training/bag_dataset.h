#pragma once
// The bags `coughkit train` learns from: every labelled clip of the train/val/test CSVs as
// its cached float16 log-mel images (features/feature_cache.h), held in memory (S x 224 x
// 224 x 2 bytes a clip: ~100 kB a segment) and widened per batch. No LibTorch here; the
// trainer turns batches into tensors.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "features/feature_cache.h"

namespace coughkit::training {

struct Bag {
  std::string file_path;  // the CSV's file_path (the cache key)
  float label = 0.0f;     // 1 = cough
  std::size_t segments = 0;
  std::vector<std::uint16_t> half;  // segments x 224 x 224 IEEE half bits, C order, [-1, 1]
  // One 0/1 per segment when the CSV gives segment labels (features/labels_csv.h); empty
  // otherwise. Only the segment loss reads them (train_loop.h, LossOptions).
  std::vector<float> segment_labels;
  bool has_segment_labels() const { return !segment_labels.empty(); }

  // The images widened to float32 (exact) into `out` (segments x 224 x 224 floats).
  void to_float(float* out) const;
};

struct SkippedRow {
  std::string split, csv, file_path, error;
  std::size_t line = 0;
};

// One CSV's bags (not dataset::Split, the enum of the corpus builder's splits).
struct BagSplit {
  std::string name;  // "train", "val", "test"
  std::string csv;   // as given
  std::vector<Bag> bags;
  std::size_t positives() const;
  std::size_t negatives() const { return bags.size() - positives(); }
  std::size_t total_segments() const;
  // Segments with a label, and those labelled 1 (0 when no bag has segment labels).
  std::size_t labelled_segments() const;
  std::size_t positive_segments() const;
};

// Where a BagSplit comes from: its name and its CSV.
struct BagSplitSource {
  std::string name, csv;
};

struct LoadedSplits {
  std::vector<BagSplit> splits;     // in the order of the sources
  std::vector<SkippedRow> skipped;  // rows without usable images (reported, never faked)
  features::PrecomputeReport precompute;
};

// Reads each CSV (features::read_labels_csv), computes the missing/stale cache entries of
// all of them in one precompute pass (audio paths resolved against `base_dir`, or each CSV's
// own directory when empty), then loads every entry. Rows whose audio fails, whose entry
// is unreadable, or whose segment labels do not number the clip's segments are skipped and
// listed. Throws InputError for an unreadable CSV.
// `progress(done, total, file_path)` follows the precompute.
LoadedSplits load_splits(const std::vector<BagSplitSource>& sources, const std::string& base_dir,
                         const features::FeatureCache& cache, const features::FeaturePipeline& pipeline, int threads,
                         const std::function<void(std::size_t, std::size_t, const std::string&)>& progress = {});

// Bag indices 0..n-1 in a random order (Fisher-Yates on `rng`, the same on every platform),
// cut into batches of `batch_size` (the last may be shorter).
std::vector<std::vector<std::size_t>> shuffled_batches(std::size_t n, int batch_size, std::mt19937_64& rng);
// In order, for evaluation.
std::vector<std::vector<std::size_t>> sequential_batches(std::size_t n, int batch_size);

// A 64-bit seed for epoch `epoch` of a run seeded with `seed` (splitmix64 of both), so each
// epoch's shuffling, augmentation and dropout depend only on (seed, epoch): a resumed run
// draws exactly what an uninterrupted one would have.
std::uint64_t epoch_seed(std::uint64_t seed, int epoch);

}  // namespace coughkit::training
