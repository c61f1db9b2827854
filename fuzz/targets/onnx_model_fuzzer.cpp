// The ONNX loader as `coughkit detect --model` uses it: parse, check the model contract and
// every op and attribute, optimise, and test-run one zero segment.
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "model/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  coughkit::fuzz::expect_clean_refusal("onnx_model", [&] {
    coughkit::model::EngineOptions options;
    options.threads = 1;
    coughkit::model::Engine::load_onnx_bytes(bytes, "fuzz.onnx", options);
  });
  return 0;
}
