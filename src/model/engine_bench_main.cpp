// coughkit_engine_bench MODEL SEGMENTS THREADS REPEAT [--no-winograd]
// Prints one JSON line (see bench.h), the counterpart of bench/onnxruntime/ort_bench.js.
#include <cstdio>
#include <exception>
#include <string>

#include "model/bench.h"

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s MODEL SEGMENTS THREADS REPEAT [--no-winograd]\n", argv[0]);
    return 2;
  }
  try {
    coughkit::model::EngineOptions opt;
    opt.threads = std::stoi(argv[3]);
    opt.winograd = !(argc > 5 && std::string(argv[5]) == "--no-winograd");
    auto engine = coughkit::model::Engine::load_onnx(argv[1], opt);
    auto r = coughkit::model::bench_engine(*engine, std::stoi(argv[2]), std::stoi(argv[4]));
    std::printf("%s\n", r.ToJson().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
