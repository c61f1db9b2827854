#include "training/bag_dataset.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "common/error.h"
#include "common/half.h"
#include "features/labels_csv.h"

namespace coughkit::training {

void Bag::to_float(float* out) const {
  for (std::size_t i = 0; i < half.size(); ++i) out[i] = half_to_float(half[i]);
}

std::size_t BagSplit::positives() const {
  std::size_t n = 0;
  for (const Bag& b : bags) n += b.label != 0.0f;
  return n;
}

std::size_t BagSplit::total_segments() const {
  std::size_t n = 0;
  for (const Bag& b : bags) n += b.segments;
  return n;
}

std::size_t BagSplit::labelled_segments() const {
  std::size_t n = 0;
  for (const Bag& b : bags) n += b.segment_labels.size();
  return n;
}

std::size_t BagSplit::positive_segments() const {
  std::size_t n = 0;
  for (const Bag& b : bags)
    for (const float v : b.segment_labels) n += v != 0.0f;
  return n;
}

LoadedSplits load_splits(const std::vector<BagSplitSource>& sources, const std::string& base_dir,
                         const features::FeatureCache& cache, const features::FeaturePipeline& pipeline, int threads,
                         const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  std::vector<std::vector<features::LabelledClip>> rows;
  std::vector<features::PrecomputeItem> items;
  for (const BagSplitSource& source : sources) {
    rows.push_back(features::read_labels_csv(source.csv));
    const std::string base = base_dir.empty() ? std::filesystem::path(source.csv).parent_path().string() : base_dir;
    for (const auto& row : rows.back())
      items.push_back({row.file_path, features::resolve_audio_path(base, row.file_path)});
  }

  LoadedSplits out;
  std::function<void(const features::PrecomputeProgress&)> forward;
  if (progress) {
    forward = [&](const features::PrecomputeProgress& p) {
      progress(p.done, p.total, p.item ? p.item->file_path : "");
    };
  }
  out.precompute = features::precompute_items(items, cache, pipeline, threads, forward);

  // Failures by (entry key, audio path): the same key may appear in several splits.
  std::map<std::pair<std::string, std::string>, std::string> failed;
  for (const auto& f : out.precompute.failures) failed[{f.file_path, f.audio_path}] = f.error;

  std::size_t item = 0;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    BagSplit split{sources[s].name, sources[s].csv, {}};
    for (const auto& row : rows[s]) {
      const auto& audio_path = items[item++].audio_path;
      auto skip = [&](const std::string& error) {
        out.skipped.push_back({sources[s].name, sources[s].csv, row.file_path, error, row.line});
      };
      if (auto it = failed.find({row.file_path, audio_path}); it != failed.end()) {
        skip(it->second);
        continue;
      }
      try {
        auto images = cache.load(row.file_path);
        if (!images) {
          skip("no cache entry after precompute");
          continue;
        }
        if (images->segments == 0) {
          skip("no segments");
          continue;
        }
        if (!row.segment_labels.empty() && row.segment_labels.size() != images->segments) {
          skip(fmt::format("segment_labels has {} labels, the clip has {} segments", row.segment_labels.size(),
                           images->segments));
          continue;
        }
        split.bags.push_back({row.file_path, row.label ? 1.0f : 0.0f, images->segments, std::move(images->half),
                              std::vector<float>(row.segment_labels.begin(), row.segment_labels.end())});
      } catch (const InputError& e) {
        skip(e.what());
      }
    }
    out.splits.push_back(std::move(split));
  }
  return out;
}

std::vector<std::vector<std::size_t>> shuffled_batches(std::size_t n, int batch_size, std::mt19937_64& rng) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  // Fisher-Yates with a plain modulo (bias < 2^-40 for any realistic n): std::shuffle's
  // distribution is implementation-defined, this is not.
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  std::vector<std::vector<std::size_t>> batches;
  const std::size_t b = static_cast<std::size_t>(batch_size);
  for (std::size_t i = 0; i < n; i += b) batches.emplace_back(order.begin() + i, order.begin() + std::min(n, i + b));
  return batches;
}

std::vector<std::vector<std::size_t>> sequential_batches(std::size_t n, int batch_size) {
  std::vector<std::vector<std::size_t>> batches;
  const std::size_t b = static_cast<std::size_t>(batch_size);
  for (std::size_t i = 0; i < n; i += b) {
    batches.emplace_back();
    for (std::size_t j = i; j < std::min(n, i + b); ++j) batches.back().push_back(j);
  }
  return batches;
}

std::uint64_t epoch_seed(std::uint64_t seed, int epoch) {
  auto splitmix = [](std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  return splitmix(splitmix(seed) ^ static_cast<std::uint64_t>(epoch));
}

}  // namespace coughkit::training
