// The one list of kernel variants. Dispatch, tests, benchmarks and Python's available_variants()
// all read it; CPU features are detected once, here.
#pragma once
#include <string>
#include <vector>

#include "bluefire/kernels.h"

namespace bluefire {

struct CpuFeatures {
  bool avx2_fma = false;
  bool avx512f = false;
  bool neon = false;
};
const CpuFeatures& cpu_features();  // detected on first call, cached

struct Variant {
  const char* name;
  bool (*supported)(const CpuFeatures&);
  KernelTable kernels;
};

// Every variant compiled into this build, best first, the scalar reference last.
const std::vector<Variant>& all_variants();
// The compiled variants this CPU can run, best first.
std::vector<const Variant*> available_variants();
// The best available variant.
const Variant& detected_variant();
// "auto" -> detected_variant(); otherwise the named variant, or std::invalid_argument naming
// the choices when it is unknown or this CPU cannot run it.
const Variant& select_variant(const std::string& name);

}  // namespace bluefire
