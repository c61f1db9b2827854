#pragma once
// Error types shared by every stage. The library never exits the process: it throws,
// and the front ends (CLI, server) map each type to an exit code or an HTTP status.
#include <stdexcept>
#include <string>

namespace coughkit {

// The caller's input (an audio file, a model file, a request) is unusable. The message
// says what was wrong with it in words a user can act on.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A configuration value is out of range (a flag, an options struct field).
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace coughkit
