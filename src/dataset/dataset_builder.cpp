#include "dataset/dataset_builder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "checkpoint/sha256.h"
#include "common/error.h"
#include "common/version.h"
#include "dataset/cough_synth.h"
#include "dataset/mixing.h"
#include "dataset/output_files.h"
#include "dataset/rng.h"
#include "dataset/segment_labels.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace coughkit::dataset {
namespace {

// Bump when a change to the builder changes its output for the same options and sources:
// it is part of the fingerprint, so a re-run renders again instead of reusing old scenes.
constexpr int kGeneratorVersion = 1;

// Runs f(0..n-1) on `jobs` threads (the caller's included); rethrows the first exception.
template <typename F>
void parallel_for(std::size_t n, unsigned jobs, F&& f) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    while (!stop) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        f(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
    }
  };
  const std::size_t threads = std::max<std::size_t>(1, std::min<std::size_t>(jobs, n));
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// Serialises the observer's callbacks across worker threads.
class Reporter {
 public:
  explicit Reporter(const BuildObserver& o) : o_(o) {}
  void log(const std::string& m) {
    std::lock_guard lock(mutex_);
    if (o_.log) o_.log(m);
  }
  void stage(const std::string& s, std::size_t total) {
    std::lock_guard lock(mutex_);
    if (o_.stage) o_.stage(s, total);
  }
  void advance(const std::string& item) {
    std::lock_guard lock(mutex_);
    if (o_.advance) o_.advance(item);
  }

 private:
  const BuildObserver& o_;
  std::mutex mutex_;
};

std::string sha256_string(std::string_view data) {
  checkpoint::Sha256 h;
  h.update(data);
  return h.hex_digest();
}

// Conditioned clips are kept in the source cache (raw float32, keyed by the source file's
// hash): decoding ~960 files costs seconds on every run, reading them back almost nothing,
// and the samples are bit-identical either way.
constexpr const char* kClipCacheDir = "clips16k-v1";

std::vector<float> cached_clip(const fs::path& cache, const std::string& sha256, const fs::path& file) {
  const fs::path path = cache / kClipCacheDir / (sha256.substr(0, 32) + ".f32");
  if (fs::is_regular_file(path)) {
    const std::string bytes = read_file(path);
    if (bytes.size() % sizeof(float) == 0) {
      std::vector<float> x(bytes.size() / sizeof(float));
      std::memcpy(x.data(), bytes.data(), bytes.size());
      return x;
    }
  }
  std::vector<float> x = load_clip_16k(file);
  fs::create_directories(path.parent_path());
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(float)));
  return x;
}

// Rounded to `decimals` places (dividing by a power of ten gives the shortest JSON text).
double round_to(double v, int decimals) {
  const double k = std::pow(10.0, decimals);
  return std::round(v * k) / k;
}

struct LoadedSources {
  std::vector<SourceClip> clips;  // coughs, voices, speech; each group sorted by id
  std::size_t duplicates = 0, too_short = 0;
};

// hedgewars voice lines: hashed, de-duplicated, decoded in parallel.
void load_hedgewars(const HedgewarsPackage& package, const fs::path& cache, unsigned jobs, Reporter& report,
                    LoadedSources& out) {
  const auto files = list_voice_files(package);
  if (files.empty())
    throw InputError(
        fmt::format("{}: no voice files under {}/Sounds/voices", package.root.string(), kHedgewarsDataDir));
  std::vector<std::string> hashes(files.size());
  parallel_for(files.size(), jobs, [&](std::size_t i) {
    hashes[i] = checkpoint::sha256_file((package.root / files[i].relative).string());
  });
  // The first file (in path order) of each content is the source; the others are aliases.
  std::map<std::string, std::size_t> first;
  std::vector<std::size_t> unique;
  std::map<std::size_t, std::string> origin;
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto [it, inserted] = first.emplace(hashes[i], i);
    if (inserted) {
      unique.push_back(i);
      origin[i] = files[i].relative;
    } else {
      origin[it->second] += ";" + files[i].relative;
      ++out.duplicates;
    }
  }
  std::vector<SourceClip> clips(unique.size());
  report.stage("loading hedgewars voices", unique.size());
  parallel_for(unique.size(), jobs, [&](std::size_t k) {
    const auto& f = files[unique[k]];
    SourceClip& c = clips[k];
    c.id = fmt::format("hw:{}/{}", f.pack, f.name);
    c.kind = f.cough ? SourceKind::kCough : SourceKind::kVoice;
    c.origin = origin.at(unique[k]);
    c.sha256 = hashes[unique[k]];
    c.samples = cached_clip(cache, c.sha256, package.root / f.relative);
    report.advance(f.relative);
  });
  for (auto& c : clips) {
    if (c.samples.size() < kMixRate / 20) {  // < 50 ms of sound: nothing to learn from
      ++out.too_short;
      continue;
    }
    out.clips.push_back(std::move(c));
  }
}

void load_speech(const std::vector<Utterance>& plan, const EspeakInfo& espeak, const fs::path& cache, unsigned jobs,
                 Reporter& report, LoadedSources& out) {
  std::vector<SourceClip> clips(plan.size());
  report.stage("espeak-ng speech", plan.size());
  parallel_for(plan.size(), jobs, [&](std::size_t i) {
    const Utterance& u = plan[i];
    const fs::path wav = synthesize(u, espeak, cache);
    SourceClip& c = clips[i];
    c.id = fmt::format("espeak:{:04d}", i);
    c.kind = SourceKind::kSpeech;
    c.origin = fmt::format("espeak-ng -v {} -s {} -p {}", u.voice, u.speed, u.pitch);
    c.text = u.text;
    c.sha256 = checkpoint::sha256_file(wav.string());
    c.samples = cached_clip(cache, c.sha256, wav);
    report.advance(c.origin);
  });
  std::map<std::string, bool> seen;
  for (auto& c : clips) {
    if (!seen.emplace(c.sha256, true).second) {
      ++out.duplicates;
      continue;
    }
    if (c.samples.size() < kMixRate / 20) {
      ++out.too_short;
      continue;
    }
    out.clips.push_back(std::move(c));
  }
}

void assign_all_splits(std::vector<SourceClip>& clips, std::uint64_t seed) {
  for (SourceKind kind : {SourceKind::kCough, SourceKind::kVoice, SourceKind::kSpeech}) {
    std::vector<SourceClip*> group;
    std::vector<std::string> keys;
    for (auto& c : clips)
      if (c.kind == kind) group.push_back(&c), keys.push_back(c.sha256);
    if (kind != SourceKind::kCough && group.empty()) continue;
    const SplitCounts counts =
        kind == SourceKind::kCough ? cough_split_counts(group.size()) : fraction_split_counts(group.size());
    const auto splits = assign_splits(keys, counts, seed, source_kind_name(kind));
    for (std::size_t i = 0; i < group.size(); ++i) group[i]->split = splits[i];
  }
}

std::vector<SceneSpec> plan_scenes(const BuildOptions& o) {
  std::vector<SceneSpec> specs;
  for (Split s : kSplits) {
    const std::size_t n = s == Split::kTrain ? o.train_scenes : s == Split::kVal ? o.val_scenes : o.test_scenes;
    auto positives = static_cast<std::size_t>(std::llround(static_cast<double>(n) * o.positive_fraction));
    // Every split of two or more scenes gets both labels unless the fraction is 0 or 1.
    if (n >= 2 && o.positive_fraction > 0 && o.positive_fraction < 1)
      positives = std::clamp<std::size_t>(positives, 1, n - 1);
    std::vector<char> labels(n, 0);
    for (std::size_t i = 0; i < positives; ++i) labels[i] = 1;
    Rng rng = Rng::derive(o.seed, "labels", static_cast<std::uint64_t>(s));
    rng.shuffle(labels);
    for (std::size_t i = 0; i < n; ++i) {
      SceneSpec spec;
      spec.split = s;
      spec.index = i;
      spec.positive = labels[i] != 0;
      spec.seed = Rng::derive(o.seed, "scene", static_cast<std::uint64_t>(s), i).next();
      spec.file = fmt::format("audio/{0}/{0}_{1:04d}.wav", split_name(s), i);
      specs.push_back(std::move(spec));
    }
  }
  return specs;
}

json scene_params_json(const SceneParams& p) {
  return {{"duration_s", {p.min_duration_s, p.max_duration_s}},
          {"duration_distribution", "log-uniform"},
          {"snr_db", {p.min_snr_db, p.max_snr_db}},
          {"cough_speed", {p.min_cough_speed, p.max_cough_speed}},
          {"voice_speed", {p.min_voice_speed, p.max_voice_speed}},
          {"reverb_probability", p.reverb_probability},
          {"stereo_probability", p.stereo_probability},
          {"noise_only_probability", p.noise_only_probability},
          {"speech_in_positive_probability", p.speech_in_positive_probability},
          {"peak_dbfs", {p.min_peak_dbfs, p.max_peak_dbfs}},
          {"sample_rates", p.sample_rates}};
}

std::optional<json> read_json(const fs::path& path) {
  if (!fs::is_regular_file(path)) return std::nullopt;
  try {
    return json::parse(read_file(path));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

BuildSummary summary_from(const json& dataset) {
  BuildSummary s;
  for (Split split : kSplits) {
    const auto& c = dataset.at("counts").at(split_name(split));
    auto& out = s.splits[static_cast<int>(split)];
    out.scenes = c.at("scenes");
    out.positive = c.at("positive");
    out.negative = c.at("negative");
    out.audio_s = c.at("audio_s");
    out.cough_sources = c.at("sources").at("cough");
    out.voice_sources = c.at("sources").at("voice");
    out.speech_sources = c.at("sources").at("speech");
  }
  s.bytes = dataset.at("counts").at("wav_bytes");
  s.hedgewars_version = dataset.at("sources").at("hedgewars-data").at("version");
  s.espeak_version = dataset.at("sources").at("espeak-ng").at("version");
  return s;
}

// DIR already holds this dataset: dataset.json with the fingerprint and every listed file.
bool is_complete(const fs::path& out, const std::string& fingerprint, const std::vector<SceneSpec>& specs) {
  const auto j = read_json(out / "dataset.json");
  if (!j || j->value("fingerprint", "") != fingerprint) return false;
  for (const char* f : {"train.csv", "val.csv", "test.csv", "scenes.jsonl", "sources.csv"})
    if (!fs::is_regular_file(out / f)) return false;
  for (const auto& s : specs)
    if (!fs::is_regular_file(out / s.file)) return false;
  return true;
}

// Scenes a previous run left behind that this plan does not have (and our temp files).
void remove_stale(const fs::path& out, const std::vector<SceneSpec>& specs) {
  std::set<std::string> keep;
  for (const auto& s : specs) keep.insert(fs::path(s.file).generic_string());
  for (Split split : kSplits) {
    const fs::path dir = out / "audio" / split_name(split);
    if (!fs::is_directory(dir)) continue;
    const std::regex ours(fmt::format(R"(({0}_[0-9]+\.wav)|(\.{0}_[0-9]+\.wav\.tmp-.*))", split_name(split)));
    std::vector<fs::path> doomed;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      const std::string rel = fmt::format("audio/{}/{}", split_name(split), name);
      if (std::regex_match(name, ours) && !keep.count(rel)) doomed.push_back(e.path());
    }
    for (const auto& p : doomed) fs::remove(p);
  }
}

// ---------------------------------------------------------------------------------------
// build_dataset's steps.

fs::path source_cache_of(const BuildOptions& o) {
  return o.source_cache.empty() ? o.out_dir / "sources" : o.source_cache;
}

unsigned jobs_of(const BuildOptions& o) { return o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency()); }

// The sources the output is made of: the hedgewars package and, with speech, espeak-ng and
// the utterances it will say.
struct SourcePlan {
  HedgewarsPackage hedgewars;
  std::optional<EspeakInfo> espeak;
  std::vector<Utterance> utterances;
};

SourcePlan plan_sources(const BuildOptions& options, const fs::path& cache, Reporter& report) {
  SourcePlan plan{obtain_hedgewars(cache, options.hedgewars_deb, [&](const std::string& m) { report.log(m); }), {}, {}};
  if (options.speech_clips > 0) {
    plan.espeak = find_espeak();
    const TextPools pools = load_text_pools(options.licenses_dir, plan.hedgewars);
    plan.utterances = plan_utterances(options.speech_clips, options.seed, pools);
  }
  return plan;
}

// The hash of everything that decides the output (options and sources).
std::string fingerprint_of(const BuildOptions& options, const SourcePlan& sources) {
  std::string utterance_keys;
  for (const auto& u : sources.utterances) utterance_keys += u.cache_key(sources.espeak->version);
  const json fingerprint_input = {{"generator", kGeneratorVersion},
                                  {"seed", options.seed},
                                  {"scenes", {options.train_scenes, options.val_scenes, options.test_scenes}},
                                  {"positive_fraction", options.positive_fraction},
                                  {"speech_clips", options.speech_clips},
                                  {"scene_params", scene_params_json(options.scene)},
                                  {"hedgewars_deb_sha256", sources.hedgewars.deb_sha256},
                                  {"utterances_sha256", sha256_string(utterance_keys)}};
  json input = fingerprint_input;
  // Only when used, so that the corpora built before the synthesiser keep their fingerprints.
  if (options.synthetic_coughs > 0) {
    input["synthetic_coughs"] = {{"count", options.synthetic_coughs},
                                 {"share", options.scene.synthetic_cough_share},
                                 {"synthesiser", kCoughSynthesiserVersion}};
  }
  return sha256_string(input.dump());
}

// Scenes of a complete earlier run with the same fingerprint (some WAVs lost), by file, from
// its scenes.jsonl; none when DIR holds another dataset or the list does not parse.
std::map<std::string, json> reusable_scenes(const fs::path& out, const std::string& fingerprint) {
  std::map<std::string, json> reusable;
  if (const auto old = read_json(out / "dataset.json"); old && old->value("fingerprint", "") == fingerprint) {
    try {
      std::istringstream in(read_file(out / "scenes.jsonl"));
      for (std::string line; std::getline(in, line);) {
        auto j = json::parse(line);
        std::string file = j.at("file").get<std::string>();  // before j is moved from
        reusable.emplace(std::move(file), std::move(j));
      }
    } catch (const std::exception&) {
      reusable.clear();
    }
  }
  return reusable;
}

// `count` synthesised coughs for the training split, each from its own seed.
void add_synthetic_coughs(std::size_t count, std::uint64_t seed, LoadedSources& loaded) {
  for (std::size_t i = 0; i < count; ++i) {
    Rng rng = Rng::derive(seed, "synthetic-cough", i);
    const CoughParams params = draw_cough_params(rng);
    SourceClip c;
    c.id = fmt::format("synth:cough:{:04d}", i);
    c.kind = SourceKind::kCough;
    c.split = Split::kTrain;
    c.synthetic = true;
    c.origin = describe(params);
    c.samples = synthesise_cough(params, rng);
    c.sha256 = sha256_string(
        std::string_view(reinterpret_cast<const char*>(c.samples.data()), c.samples.size() * sizeof(float)));
    loaded.clips.push_back(std::move(c));
  }
}

// Every source clip, decoded, de-duplicated and assigned to a split; then the synthetic
// coughs (training split).
LoadedSources load_sources(const SourcePlan& sources, const fs::path& cache, unsigned jobs, std::uint64_t seed,
                           std::size_t synthetic_coughs, Reporter& report) {
  LoadedSources loaded;
  load_hedgewars(sources.hedgewars, cache, jobs, report, loaded);
  if (sources.espeak) load_speech(sources.utterances, *sources.espeak, cache, jobs, report, loaded);
  assign_all_splits(loaded.clips, seed);
  add_synthetic_coughs(synthetic_coughs, seed, loaded);
  return loaded;
}

// Each split's clips by kind (pointers into `loaded`), and a log line of the counts.
std::array<SplitPool, 3> split_pools(const LoadedSources& loaded, Reporter& report) {
  std::array<SplitPool, 3> pools;
  for (const auto& c : loaded.clips) {
    auto& p = pools[static_cast<int>(c.split)];
    (c.kind == SourceKind::kCough   ? (c.synthetic ? p.synthetic_coughs : p.coughs)
     : c.kind == SourceKind::kVoice ? p.voices
                                    : p.speech)
        .push_back(&c);
  }
  std::size_t cough_count = 0, synthetic_count = 0;
  for (const auto& p : pools) cough_count += p.coughs.size(), synthetic_count += p.synthetic_coughs.size();
  report.log(fmt::format(
      "sources: {} unique coughs{}, {} voice lines, {} espeak-ng utterances ({} duplicates, {} near-silent dropped)",
      cough_count, synthetic_count ? fmt::format(" (+{} synthesised, training split)", synthetic_count) : "",
      pools[0].voices.size() + pools[1].voices.size() + pools[2].voices.size(),
      pools[0].speech.size() + pools[1].speech.size() + pools[2].speech.size(), loaded.duplicates, loaded.too_short));
  return pools;
}

// What rendering left: each scene's record (scenes.jsonl) and WAV size, in plan order.
struct RenderedScenes {
  std::vector<json> records;
  std::vector<std::uintmax_t> sizes;
  std::size_t rendered = 0, resumed = 0;
};

// Renders every scene, keeping those an interrupted run with the same fingerprint already
// wrote (its WAV plus a record in .partial/ or in the old scenes.jsonl).
RenderedScenes render_scenes(const std::vector<SceneSpec>& specs, const std::array<SplitPool, 3>& pools,
                             const BuildOptions& options, const fs::path& out, const std::string& fingerprint,
                             const std::map<std::string, json>& reusable, unsigned jobs, Reporter& report) {
  const OutputResamplers resamplers(options.scene.sample_rates);
  const fs::path partial = out / ".partial";
  for (Split s : kSplits) fs::create_directories(out / "audio" / split_name(s));
  fs::create_directories(partial);
  RenderedScenes result;
  result.records.resize(specs.size());
  result.sizes.resize(specs.size());
  std::atomic<std::size_t> rendered{0}, resumed{0};
  report.stage("rendering scenes", specs.size());
  parallel_for(specs.size(), jobs, [&](std::size_t i) {
    const SceneSpec& spec = specs[i];
    const fs::path wav = out / spec.file;
    const fs::path record_path = partial / (fs::path(spec.file).stem().string() + ".json");
    if (fs::is_regular_file(wav)) {
      std::optional<json> record;
      if (const auto it = reusable.find(spec.file); it != reusable.end()) record = it->second;
      if (auto r = read_json(record_path); r && r->value("fingerprint", "") == fingerprint && r->contains("scene"))
        record = (*r)["scene"];
      if (record) {
        result.records[i] = std::move(*record);
        result.sizes[i] = fs::file_size(wav);
        ++resumed;
        report.advance(spec.file);
        return;
      }
    }
    const RenderedScene scene = render_scene(spec, pools[static_cast<int>(spec.split)], options.scene, resamplers);
    const std::string bytes = encode_wav_s16(scene.output, scene.record.sample_rate);
    write_file_atomic(wav, bytes);
    result.records[i] = scene.record.to_json();
    result.sizes[i] = bytes.size();
    write_file_atomic(record_path, json{{"fingerprint", fingerprint}, {"scene", result.records[i]}}.dump() + "\n");
    ++rendered;
    report.advance(spec.file);
  });
  result.rendered = rendered;
  result.resumed = resumed;
  return result;
}

// train/val/test.csv and scenes.jsonl; the summary's scene counts and bytes.
void write_scene_lists(const fs::path& out, const std::vector<SceneSpec>& specs, const RenderedScenes& scenes,
                       BuildSummary& summary) {
  std::array<std::vector<LabelRow>, 3> rows;
  std::string jsonl;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const int label = scenes.records[i].at("label").get<int>();
    const int split = static_cast<int>(specs[i].split);
    rows[split].push_back({specs[i].file, label, segment_labels_text(scene_segment_labels(scenes.records[i]))});
    jsonl += scenes.records[i].dump() + "\n";
    auto& s = summary.splits[split];
    ++s.scenes;
    ++(label ? s.positive : s.negative);
    s.audio_s += scenes.records[i].at("duration_s").get<double>();
    summary.bytes += scenes.sizes[i];
  }
  for (Split s : kSplits)
    write_file_atomic(out / (std::string(split_name(s)) + ".csv"), labels_csv(rows[static_cast<int>(s)]));
  write_file_atomic(out / "scenes.jsonl", jsonl);
}

// sources.csv; the summary's source counts.
void write_source_list(const fs::path& out, const std::vector<SourceClip>& clips, BuildSummary& summary) {
  std::string sources_csv = csv_row({"source_id", "kind", "split", "duration_s", "sha256", "origin", "text"});
  for (const auto& c : clips) {
    sources_csv += csv_row({c.id, source_kind_name(c.kind), split_name(c.split), fmt::format("{:.3f}", c.duration_s()),
                            c.sha256, c.origin, c.text});
    auto& s = summary.splits[static_cast<int>(c.split)];
    ++(c.kind == SourceKind::kCough   ? s.cough_sources
       : c.kind == SourceKind::kVoice ? s.voice_sources
                                      : s.speech_sources);
  }
  write_file_atomic(out / "sources.csv", sources_csv);
}

// dataset.json: options, counts, files and sources of the finished dataset.
json dataset_json(const BuildOptions& options, const std::string& fingerprint, const BuildSummary& summary,
                  const SourcePlan& sources, const LoadedSources& loaded) {
  json counts = json::object();
  for (Split split : kSplits) {
    const auto& s = summary.splits[static_cast<int>(split)];
    counts[split_name(split)] = {
        {"scenes", s.scenes},
        {"positive", s.positive},
        {"negative", s.negative},
        {"audio_s", round_to(s.audio_s, 2)},
        {"sources", {{"cough", s.cough_sources}, {"voice", s.voice_sources}, {"speech", s.speech_sources}}}};
  }
  counts["wav_bytes"] = summary.bytes;
  const auto& hedgewars = sources.hedgewars;
  const auto& espeak = sources.espeak;
  return {{"format", "coughkit-dataset"},
          {"format_version", 1},
          {"generator", kGeneratorVersion},
          {"fingerprint", fingerprint},
          {"coughkit_version", version_string()},
          {"command_line", options.command_line},
          {"seed", options.seed},
          {"options",
           {{"train_scenes", options.train_scenes},
            {"val_scenes", options.val_scenes},
            {"test_scenes", options.test_scenes},
            {"positive_fraction", options.positive_fraction},
            {"speech_clips", options.speech_clips}}},
          {"scene_params", scene_params_json(options.scene)},
          {"counts", counts},
          {"files",
           {{"train", "train.csv"},
            {"val", "val.csv"},
            {"test", "test.csv"},
            {"scenes", "scenes.jsonl"},
            {"sources", "sources.csv"}}},
          {"sources",
           {{"hedgewars-data",
             {{"version", hedgewars.version},
              {"deb", hedgewars.deb_name},
              {"deb_sha256", hedgewars.deb_sha256},
              {"license", "GPL-2; see usr/share/doc/hedgewars-data/copyright in the source cache"}}},
            {"espeak-ng",
             {{"version", espeak ? espeak->version : ""},
              {"package_version", espeak ? espeak->package_version : ""},
              {"utterances", sources.utterances.size()}}},
            {"duplicates_removed", loaded.duplicates},
            {"near_silent_dropped", loaded.too_short}}}};
}

}  // namespace

void BuildOptions::Validate() const {
  if (out_dir.empty()) throw ConfigError("--out is required");
  if (!(positive_fraction >= 0.0 && positive_fraction <= 1.0))
    throw ConfigError(fmt::format("--positive-fraction must be in [0, 1], got {}", positive_fraction));
  if (train_scenes + val_scenes + test_scenes == 0) throw ConfigError("at least one scene is needed");
  if (synthetic_coughs > 10000)
    throw ConfigError(fmt::format("--synthetic-coughs must be at most 10000, got {}", synthetic_coughs));
  if (!(scene.synthetic_cough_share >= 0.0 && scene.synthetic_cough_share <= 1.0))
    throw ConfigError(fmt::format("--synthetic-cough-share must be in [0, 1], got {}", scene.synthetic_cough_share));
  if (scene.min_duration_s < 0.1 || scene.max_duration_s < scene.min_duration_s)
    throw ConfigError("scene durations must satisfy 0.1 <= min <= max");
}

BuildSummary build_dataset(const BuildOptions& options, const BuildObserver& observer) {
  options.Validate();
  Reporter report(observer);
  const fs::path out = options.out_dir;
  const fs::path cache = source_cache_of(options);
  const unsigned jobs = jobs_of(options);
  try {
    fs::create_directories(out);
    fs::create_directories(cache);
  } catch (const fs::filesystem_error& e) {
    throw InputError(fmt::format("cannot create the output directories: {}", e.what()));
  }

  // Sources: obtain (cached), then everything that decides the output goes into the fingerprint.
  const SourcePlan sources = plan_sources(options, cache, report);
  const std::string fingerprint = fingerprint_of(options, sources);
  const std::vector<SceneSpec> specs = plan_scenes(options);
  if (is_complete(out, fingerprint, specs)) {
    report.log(fmt::format("{} already holds this dataset (same options and sources): nothing to do", out.string()));
    BuildSummary s = summary_from(*read_json(out / "dataset.json"));
    s.already_complete = true;
    return s;
  }
  // From here on the directory is incomplete.
  const std::map<std::string, json> reusable = reusable_scenes(out, fingerprint);
  fs::remove(out / "dataset.json");

  const LoadedSources loaded = load_sources(sources, cache, jobs, options.seed, options.synthetic_coughs, report);
  const std::array<SplitPool, 3> pools = split_pools(loaded, report);
  const RenderedScenes scenes = render_scenes(specs, pools, options, out, fingerprint, reusable, jobs, report);
  remove_stale(out, specs);

  // Lists and metadata; dataset.json last.
  BuildSummary summary;
  summary.rendered = scenes.rendered;
  summary.resumed = scenes.resumed;
  summary.hedgewars_version = sources.hedgewars.version;
  summary.espeak_version = sources.espeak ? sources.espeak->version : "";
  write_scene_lists(out, specs, scenes, summary);
  write_source_list(out, loaded.clips, summary);
  write_file_atomic(out / "dataset.json", dataset_json(options, fingerprint, summary, sources, loaded).dump(2) + "\n");
  fs::remove_all(out / ".partial");
  return summary;
}

CorpusSources load_corpus_sources(const BuildOptions& options, const BuildObserver& observer) {
  Reporter report(observer);
  const fs::path cache = source_cache_of(options);
  try {
    fs::create_directories(cache);
  } catch (const fs::filesystem_error& e) {
    throw InputError(fmt::format("cannot create the source cache: {}", e.what()));
  }
  const SourcePlan plan = plan_sources(options, cache, report);
  LoadedSources loaded = load_sources(plan, cache, jobs_of(options), options.seed, options.synthetic_coughs, report);
  CorpusSources out;
  out.hedgewars_version = plan.hedgewars.version;
  out.hedgewars_deb_sha256 = plan.hedgewars.deb_sha256;
  out.espeak_version = plan.espeak ? plan.espeak->version : "";
  std::string utterance_keys;
  for (const auto& u : plan.utterances) utterance_keys += u.cache_key(plan.espeak->version);
  out.utterances_sha256 = sha256_string(utterance_keys);
  out.clips = std::move(loaded.clips);
  return out;
}

}  // namespace coughkit::dataset
