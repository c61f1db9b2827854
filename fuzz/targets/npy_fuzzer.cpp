// .npy arrays: the training feature cache's entries (float16 with a header comment), the
// reference arrays and `features --npy-dir` output (float32). A damaged cache entry must be
// refused as such, never read past its end.
#include <cstdint>

#include "fuzz_support.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = coughkit::fuzz::input_file(data, size, "entry.npy");
  coughkit::fuzz::expect_clean_refusal("npy", [&] { coughkit::io::read_npy_header(path); });
  coughkit::fuzz::expect_clean_refusal("npy", [&] {
    const auto a = coughkit::io::read_npy(path);
    std::size_t n = 1;
    for (auto d : a.shape) n *= d;
    if (n != a.data.size()) coughkit::fuzz::report_finding("npy", "float32 array whose data size is not its shape's");
  });
  coughkit::fuzz::expect_clean_refusal("npy", [&] {
    const auto a = coughkit::io::read_npy_half(path);
    std::size_t n = 1;
    for (auto d : a.shape) n *= d;
    if (n != a.data.size()) coughkit::fuzz::report_finding("npy", "float16 array whose data size is not its shape's");
  });
  return 0;
}
