// `coughkit compare`: several models (ONNX, fp16 ONNX, .pth checkpoints) on the same clips,
// one row per clip and model: size, load time, decision, segment summary, inference time,
// and every output's max |difference| from the first model. Replaces the reference's
// test_all_models.py and its by-hand parity checklist.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "audio/decoder.h"
#include "checkpoint/checkpoint_reader.h"
#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "common/error.h"
#include "common/json_text.h"
#include "detection/detector.h"

namespace coughkit::cli {
namespace {

struct CompareArgs {
  std::vector<std::string> audio, models;
  std::optional<float> threshold;
  bool json = false;
  model::EngineOptions engine;
  std::vector<detection::Backend> backends{detection::Backend::kEngine};
};

struct LoadedModel {
  std::string path;
  detection::Backend backend = detection::Backend::kEngine;
  double size_mb = 0.0, load_ms = 0.0;
  std::unique_ptr<detection::Detector> detector;
};

// Max |a - b|, or NaN when the shapes differ (e.g. models with different preprocessing).
double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return NAN;
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

struct Diffs {
  double bag_probability, segment_probabilities, segment_logits, bag_logit;
};
Diffs diffs(const detection::Detection& d, const detection::Detection& ref) {
  return {max_diff({d.bag_probability}, {ref.bag_probability}),
          max_diff(d.segment_probabilities, ref.segment_probabilities), max_diff(d.segment_logits, ref.segment_logits),
          max_diff({d.bag_logit}, {ref.bag_logit})};
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string short_name(const std::string& path, std::size_t width) {
  std::string name = std::filesystem::path(path).filename().string();
  return name.size() > width ? "..." + name.substr(name.size() - (width - 3)) : name;
}

// The table's model column: the file name, "(torch)" marking LibTorch rows.
std::string row_name(const LoadedModel& m, std::size_t width) {
  if (m.backend == detection::Backend::kEngine) return short_name(m.path, width);
  const std::string tag = std::string(" (") + detection::backend_name(m.backend) + ")";
  return short_name(m.path, width - tag.size()) + tag;
}

std::string diff_cell(double v, bool first) {
  if (first) return "-";
  return std::isnan(v) ? "n/a" : fmt::format("{:.2e}", v);
}

int run_compare(CompareArgs& args) {
  // `--audio a.wav b.wav m1.onnx m2.pth`: the option is greedy, so model files given after
  // it land in the audio list; they are recognised by extension and moved.
  std::vector<std::string> audio;
  for (auto& f : args.audio) {
    const auto ext = std::filesystem::path(f).extension().string();
    (ext == ".onnx" || checkpoint::is_checkpoint_path(f) ? args.models : audio).push_back(f);
  }
  if (audio.empty() || args.models.empty()) {
    spdlog::error("compare needs at least one audio file (--audio) and one model");
    return kExitUsage;
  }
  // One row per model and backend; LibTorch runs checkpoints only, so ONNX files run on
  // the engine whatever --backend says.
  std::vector<LoadedModel> models;
  for (const auto& path : args.models) {
    std::vector<detection::Backend> backends;
    for (const auto b : args.backends) {
      const auto backend =
          b == detection::Backend::kTorch && !checkpoint::is_checkpoint_path(path) ? detection::Backend::kEngine : b;
      if (std::find(backends.begin(), backends.end(), backend) == backends.end()) backends.push_back(backend);
    }
    for (const auto& backend : backends) {
      LoadedModel m;
      m.path = path;
      m.backend = backend;
      std::error_code ec;
      m.size_mb = static_cast<double>(std::filesystem::file_size(path, ec)) / 1e6;
      const auto t0 = std::chrono::steady_clock::now();
      m.detector = detection::Detector::create({.model_path = path,
                                                .engine = args.engine,
                                                .threshold = args.threshold,
                                                .highpass_hz = std::nullopt,
                                                .backend = backend});
      m.load_ms = ms_since(t0);
      models.push_back(std::move(m));
    }
  }

  if (!args.json)
    std::printf("%-30s %8s %8s %9s %5s %8s %8s %8s  %9s %9s %9s %9s\n", "model", "size_MB", "load_ms", "bag_prob",
                "cough", "max_seg", "mean_seg", "infer_ms", "d_bag_p", "d_seg_p", "d_seg_lg", "d_bag_lg");
  int failures = 0;
  for (const auto& file : audio) {
    std::optional<audio::DecodedAudio> decoded;
    try {
      decoded = audio::decode_file(file);
    } catch (const InputError& e) {
      ++failures;
      spdlog::error("{}", e.what());
      continue;
    }
    // Features once per distinct preprocessing config (models may carry their own high-pass).
    std::map<std::string, features::ClipFeatures> features;
    std::optional<detection::Detection> first;
    bool header = false;
    for (std::size_t k = 0; k < models.size(); ++k) {
      const auto& m = models[k];
      const std::string key = m.detector->preprocess_config().ToString();
      auto it = features.find(key);
      if (it == features.end()) it = features.emplace(key, m.detector->preprocess(*decoded)).first;
      const auto t0 = std::chrono::steady_clock::now();
      auto d = std::move(m.detector->infer({&it->second}).front());
      const double infer_ms = ms_since(t0);
      d.source = file;
      if (!first) first = d;
      const Diffs df = diffs(d, *first);
      if (args.json) {
        nlohmann::json j = {{"file", file},
                            {"model", m.path},
                            {"backend", m.detector->runner().backend_name()},
                            {"size_mb", m.size_mb},
                            {"load_ms", m.load_ms},
                            {"num_segments", d.num_segments},
                            {"bag_probability", d.bag_probability},
                            {"bag_logit", d.bag_logit},
                            {"threshold", d.threshold},
                            {"cough_detected", d.cough_detected},
                            {"max_segment_probability", d.max_segment_probability},
                            {"mean_segment_probability", d.mean_segment_probability},
                            {"inference_ms", infer_ms}};
        auto jd = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
        j["max_abs_diff_vs_first"] = k == 0 ? nlohmann::json(nullptr)
                                            : nlohmann::json{{"bag_probability", jd(df.bag_probability)},
                                                             {"segment_probabilities", jd(df.segment_probabilities)},
                                                             {"segment_logits", jd(df.segment_logits)},
                                                             {"bag_logit", jd(df.bag_logit)}};
        std::printf("%s\n", json_text(j).c_str());
      } else {
        if (!header) {
          std::printf("%s (%.2f s, %zu segments)\n", file.c_str(), d.duration_s, d.num_segments);
          header = true;
        }
        std::printf("  %-28s %8.1f %8.1f %9.5f %5s %8.5f %8.5f %8.1f  %9s %9s %9s %9s\n", row_name(m, 28).c_str(),
                    m.size_mb, m.load_ms, d.bag_probability, d.cough_detected ? "YES" : "no", d.max_segment_probability,
                    d.mean_segment_probability, infer_ms, diff_cell(df.bag_probability, k == 0).c_str(),
                    diff_cell(df.segment_probabilities, k == 0).c_str(), diff_cell(df.segment_logits, k == 0).c_str(),
                    diff_cell(df.bag_logit, k == 0).c_str());
      }
      std::fflush(stdout);
    }
  }
  return failures ? kExitInput : kExitOk;
}

}  // namespace

CommandRunner register_compare(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand("compare", "Run several models (ONNX or .pth) on the same clips and compare them");
  cmd->footer(
      "One row per clip and model: file size, load time, bag probability, cough yes/no at the model's threshold,\n"
      "max and mean segment probability, inference time, and the max |difference| of each output\n"
      "(bag_probability, segment_probabilities, segment_logits, bag_logit) from the first model.\n"
      "--json prints one object per clip and model per line instead.\n"
      "--backend engine,torch runs each checkpoint on both backends (ONNX files always run on the engine).\n"
      "Example: coughkit compare --audio clip.wav model.onnx model_fp16.onnx best_model.pth\n"
      "         coughkit compare --audio clip.wav best_model.pth --backend engine,torch");
  cmd->add_option("--audio,-a", args->audio, "Audio files (model files listed after them are recognised by extension)")
      ->required();
  cmd->add_option("models", args->models, "Model files (.onnx, .pth/.pt); the first is the reference for differences");
  cmd->add_option("--threshold", args->threshold, "Decision threshold (default: each model's own, else 0.61)")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_flag("--json", args->json, "One JSON object per clip and model per line");
  add_engine_flags(cmd, args->engine);
  cmd->add_option_function<std::vector<std::string>>(
         "--backend",
         [args](const std::vector<std::string>& names) {
           args->backends.clear();
           for (const auto& n : names) args->backends.push_back(*detection::parse_backend(n));
         },
         std::string(kBackendHelp) + ". A comma-separated list runs each checkpoint on each backend, one row per pair")
      ->delimiter(',')
      ->check(CLI::IsMember({"engine", "torch"}))
      ->default_str("engine");
  return [args] { return run_compare(*args); };
}

}  // namespace coughkit::cli
