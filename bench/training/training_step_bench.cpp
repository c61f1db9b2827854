// Training throughput of coughkit's LibTorch trainer: segments per second of the reference
// recipe's step (train mode, forward, BCE bag loss, backward, AdamW step) on random bags,
// the same step bench/training/pytorch_step_bench.py times in PyTorch. One JSON line.
//
//   coughkit_training_step_bench [--bags 4] [--segments 4] [--threads 2] [--warmup 2] [--steps 8]
//                                [--channels-last] [--glibc-malloc-defaults]
// The allocator is set up as `coughkit train` sets it (training/allocator_tuning.h) unless
// --glibc-malloc-defaults.
// bench/training_vs_pytorch.sh runs both in one run and prints the ratio.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <nlohmann/json.hpp>

#include "training/allocator_tuning.h"
#include "training/train_loop.h"

namespace {

struct Args {
  int bags = 4, segments = 4, threads = 2, warmup = 2, steps = 8;
  bool channels_last = false, glibc_defaults = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> int {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", flag.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (flag == "--bags")
      a.bags = value();
    else if (flag == "--segments")
      a.segments = value();
    else if (flag == "--threads")
      a.threads = value();
    else if (flag == "--warmup")
      a.warmup = value();
    else if (flag == "--steps")
      a.steps = value();
    else if (flag == "--channels-last")
      a.channels_last = true;
    else if (flag == "--glibc-malloc-defaults")
      a.glibc_defaults = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--bags 4] [--segments 4] [--threads 2] [--warmup 2] [--steps 8] [--channels-last] "
                   "[--glibc-malloc-defaults]\n",
                   argv[0]);
      std::exit(flag == "--help" ? 0 : 2);
    }
  }
  if (a.bags < 1 || a.segments < 1 || a.threads < 1 || a.steps < 1 || a.warmup < 0) {
    std::fprintf(stderr, "all counts must be positive\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace coughkit::training;
  const Args args = parse(argc, argv);
  const bool tuned = !args.glibc_defaults && keep_large_allocations_in_heap();
  torch::set_num_threads(args.threads);
  torch::manual_seed(0);
  AttnMILResNet model(0.3, 128);
  auto optimizer = make_optimizer(model, 1e-3, 1e-4);
  Batch batch{torch::rand({args.bags, args.segments, 3, 224, 224}) * 2 - 1,
              torch::ones({args.bags, args.segments}, torch::kBool), torch::zeros({args.bags})};
  for (int i = 0; i < args.bags; i += 2) batch.labels[i] = 1.0f;
  if (args.channels_last) {
    // nn::Module has no to(memory_format) in LibTorch: convert the 4-d weights one by one.
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }

  for (int i = 0; i < args.warmup; ++i) train_step(model, *optimizer, batch, LossOptions{});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < args.steps; ++i) train_step(model, *optimizer, batch, LossOptions{});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double segments = static_cast<double>(args.steps) * args.bags * args.segments;
  const nlohmann::json out = {{"implementation", "coughkit (LibTorch " TORCH_VERSION ")"},
                              {"bags", args.bags},
                              {"segments_per_bag", args.segments},
                              {"threads", args.threads},
                              {"steps", args.steps},
                              {"seconds", seconds},
                              {"segments_per_second", segments / seconds},
                              {"allocator", tuned ? "tuned as coughkit train" : "glibc defaults"},
                              {"channels_last", args.channels_last},
                              {"mkldnn", at::globalContext().userEnabledMkldnn()},
                              {"parallel_info", at::get_parallel_info()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
