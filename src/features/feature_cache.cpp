#include "features/feature_cache.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audio/decoder.h"
#include "common/error.h"
#include "common/half.h"
#include "common/json_text.h"
#include "io/atomic_file.h"
#include "io/npy.h"

namespace coughkit::features {
namespace {

namespace fs = std::filesystem;

constexpr char kFormatName[] = "coughkit-feature-cache";
constexpr char kInfoFile[] = "cache_info.json";
constexpr char kReportFile[] = "precompute_report.json";
constexpr char kExternalDir[] = "_external";
constexpr char kCommentTag[] = "coughkit-cache";

std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

nlohmann::json cache_info(const PreprocessConfig& config) {
  return {
      {"format", kFormatName},
      {"format_version", FeatureCache::kFormatVersion},
      {"preprocess", config.ToString()},
      {"dtype", "float16"},
      {"entry_shape", "(S, image_size, image_size), S <= max_segments"},
      {"image_size", config.mel.image_size},
      {"n_mels", config.mel.mel.n_mels},
      {"sample_rate", config.segments.sample_rate},
      {"segment_samples", config.segments.window_samples},
      {"hop_samples", config.segments.hop_samples},
      {"max_segments", config.segments.max_segments},
      {"highpass_hz", config.condition.highpass_hz},
      {"layout",
       "<file_path>.npy per CSV row (relative paths mirrored, absolute or '..' paths under _external/<fnv1a64>.npy); "
       "header comment '# coughkit-cache duration_s=<s> total_segments=<n>'"},
  };
}

std::string with_file(const std::string& file, const std::string& what) {
  return what.starts_with(file) ? what : file + ": " + what;
}

std::string normal_key(const std::string& path) {
  std::error_code ec;
  auto abs = fs::absolute(path, ec);
  return (ec ? fs::path(path) : abs).lexically_normal().string();
}

}  // namespace

std::vector<float> CachedImages::to_float() const {
  std::vector<float> out(half.size());
  halves_to_floats(half, out);
  return out;
}

FeatureCache::FeatureCache(std::string dir, const PreprocessConfig& config) : dir_(std::move(dir)), config_(config) {
  config_.Validate();
  if (dir_.empty()) throw InputError("feature cache: empty directory name");
  const fs::path d(dir_);
  std::error_code ec;
  if (fs::exists(d, ec) && !fs::is_directory(d, ec))
    throw InputError(fmt::format("{}: exists and is not a directory (expected a feature cache directory)", dir_));
  fs::create_directories(d, ec);
  if (ec) throw InputError(fmt::format("{}: cannot create the feature cache directory: {}", dir_, ec.message()));

  const fs::path info_path = d / kInfoFile;
  const nlohmann::json expected = cache_info(config_);
  if (fs::exists(info_path, ec)) {
    nlohmann::json found;
    try {
      std::ifstream in(info_path);
      found = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      throw InputError(fmt::format("{}: unreadable cache description ({}); delete the directory to rebuild the cache",
                                   info_path.string(), e.what()));
    }
    const auto str = [&](const char* key) {
      return found.contains(key) && found[key].is_string() ? found[key].get<std::string>() : std::string("(missing)");
    };
    if (str("format") != kFormatName)
      throw InputError(fmt::format("{}: not a coughkit feature cache (format '{}')", dir_, str("format")));
    const int version = found.value("format_version", 0);
    if (version != kFormatVersion)
      throw InputError(
          fmt::format("{}: feature cache format version {}, this coughkit reads version {}; "
                      "use a new --cache directory or delete this one to rebuild it",
                      dir_, version, kFormatVersion));
    if (str("preprocess") != config_.ToString())
      throw InputError(
          fmt::format("{}: this feature cache was built with another preprocessing config\n"
                      "  cache:    {}\n  this run: {}\n"
                      "use another --cache directory (or delete this one) for this config",
                      dir_, str("preprocess"), config_.ToString()));
    return;
  }
  // No description: only an empty directory may become a cache.
  for (const auto& entry : fs::directory_iterator(d, ec)) {
    if (!entry.path().filename().string().starts_with(kInfoFile))
      throw InputError(
          fmt::format("{}: the directory is not empty and has no {}, so it is not a coughkit feature "
                      "cache; choose a new or empty directory",
                      dir_, kInfoFile));
  }
  io::write_file_atomically(info_path, expected.dump(2) + "\n");
}

std::string FeatureCache::entry_path(const std::string& file_path) const {
  const fs::path p(file_path);
  const fs::path n = p.lexically_normal();
  const bool external = file_path.empty() || p.has_root_name() || p.has_root_directory() || n.empty() ||
                        !n.has_filename() || *n.begin() == ".." || *n.begin() == "." || *n.begin() == kExternalDir;
  if (external) {
    const std::string key = p.lexically_normal().string();
    return (fs::path(dir_) / kExternalDir / fmt::format("{:016x}.npy", fnv1a64(key))).string();
  }
  fs::path out = fs::path(dir_) / n;
  out += ".npy";
  return out.string();
}

bool FeatureCache::is_fresh(const std::string& file_path, const std::string& audio_path) const {
  std::error_code ec;
  const auto entry_time = fs::last_write_time(entry_path(file_path), ec);
  if (ec) return false;
  const auto audio_time = fs::last_write_time(audio_path, ec);
  if (ec) return false;
  return entry_time >= audio_time;
}

void FeatureCache::store(const std::string& file_path, const ClipFeatures& features) const {
  const std::size_t size = static_cast<std::size_t>(config_.mel.image_size);
  const std::size_t segments = features.num_segments();
  if (segments == 0 || features.images.size() != segments * size * size)
    throw std::invalid_argument(fmt::format("FeatureCache::store({}): {} image values for {} segments of {}x{}",
                                            file_path, features.images.size(), segments, size, size));
  std::vector<std::uint16_t> half(features.images.size());
  floats_to_halves(features.images, half);
  const fs::path path = entry_path(file_path);
  fs::create_directories(path.parent_path());
  io::write_npy_half(path, half, {segments, size, size},
                     fmt::format("{} duration_s={} total_segments={}", kCommentTag, features.duration_s,
                                 std::max(features.plan.total_segments, segments)));
}

std::optional<CachedImages> FeatureCache::load(const std::string& file_path) const {
  const std::string path = entry_path(file_path);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  io::NpyHalfArray array = io::read_npy_half(path);
  const std::size_t size = static_cast<std::size_t>(config_.mel.image_size);
  const auto max_segments = static_cast<std::size_t>(config_.segments.max_segments);
  if (array.shape.size() != 3 || array.shape[1] != size || array.shape[2] != size || array.shape[0] == 0 ||
      (max_segments && array.shape[0] > max_segments)) {
    std::string shape;
    for (auto d : array.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw InputError(fmt::format("{}: cache entry has shape ({}), expected (S, {}, {}) with 1 <= S <= {}", path, shape,
                                 size, size, max_segments));
  }
  CachedImages out;
  out.segments = array.shape[0];
  out.total_segments = out.segments;
  out.half = std::move(array.data);
  std::istringstream comment(array.comment);
  std::string token;
  bool tagged = false;
  while (comment >> token) {
    if (token == kCommentTag) tagged = true;
    const auto eq = token.find('=');
    if (!tagged || eq == std::string::npos) continue;
    const std::string key = token.substr(0, eq), value = token.substr(eq + 1);
    try {
      if (key == "duration_s") out.duration_s = std::stod(value);
      if (key == "total_segments") out.total_segments = std::max<std::size_t>(std::stoull(value), out.segments);
    } catch (const std::exception&) {
      throw InputError(fmt::format("{}: malformed cache metadata '{}'", path, token));
    }
  }
  return out;
}

bool FeatureCache::is_valid_entry(const std::string& file_path) const {
  const std::string path = entry_path(file_path);
  try {
    const auto h = io::read_npy_header(path);
    const std::size_t size = static_cast<std::size_t>(config_.mel.image_size);
    if (h.descr != "<f2" || h.fortran_order || h.shape.size() != 3 || h.shape[0] == 0 || h.shape[1] != size ||
        h.shape[2] != size)
      return false;
    std::error_code ec;
    const auto bytes = fs::file_size(path, ec);
    return !ec && bytes == h.data_offset + h.count() * 2;
  } catch (const InputError&) {
    return false;
  }
}

void FeatureCache::remove(const std::string& file_path) const {
  std::error_code ec;
  fs::remove(entry_path(file_path), ec);
}

// --- precompute ------------------------------------------------------------------------

PrecomputeReport precompute(const std::vector<LabelledClip>& rows, const std::string& base_dir,
                            const FeatureCache& cache, const FeaturePipeline& pipeline, int threads,
                            const std::function<void(std::size_t, std::size_t, const std::string&)>& progress) {
  std::vector<PrecomputeItem> items;
  items.reserve(rows.size());
  for (const auto& row : rows) items.push_back({row.file_path, resolve_audio_path(base_dir, row.file_path)});
  std::function<void(const PrecomputeProgress&)> forward;
  if (progress) forward = [&](const PrecomputeProgress& p) { progress(p.done, p.total, p.item->file_path); };
  return precompute_items(items, cache, pipeline, threads, forward);
}

PrecomputeReport precompute_items(const std::vector<PrecomputeItem>& items, const FeatureCache& cache,
                                  const FeaturePipeline& pipeline, int threads,
                                  const std::function<void(const PrecomputeProgress&)>& progress) {
  if (pipeline.config().ToString() != cache.config().ToString())
    throw std::invalid_argument(fmt::format("precompute: the pipeline's config ({}) is not the cache's ({})",
                                            pipeline.config().ToString(), cache.config().ToString()));
  const auto start = std::chrono::steady_clock::now();
  PrecomputeReport report;

  // One job per entry. The same entry named twice is done once when it reads the same
  // audio; for different audio the later row fails (its images would overwrite the other's).
  std::vector<std::size_t> work;
  std::vector<std::pair<std::size_t, PrecomputeFailure>> failures;
  {
    std::unordered_map<std::string, std::size_t> by_entry;
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto [it, inserted] = by_entry.emplace(cache.entry_path(items[i].file_path), i);
      if (inserted) {
        work.push_back(i);
      } else if (normal_key(items[it->second].audio_path) == normal_key(items[i].audio_path)) {
        ++report.duplicates;
      } else {
        const auto& first = items[it->second];
        failures.push_back(
            {i,
             {items[i].file_path,
              fmt::format("{}: its cache entry {} is already the one of '{}' ({}); file paths must be unique "
                          "across the CSVs of one cache",
                          items[i].audio_path, it->first, first.file_path, first.audio_path),
              items[i].audio_path}});
      }
    }
  }
  report.total = work.size() + failures.size();

  std::mutex mutex;
  std::size_t done = 0;
  std::exception_ptr callback_error;
  std::atomic<bool> abort{false};
  // Called with `mutex` held.
  const auto notify = [&](const PrecomputeItem& item, PrecomputeOutcome outcome, const std::string& error) {
    ++done;
    if (!progress || callback_error) return;
    try {
      progress(PrecomputeProgress{done, report.total, &item, outcome, error});
    } catch (...) {
      callback_error = std::current_exception();
      abort = true;
    }
  };
  {
    std::lock_guard lock(mutex);
    for (const auto& [index, failure] : failures) notify(items[index], PrecomputeOutcome::kFailed, failure.error);
  }

  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    while (!abort) {
      const std::size_t k = next.fetch_add(1);
      if (k >= work.size()) return;
      const PrecomputeItem& item = items[work[k]];
      PrecomputeOutcome outcome = PrecomputeOutcome::kComputed;
      std::string error;
      try {
        if (cache.is_fresh(item.file_path, item.audio_path) && cache.is_valid_entry(item.file_path)) {
          outcome = PrecomputeOutcome::kReused;
        } else {
          cache.store(item.file_path, pipeline.run(audio::decode_file(item.audio_path)));
        }
      } catch (const InputError& e) {
        outcome = PrecomputeOutcome::kFailed;
        error = with_file(item.audio_path, e.what());
      } catch (const std::exception& e) {
        outcome = PrecomputeOutcome::kFailed;
        error = with_file(item.audio_path, std::string("internal error: ") + e.what());
      }
      if (outcome == PrecomputeOutcome::kFailed) cache.remove(item.file_path);
      std::lock_guard lock(mutex);
      if (outcome == PrecomputeOutcome::kComputed) ++report.computed;
      if (outcome == PrecomputeOutcome::kReused) ++report.reused;
      if (outcome == PrecomputeOutcome::kFailed)
        failures.push_back({work[k], {item.file_path, error, item.audio_path}});
      notify(item, outcome, error);
    }
  };
  std::size_t n = threads > 0 ? static_cast<std::size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  n = std::max<std::size_t>(1, std::min(n, work.size()));
  if (n == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(n);
    for (std::size_t t = 0; t < n; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (callback_error) std::rethrow_exception(callback_error);

  std::sort(failures.begin(), failures.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [_, f] : failures) report.failures.push_back(std::move(f));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  nlohmann::json j = {
      {"cache", cache.dir()},
      {"preprocess", cache.config().ToString()},
      {"total", report.total},
      {"computed", report.computed},
      {"reused", report.reused},
      {"failed", report.failures.size()},
      {"duplicates", report.duplicates},
      {"threads", n},
      {"seconds", report.seconds},
      {"files_per_second", report.seconds > 0 ? static_cast<double>(report.total) / report.seconds : 0.0},
      {"failures", nlohmann::json::array()},
  };
  for (const auto& f : report.failures)
    j["failures"].push_back({{"file_path", f.file_path}, {"audio_path", f.audio_path}, {"error", f.error}});
  io::write_file_atomically(fs::path(cache.dir()) / kReportFile, json_text(j, 2) + "\n");
  return report;
}

}  // namespace coughkit::features
