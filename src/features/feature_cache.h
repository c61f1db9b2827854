#pragma once
// The training feature cache (`coughkit precompute`, read by `coughkit train`): the log-mel
// images of each labelled clip, computed once by FeaturePipeline and stored as float16, as
// the reference training pipeline cached them — except that a clip that cannot be decoded
// or processed is reported and gets no entry (the reference stored an all-zero image).
//
// Layout of a cache directory DIR:
//   DIR/cache_info.json        format version and the PreprocessConfig the entries were made
//                              with; a directory made with another config is refused
//   DIR/<file_path>.npy        one entry per CSV row, mirroring the row's relative file_path
//                              (lexically normalised): float16 (S, 224, 224), C order, the
//                              pipeline's images rounded to nearest even (torch's .half()).
//                              S <= 32: FeaturePipeline keeps the first 32 segments of a
//                              longer clip (SegmentOptions::max_segments, docs/pipeline.md §3).
//   DIR/_external/<hash>.npy   entries of absolute paths and of paths escaping with "..",
//                              <hash> = 16 hex digits of FNV-1a 64 of the normalised path
//   DIR/precompute_report.json counts and failures of the last precompute() run
// The clip's metadata is kept in the .npy header, after the dict, as a Python comment:
//   {'descr': '<f2', 'fortran_order': False, 'shape': (S, 224, 224), } # coughkit-cache duration_s=5.25
//   total_segments=15
// np.load reads the file as usual (numpy refuses extra dict keys but ignores the comment).
// Every file is written to a unique temporary name and renamed, so an interrupted run
// leaves only whole entries; a rerun recomputes only the missing and stale ones.
//
// Thread safety: a FeatureCache is immutable after construction; its methods may be called
// from several threads (for different entries).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "features/feature_pipeline.h"
#include "features/labels_csv.h"

namespace coughkit::features {

struct CachedImages {
  std::size_t segments = 0;             // S
  std::vector<std::uint16_t> half;      // S x 224 x 224 IEEE half bits, C order
  double duration_s = 0;                // of the decoded audio (0 when the entry lacks it)
  std::size_t total_segments = 0;       // full windows in the whole clip (> segments: truncated)
  std::vector<float> to_float() const;  // the images widened to float32 (exact)
};

class FeatureCache {
 public:
  static constexpr int kFormatVersion = 1;

  // Opens or creates the cache directory for this preprocessing config. Writes
  // DIR/cache_info.json; throws InputError for a directory whose cache_info.json names
  // another config or format, a non-empty directory that is not a cache, or one that
  // cannot be created. Throws ConfigError for an invalid config.
  FeatureCache(std::string dir, const PreprocessConfig& config);

  const std::string& dir() const { return dir_; }
  const PreprocessConfig& config() const { return config_; }

  // DIR/<file_path>.npy for a relative path (lexically normalised), else
  // DIR/_external/<hash>.npy (absolute paths, paths escaping DIR with "..", "_external/...").
  std::string entry_path(const std::string& file_path) const;

  // True when the entry exists and is not older than the audio file (false when either is
  // missing).
  bool is_fresh(const std::string& file_path, const std::string& audio_path) const;

  // Writes the images as float16 (S, 224, 224) plus duration/total segments, atomically.
  // Throws std::invalid_argument for features of the wrong size, std::runtime_error on I/O.
  void store(const std::string& file_path, const ClipFeatures& features) const;

  // Reads an entry; std::nullopt when absent; InputError naming the file when it is corrupt
  // (not a .npy, wrong dtype or shape, truncated).
  std::optional<CachedImages> load(const std::string& file_path) const;

  // True when the entry exists and its header and size are those of a whole entry (reads
  // the header only). precompute() recomputes fresh-looking entries that fail this.
  bool is_valid_entry(const std::string& file_path) const;

  // Removes the entry if present (a clip that now fails must not keep its old images).
  void remove(const std::string& file_path) const;

 private:
  std::string dir_;
  PreprocessConfig config_;
};

// --- precompute ------------------------------------------------------------------------

struct PrecomputeFailure {
  std::string file_path, error;
  std::string audio_path;  // where the audio was looked for
};

struct PrecomputeReport {
  std::size_t total = 0, computed = 0, reused = 0;  // total = computed + reused + failures
  std::vector<PrecomputeFailure> failures;          // in input order
  double seconds = 0;
  std::size_t duplicates = 0;  // rows naming an entry already in the list with the same audio (skipped)
};

// One clip to precompute: its CSV file_path (the entry's key) and the audio file to read.
struct PrecomputeItem {
  std::string file_path, audio_path;
};

enum class PrecomputeOutcome { kComputed, kReused, kFailed };
struct PrecomputeProgress {
  std::size_t done = 0, total = 0;
  const PrecomputeItem* item = nullptr;
  PrecomputeOutcome outcome = PrecomputeOutcome::kComputed;
  std::string error;  // when kFailed
};

// Computes the missing/stale entries for the rows, on `threads` worker threads (0 = all
// cores), each running FeaturePipeline::run on decode_file(resolve_audio_path(base_dir,
// row.file_path)). A file that fails to decode/process is reported in failures, gets no
// entry (a stale one is removed), and the others go on. Rows naming the same entry with the
// same audio are done once (counted in duplicates); the same entry for different audio is a
// failure of the later row. progress(done, total, file_path) is called from one thread at a
// time. Writes DIR/precompute_report.json. The pipeline's config must be the cache's
// (std::invalid_argument otherwise).
PrecomputeReport precompute(const std::vector<LabelledClip>& rows, const std::string& base_dir,
                            const FeatureCache& cache, const FeaturePipeline& pipeline, int threads,
                            const std::function<void(std::size_t, std::size_t, const std::string&)>& progress = {});

// The same for items whose audio paths are already resolved (several CSVs with their own
// base directories), with a progress callback that also says how each item went.
PrecomputeReport precompute_items(const std::vector<PrecomputeItem>& items, const FeatureCache& cache,
                                  const FeaturePipeline& pipeline, int threads,
                                  const std::function<void(const PrecomputeProgress&)>& progress = {});

}  // namespace coughkit::features
