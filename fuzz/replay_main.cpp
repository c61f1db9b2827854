// Runs a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer: how the saved
// crashing inputs (fuzz/regressions/TARGET) and the seed corpus run as CTest tests in every
// build, including the GCC and ASan builds that have no libFuzzer.
//
//   fuzz_replay_TARGET PATH...    (files, or directories read recursively in name order)
//
// Exit 0 when every input ran (a finding aborts the process), 2 when a path is missing or
// no input was found: a regression test must not pass by running nothing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/resource.h>

#if defined(__SANITIZE_ADDRESS__)
#define COUGHKIT_REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUGHKIT_REPLAY_ASAN 1
#endif
#endif

// Memory as libFuzzer bounds it (-rss_limit_mb=2560 in scripts/fuzz.sh), so an input that
// once made a parser allocate gigabytes fails here too instead of passing on a big machine:
// under ASan its allocator refuses larger blocks; otherwise the address space is capped.
#ifdef COUGHKIT_REPLAY_ASAN
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=2560"; }
#endif

namespace {
void cap_memory() {
#ifndef COUGHKIT_REPLAY_ASAN
  const rlim_t cap = rlim_t{3} << 30;  // address space: the program's own few hundred MB and ~2.5 GB
  rlimit limit{cap, cap};
  setrlimit(RLIMIT_AS, &limit);
#endif
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  cap_memory();
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p = argv[i];
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
    } else if (std::filesystem::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "fuzz replay: no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "fuzz replay: no inputs under the paths given\n");
    return 2;
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "fuzz replay: %s (%zu bytes)\n", f.string().c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("fuzz replay: %zu inputs ran\n", files.size());
  return 0;
}
