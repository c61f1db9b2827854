// PyTorch checkpoints (`coughkit export`, `compare`, `detect --model x.pth`): the zip
// archive, the pickle VM with its allow-list of globals, tensor storage records; and the
// legacy (non-zip) pickle stream.
#include <cstdint>

#include "checkpoint/checkpoint_reader.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = coughkit::fuzz::input_file(data, size, "input.pth");
  coughkit::fuzz::expect_clean_refusal("checkpoint", [&] { coughkit::checkpoint::read_checkpoint(path); });
  return 0;
}
