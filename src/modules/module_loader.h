#pragma once
// Optional parts of coughkit that pull in heavy libraries live in modules (shared objects)
// opened on first use, so a process that does not need them never pays for them: FFmpeg
// (135 shared libraries, ~160 ms at start; audio/decoder.cpp) and LibTorch (~0.7 s and
// ~160 MB; modules/torch_module.h).
//
// A module named NAME is looked for, in order, at $ENV_VAR, next to the program (../lib/
// and the program's own directory, so build trees and installs both work), then through
// the dynamic linker's search path. Its entry symbol returns a pointer to a table whose
// first member is an int ABI number, checked against the caller's.
#include <mutex>
#include <stdexcept>
#include <string>

namespace coughkit {

struct ModuleSpec {
  const char* file_name;     // "libcoughkit_ffmpeg.so"
  const char* env_var;       // "COUGHKIT_FFMPEG_MODULE"
  const char* entry_symbol;  // an extern "C" ModuleEntry returning the module's const T*
  int abi;                   // expected value of the table's first int
  const char* purpose;       // "the FFmpeg decoder module", for messages
  const char* remedy = "";   // appended to the error, e.g. which package to install
};

// The type of every module's entry symbol. Declared returning const void* (not const T*) on
// both sides: calling a function through a pointer of another type is undefined behaviour
// (UBSan's -fsanitize=function reports it), whatever the ABI does.
using ModuleEntry = const void* (*)();

// The table the entry symbol returns. Throws std::runtime_error listing every place tried
// and why it failed (not an InputError: the installation, not an input, is at fault).
// The handle stays open for the life of the process.
const void* load_module(const ModuleSpec& spec);

// A module's table, loaded on the first get() and kept; a failure is remembered and thrown
// again by every later get() (the search is not repeated). Thread-safe.
template <class Table>
class LazyModule {
 public:
  explicit LazyModule(ModuleSpec spec) : spec_(spec) {}

  const Table& get() {
    std::call_once(once_, [this] {
      try {
        table_ = static_cast<const Table*>(load_module(spec_));
      } catch (const std::runtime_error& e) {
        error_ = e.what();
        if (*spec_.remedy) error_ += std::string("\n") + spec_.remedy;
      }
    });
    if (!table_) throw std::runtime_error(error_);
    return *table_;
  }

 private:
  const ModuleSpec spec_;
  std::once_flag once_;
  const Table* table_ = nullptr;
  std::string error_;
};

}  // namespace coughkit
