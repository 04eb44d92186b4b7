#include "bluefire/registry.h"

#include <stdexcept>

#include "variants.h"

namespace bluefire {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    c.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    c.avx512f = __builtin_cpu_supports("avx512f");
#endif
#if defined(__aarch64__)
    c.neon = true;  // Advanced SIMD is mandatory in Armv8-A
#endif
    return c;
  }();
  return f;
}

const std::vector<Variant>& all_variants() {
  static const std::vector<Variant> v = [] {
    std::vector<Variant> out;
#if defined(BLUEFIRE_HAVE_AVX2)
    // AVX-512F for the main GEMM and max-pool (on rows up to 32 wide); its narrow kernel is the AVX2 one.
    out.push_back({"avx512", [](const CpuFeatures& c) { return c.avx512f && c.avx2_fma; },
                   {kAvx512Mr, kAvx2NarrowMr, gemm_narrow_avx2, true, gemm_avx512, im2col_ref, maxpool_avx512, mean_ref, softmax_ref,
                    conv3x3_small_avx512, conv3x3_wsmall_avx512, kWsmallMin512, kWsmallMax512, kWsmallMr512, wsmall_scratch_avx512, kSmallMr512, kSmallMap, winograd4_input_avx512, winograd4_output_avx512, gather2_avx512,
                    phase4_avx512}});
    out.push_back({"avx2", [](const CpuFeatures& c) { return c.avx2_fma; },
                   {kAvx2Mr, kAvx2NarrowMr, gemm_narrow_avx2, true, gemm_avx2, im2col_ref, maxpool_avx2, mean_ref, softmax_ref,
                    conv3x3_small_avx2, conv3x3_wsmall_avx2, kWsmallMinAvx2, kWsmallMaxAvx2, kWsmallMrAvx2, wsmall_scratch_avx2, kSmallMr, kSmallMaxAvx2, winograd4_input_avx2, winograd4_output_avx2, gather2_avx2, phase4_avx2}});
#endif
#if defined(BLUEFIRE_HAVE_NEON)
    out.push_back({"neon", [](const CpuFeatures& c) { return c.neon; },
                   {kNeonMr, kNeonMr, gemm_neon, true, gemm_neon, im2col_ref, maxpool_neon, mean_ref, softmax_ref,
                    conv3x3_small_neon, conv3x3_wsmall_neon, kWsmallMinNeon, kWsmallMaxNeon, kWsmallMrNeon, wsmall_scratch_neon, kSmallMrNeon, kSmallMaxNeon, winograd4_input_neon, winograd4_output_neon, gather2_ref, phase4_ref}});
#endif
    out.push_back({"ref", [](const CpuFeatures&) { return true; }, {kRefMr, kRefMr, gemm_ref, false, gemm_ref, im2col_ref, maxpool_ref, mean_ref, softmax_ref,
                    nullptr, nullptr, 0, 0, 0, nullptr, 0, 0, nullptr, nullptr, gather2_ref, phase4_ref}});
    return out;
  }();
  return v;
}

std::vector<const Variant*> available_variants() {
  std::vector<const Variant*> out;
  for (const Variant& v : all_variants())
    if (v.supported(cpu_features())) out.push_back(&v);
  return out;
}

const Variant& detected_variant() { return *available_variants().front(); }

const Variant& select_variant(const std::string& name) {
  if (name == "auto") return detected_variant();
  std::string names;
  for (const Variant* v : available_variants()) {
    if (name == v->name) return *v;
    names += names.empty() ? "" : ", ";
    names += v->name;
  }
  for (const Variant& v : all_variants())
    if (name == v.name) throw std::invalid_argument("variant '" + name + "' is not supported by this CPU; available: " + names);
  throw std::invalid_argument("unknown variant '" + name + "'; available: auto, " + names);
}

}  // namespace bluefire
