#include "bluefire/version.h"
namespace bluefire {
const char* version() { return "0.1.0"; }
}  // namespace bluefire
