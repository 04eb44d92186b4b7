// The only file of native/ that knows Python: it exposes the core as rtmaps_components._native.
#include <pybind11/pybind11.h>

#include "bluefire/version.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "bluefire native Fire-module engine";
  m.def("version", &bluefire::version, "Version of the C++ core.");
}
