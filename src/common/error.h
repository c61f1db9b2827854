#pragma once
// Error types shared by every stage. The library never exits the process: it throws, and
// each front end maps an error's kind to its answer in one place (the CLI's exit codes in
// src/cli/main.cpp, the server's HTTP statuses in src/server/router.cpp). The kind travels
// with the error; nothing downstream decides it by reading the message.
#include <exception>
#include <stdexcept>
#include <string>

namespace coughkit {

enum class ErrorKind {
  kUsage,     // a flag or option value is out of range            (exit 2, HTTP 400)
  kInput,     // an input (audio file, model, request) is unusable  (exit 3, HTTP 422)
  kTooLarge,  // an input exceeds a configured limit               (exit 3, HTTP 413)
  kInternal,  // a bug or an unexpected failure inside coughkit     (exit 1, HTTP 500)
};

const char* error_kind_name(ErrorKind kind);  // "usage", "input", "too_large", "internal"

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// A configuration value is out of range (a flag, an options struct field).
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what) : Error(ErrorKind::kUsage, what) {}
};

// The caller's input (an audio file, a model file, a request) is unusable. The message says
// what was wrong with it in words a user can act on.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(ErrorKind::kInput, what) {}

 protected:
  InputError(ErrorKind kind, const std::string& what) : Error(kind, what) {}
};

// The input is well-formed but larger than a limit allows (decoded duration, upload size).
class LimitError : public InputError {
 public:
  explicit LimitError(const std::string& what) : InputError(ErrorKind::kTooLarge, what) {}
};

// Something inside coughkit went wrong that no input explains (an inconsistent graph, a
// kernel library's failure). Reported as a bug, never as the user's fault.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& what) : Error(ErrorKind::kInternal, what) {}
};

// The kind of any exception: an Error's own; anything else (std::bad_alloc, a library's
// exception, a std::logic_error from a broken invariant) is internal.
inline ErrorKind kind_of(const std::exception& e) {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return error->kind();
  return ErrorKind::kInternal;
}

// Throws an error of e's own type with `prefix` before its message (for callers that add
// where it happened: the file, the node).
[[noreturn]] inline void rethrow_with_context(const Error& e, const std::string& prefix) {
  const std::string what = prefix + e.what();
  switch (e.kind()) {
    case ErrorKind::kUsage: throw ConfigError(what);
    case ErrorKind::kInput: throw InputError(what);
    case ErrorKind::kTooLarge: throw LimitError(what);
    case ErrorKind::kInternal: break;
  }
  throw InternalError(what);
}

inline const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return "usage";
    case ErrorKind::kInput: return "input";
    case ErrorKind::kTooLarge: return "too_large";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace coughkit
