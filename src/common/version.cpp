#include "common/version.h"

namespace coughkit {
std::string version_string() {
  return std::string("coughkit ") + COUGHKIT_VERSION + " (commit " + COUGHKIT_GIT_COMMIT + ")";
}
}  // namespace coughkit
