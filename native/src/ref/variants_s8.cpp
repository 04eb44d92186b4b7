// The int8 variants compiled into this build, best first, the reference last. (Once the engine's
// algorithm table exists, these become its int8 entries.)
#include <string>

#include "bluefire/kernels_s8.h"

namespace bluefire {

#if defined(BLUEFIRE_HAVE_AVX2)
void gemm_u8_avx2(const GemmU8Args& a);
void gemm_u8_vnni(const GemmU8Args& a);
constexpr int kS8Avx2Mr = 4, kS8VnniMr = 8;
#endif
#if defined(BLUEFIRE_HAVE_NEON)
void gemm_u8_neon(const GemmU8Args& a);
constexpr int kS8NeonMr = 8;
#endif

const std::vector<S8Kernels>& all_s8_variants() {
  static const std::vector<S8Kernels> v = [] {
    std::vector<S8Kernels> out;
#if defined(BLUEFIRE_HAVE_AVX2)
    out.push_back({"avx512vnni",
                   [] {
                     __builtin_cpu_init();
                     return bool(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                 __builtin_cpu_supports("avx512vnni"));
                   },
                   kS8VnniMr, 4, 1, gemm_u8_vnni, maxpool_u8_rows});
    out.push_back({"avx2",
                   [] {
                     __builtin_cpu_init();
                     return bool(__builtin_cpu_supports("avx2"));
                   },
                   kS8Avx2Mr, 2, 2, gemm_u8_avx2, maxpool_u8_rows});
#endif
#if defined(BLUEFIRE_HAVE_NEON)
    out.push_back({"neon", [] { return true; }, kS8NeonMr, 1, 2, gemm_u8_neon, maxpool_u8_rows});
#endif
    out.push_back({"ref", [] { return true; }, 1, 1, 1, gemm_u8_ref, maxpool_u8_ref});
    return out;
  }();
  return v;
}

const S8Kernels& select_s8(const std::string& fp32_variant) {
  const char* prefer[3] = {"ref", nullptr, nullptr};
  if (fp32_variant == "avx512") prefer[0] = "avx512vnni", prefer[1] = "avx2", prefer[2] = "ref";
  else if (fp32_variant == "avx2") prefer[0] = "avx2", prefer[1] = "ref";
  else if (fp32_variant == "neon") prefer[0] = "neon", prefer[1] = "ref";
  for (const char* name : prefer)
    for (const S8Kernels& v : all_s8_variants())
      if (name && v.name == std::string(name) && v.supported()) return v;
  return all_s8_variants().back();
}

}  // namespace bluefire
