#pragma once
// What the fuzz targets share (fuzz/README.md): turning an input into a file for readers that
// take a path, and the rule every target enforces on a parser of untrusted bytes.
//
// The rule: a parser either succeeds or throws a coughkit::Error of a kind a user is told
// about (usage, input, too_large: exit 2/3, HTTP 4xx). An InternalError, any other
// exception (std::out_of_range, nlohmann::json's type_error, std::bad_alloc) or no exception
// type at all is a finding, as a crash is: the input is printed and the process aborts, which
// libFuzzer records as a crashing input.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "common/error.h"

namespace coughkit::fuzz {

// Writes the input to `name` in this process's scratch directory (under $TMPDIR, /dev/shm
// when it exists, else /tmp) and returns the path. One file per name: the targets run one
// input at a time, each overwrites its file.
std::string input_file(const std::uint8_t* data, std::size_t size, const std::string& name);

[[noreturn]] void report_finding(const char* target, std::string_view what);

template <class Parse>
void expect_clean_refusal(const char* target, Parse&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kInternal) report_finding(target, std::string("internal error: ") + e.what());
  } catch (const std::exception& e) {
    report_finding(target, std::string("exception that is not a coughkit error: ") + e.what());
  } catch (...) {
    report_finding(target, "exception of a non-std type");
  }
}

}  // namespace coughkit::fuzz
