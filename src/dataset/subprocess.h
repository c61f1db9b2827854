#pragma once
// Runs external programs (apt-get, dpkg, dpkg-deb, espeak-ng) without a shell: the argument
// vector goes to posix_spawnp as is, so texts and paths are never interpreted.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace coughkit::dataset {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs argv[0] (looked up on PATH) with `argv`, in `cwd` when not empty, stdin from
// /dev/null, and waits for it. Throws InputError when the program cannot be started
// (e.g. it is not installed), naming it.
ProcessResult run_process(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {});

// The program's path when `name` is on PATH (or is a path to an executable), else nullopt.
std::optional<std::filesystem::path> find_program(const std::string& name);

// "prog arg 'arg with space'": for messages only.
std::string describe_command(const std::vector<std::string>& argv);

}  // namespace coughkit::dataset
