#include "bluefire/version.h"
// BLUEFIRE_VERSION comes from rtmaps_components/__init__.py, through native/CMakeLists.txt.
namespace bluefire {
const char* version() { return BLUEFIRE_VERSION; }
}  // namespace bluefire
