// `coughkit bench`: inference latency of one bag, as one JSON object (after warm-up runs).
#include <cstdio>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "common/error.h"
#include "detection/detector.h"
#include "model/bench.h"

namespace coughkit::cli {
namespace {

struct BenchArgs {
  std::string model;
  int segments = 17;
  int repeat = 10;
  int warmup = 2;
  model::EngineOptions engine;
  detection::Backend backend = detection::Backend::kEngine;
};

int run_bench(const BenchArgs& args) {
  if (args.backend != detection::Backend::kEngine) {
    spdlog::error(
        "bench measures coughkit's engine only; --backend {} is not supported (coughkit compare --backend "
        "engine,torch shows both backends' inference times)",
        detection::backend_name(args.backend));
    return kExitUsage;
  }
  const auto engine = detection::open_engine(args.model, args.engine);
  const auto result = model::bench_engine(*engine, args.segments, args.repeat, args.warmup);
  std::printf("%s\n", result.ToJson().c_str());
  return kExitOk;
}

}  // namespace

CommandRunner register_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure inference latency of one bag of N segments");
  cmd->footer(
      "Prints one JSON object: segments, threads, repeat, ms_per_bag_median, ms_per_bag_min, ms_per_bag_mean,\n"
      "ms_per_segment_median, gflops (achieved GFLOP/s), conv_algorithms.\n"
      "Example: coughkit bench --model model.onnx --segments 17 --threads 2 --repeat 20");
  cmd->add_option("--model,-m", args->model, "Model file (.onnx, or a .pth checkpoint)")
      ->required()
      ->envname("COUGHKIT_MODEL");
  cmd->add_option("--segments", args->segments, "Segments in the bag")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--repeat", args->repeat, "Timed runs")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed runs first")->check(CLI::Range(0, 1000))->capture_default_str();
  add_engine_flags(cmd, args->engine, args->backend);
  return [args] { return run_bench(*args); };
}

}  // namespace coughkit::cli
