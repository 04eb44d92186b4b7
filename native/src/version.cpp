#include "bluefire/version.h"
// BLUEFIRE_VERSION comes from pyproject.toml (native/CMakeLists.txt reads it): one version string.
namespace bluefire {
const char* version() { return BLUEFIRE_VERSION; }
}  // namespace bluefire
