#pragma once
// The web page served at GET / (src/server/web/index.html, embedded at build time).
#include <string_view>

namespace coughkit::server {

std::string_view index_html();

}  // namespace coughkit::server
