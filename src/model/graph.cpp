#include "model/graph.h"

namespace coughkit::model {

std::int64_t Node::attr_int(const std::string& attr, std::int64_t fallback) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? fallback : it->second.i;
}

float Node::attr_float(const std::string& attr, float fallback) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? fallback : it->second.f;
}

std::vector<std::int64_t> Node::attr_ints(const std::string& attr, std::vector<std::int64_t> fallback) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? fallback : it->second.ints;
}

std::string Node::attr_string(const std::string& attr, std::string fallback) const {
  auto it = attrs.find(attr);
  return it == attrs.end() ? fallback : it->second.s;
}

std::string Node::label() const { return "node '" + name + "' (" + op + ")"; }

int Graph::add_value(std::string name) {
  values.push_back(Value{std::move(name), std::nullopt});
  return static_cast<int>(values.size()) - 1;
}

}  // namespace coughkit::model
