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

namespace {

// Each variant's table, by field name; fields left out keep the reference kernel or stay off.
#if defined(BLUEFIRE_HAVE_AVX2)
KernelTable avx2_kernels() {
  KernelTable k;
  k.gemm = gemm_avx2, k.mr = kAvx2Mr;
  k.gemm_narrow = gemm_narrow_avx2, k.narrow_mr = kAvx2NarrowMr;
  k.maxpool = maxpool_avx2;
  k.winograd2 = true;
  k.winograd4_input = winograd4_input_avx2, k.winograd4_output = winograd4_output_avx2;
  k.conv3x3_small = conv3x3_small_avx2, k.conv3x3_small_mr = kSmallMr, k.conv3x3_small_max = kSmallMaxAvx2;
  return k;
}

// AVX-512F for the main GEMM and max-pool (on rows up to 32 wide); its narrow kernel is the AVX2 one.
KernelTable avx512_kernels() {
  KernelTable k = avx2_kernels();
  k.gemm = gemm_avx512, k.mr = kAvx512Mr;
  k.maxpool = maxpool_avx512;
  k.stride2_columns = stride2_columns_avx512;
  k.column_phases4 = column_phases4_avx512;
  k.winograd4_input = winograd4_input_avx512, k.winograd4_output = winograd4_output_avx512;
  k.conv3x3_small = conv3x3_small_avx512, k.conv3x3_small_mr = kSmallMr512, k.conv3x3_small_max = kSmallMap;
  k.conv3x3_winograd4_channels = conv3x3_winograd4_channels_avx512;
  k.winograd4_channels_min = kWinograd4ChannelsMin512, k.winograd4_channels_max = kWinograd4ChannelsMax512;
  k.winograd4_channels_mr = kWinograd4ChannelsMr512;
  k.winograd4_channels_scratch = winograd4_channels_scratch_avx512;
  return k;
}
#endif

#if defined(BLUEFIRE_HAVE_NEON)
KernelTable neon_kernels() {
  KernelTable k;
  k.gemm = gemm_neon, k.mr = kNeonMr;
  k.gemm_narrow = gemm_neon, k.narrow_mr = kNeonMr;
  k.maxpool = maxpool_neon;
  k.winograd2 = true;
  k.winograd4_input = winograd4_input_neon, k.winograd4_output = winograd4_output_neon;
  k.conv3x3_small = conv3x3_small_neon, k.conv3x3_small_mr = kSmallMrNeon, k.conv3x3_small_max = kSmallMaxNeon;
  k.conv3x3_winograd4_channels = conv3x3_winograd4_channels_neon;
  k.winograd4_channels_min = kWinograd4ChannelsMinNeon, k.winograd4_channels_max = kWinograd4ChannelsMaxNeon;
  k.winograd4_channels_mr = kWinograd4ChannelsMrNeon;
  k.winograd4_channels_scratch = winograd4_channels_scratch_neon;
  return k;
}
#endif

}  // namespace

const std::vector<Variant>& all_variants() {
  static const std::vector<Variant> v = [] {
    std::vector<Variant> out;
#if defined(BLUEFIRE_HAVE_AVX2)
    out.push_back({"avx512", [](const CpuFeatures& c) { return c.avx512f && c.avx2_fma; }, avx512_kernels()});
    out.push_back({"avx2", [](const CpuFeatures& c) { return c.avx2_fma; }, avx2_kernels()});
#endif
#if defined(BLUEFIRE_HAVE_NEON)
    out.push_back({"neon", [](const CpuFeatures& c) { return c.neon; }, neon_kernels()});
#endif
    out.push_back({"ref", [](const CpuFeatures&) { return true; }, KernelTable()});
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
    if (name == v.name)
      throw std::invalid_argument("variant '" + name + "' is not supported by this CPU; available: " + names);
  throw std::invalid_argument("unknown variant '" + name + "'; available: auto, " + names);
}

}  // namespace bluefire
