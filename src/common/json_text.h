#pragma once
// The text of a JSON value that may carry bytes from outside: file names, request paths,
// pickled strings, error messages that quote an input. Invalid UTF-8 is replaced by U+FFFD
// instead of throwing (nlohmann::json's default), so reporting a bad input can never fail
// because of the input's bytes. Templated on the JSON type (json or ordered_json), so this
// header needs no third-party include.
#include <string>

namespace coughkit {

template <class Json>
std::string json_text(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace coughkit
