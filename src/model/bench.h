#pragma once
// Latency of one bag through an Engine, for `coughkit bench` and tools comparing with
// ONNX Runtime (bench/onnxruntime/ort_bench.js prints the same fields).
#include <string>
#include <vector>

#include "model/engine.h"

namespace coughkit::model {

struct BenchResult {
  int segments = 0, threads = 0, repeat = 0;
  double ms_per_bag_median = 0, ms_per_bag_min = 0, ms_per_bag_mean = 0;
  double gflops_per_s = 0;  // flops_per_segment * segments / median time
  std::string conv_algorithms;
  // What it ran on: oneDNN's ISA after DNNL_MAX_CPU_ISA, whether coughkit's own AVX2 kernels
  // were allowed, and each op's implementation ("ConvInteger: cpp", "FusedConv: jit:avx2").
  std::string isa;
  bool own_avx2_kernels = false;
  std::vector<std::string> kernels;
  std::string ToJson() const;  // one line
};

// Runs one bag of `segments` synthetic segments `warmup` times untimed, then `repeat` times.
BenchResult bench_engine(const Engine& engine, int segments, int repeat, int warmup = 2);

}  // namespace coughkit::model
