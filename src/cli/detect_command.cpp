// `coughkit detect`: audio files -> cough probabilities. Decoding and feature extraction of
// the next files run on a second thread while the current one is inferred.
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audio/decoder.h"
#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "common/bounded_queue.h"
#include "common/error.h"
#include "common/progress_bar.h"
#include "detection/detection_json.h"
#include "detection/detector.h"

namespace coughkit::cli {
namespace {

struct DetectArgs {
  std::string model;
  std::vector<std::string> files;
  std::optional<float> threshold;
  std::optional<float> highpass_hz;
  bool json = false;
  model::EngineOptions engine;
  detection::Backend backend = detection::Backend::kEngine;
};

// One file's preprocessing result, or why it failed.
struct Prepared {
  std::string file;
  std::optional<features::ClipFeatures> features;
  std::string error;
};

std::string with_file(const std::string& file, const std::string& what) {
  return what.starts_with(file) ? what : file + ": " + what;
}

void print_table_header() {
  std::printf("%-40s %9s %8s %9s %9s %9s  %s\n", "file", "duration", "segments", "bag_prob", "max_seg", "mean_seg",
              "cough");
}

void print_table_row(const detection::Detection& d) {
  std::string name = d.source.size() > 40 ? "..." + d.source.substr(d.source.size() - 37) : d.source;
  std::printf("%-40s %7.2f s %8zu %9.4f %9.4f %9.4f  %s%s\n", name.c_str(), d.duration_s, d.num_segments,
              d.bag_probability, d.max_segment_probability, d.mean_segment_probability, d.cough_detected ? "YES" : "no",
              d.truncated() ? fmt::format(" (first {} of {} segments)", d.num_segments, d.total_segments).c_str() : "");
}

int run_detect(const DetectArgs& args) {
  std::string model_path = args.model;
  if (!resolve_default_model(model_path)) return kExitUsage;
  detection::DetectorConfig config{.model_path = model_path,
                                   .engine = args.engine,
                                   .threshold = args.threshold,
                                   .highpass_hz = args.highpass_hz,
                                   .backend = args.backend};
  const std::unique_ptr<detection::Detector> detector = detection::Detector::create(config);
  spdlog::debug("{}", detector->preprocess_config().ToString());

  BoundedQueue<Prepared> queue(2);  // two files ahead of inference is enough to hide decoding
  std::thread producer([&] {
    for (const auto& file : args.files) {
      Prepared p;
      p.file = file;
      try {
        p.features = detector->preprocess(audio::decode_file(file));
      } catch (const InputError& e) {
        p.error = with_file(file, e.what());
      } catch (const std::exception& e) {
        p.error = with_file(file, std::string("internal error: ") + e.what());
      }
      if (!queue.push(std::move(p))) break;
    }
    queue.close();
  });

  // A bar for a single file would say nothing: drawn from two files on.
  ProgressBar progress("detect", static_cast<double>(args.files.size()), ProgressUnits::kItems, args.files.size() > 1);
  if (!args.json) print_table_header();
  int failures = 0;
  while (auto prepared = queue.pop()) {
    progress.clear();
    if (!prepared->features) {
      ++failures;
      spdlog::error("{}", prepared->error);
    } else {
      try {
        auto d = std::move(detector->infer({&*prepared->features}).front());
        d.source = prepared->file;
        if (d.truncated())
          spdlog::warn("{}: {:.1f} s holds {} segments; the bag is the first {} ({:.1f} s)", d.source, d.duration_s,
                       d.total_segments, d.num_segments, d.segment_timestamps.back().second);
        if (args.json)
          std::printf("%s\n", detection::to_json_line(d).c_str());
        else
          print_table_row(d);
        std::fflush(stdout);
      } catch (const InputError& e) {
        ++failures;
        spdlog::error("{}", with_file(prepared->file, e.what()));
      }
    }
    progress.advance(1, prepared->file);
  }
  producer.join();
  return failures ? kExitInput : kExitOk;
}

}  // namespace

CommandRunner register_detect(CLI::App& app) {
  auto args = std::make_shared<DetectArgs>();
  auto* cmd = app.add_subcommand("detect", "Detect coughs in audio files with an AttnMILResNet model");
  cmd->footer(
      "Each file is cut into 2-s segments every 0.5 s (at most 32 per bag); the model gives one bag probability\n"
      "and one probability per segment. A cough is reported when the bag probability exceeds the threshold.\n"
      "--json prints one object per file per line: file, duration_s, num_segments, total_segments, truncated,\n"
      "bag_probability, bag_logit, segment_probabilities, segment_logits, segment_timestamps,\n"
      "max_segment_probability, mean_segment_probability, cough_detected, threshold.\n"
      "Example: coughkit detect --model models/coughkit_default.onnx --json clip.wav recording.webm");
  cmd->add_option("files", args->files, "Audio files (WAV, FLAC, MP3, OGG, Opus, WebM, M4A, ...)")->required();
  cmd->add_option("--model,-m", args->model,
                  "Model file: .onnx exported from AttnMILResNet, or a .pth checkpoint (default: the bundled\n"
                  "models/coughkit_default.onnx, a demonstration model; see models/README.md)")
      ->envname("COUGHKIT_MODEL");
  cmd->add_option("--threshold", args->threshold,
                  "Decision threshold on the bag probability (default: the model's own, else 0.61)")
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option(
         "--highpass-hz", args->highpass_hz,
         "High-pass cutoff in Hz applied after resampling (default: the model's preprocessing config, else off)")
      ->check(CLI::Range(0.0f, 7999.0f));
  cmd->add_flag("--json", args->json, "One JSON object per file per line on stdout instead of a table");
  add_engine_flags(cmd, args->engine, args->backend);
  return [args] { return run_detect(*args); };
}

}  // namespace coughkit::cli
