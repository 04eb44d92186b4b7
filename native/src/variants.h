// Optimized kernels compiled into this build (internal to the core; the registry lists them).
#pragma once
#include "bluefire/kernels.h"

namespace bluefire {
#if defined(BLUEFIRE_HAVE_AVX2)
constexpr int kAvx512Mr = 6;
void gemm_avx512(const GemmArgs& a);
constexpr int kAvx2Mr = 6;
void gemm_avx2(const GemmArgs& a);
constexpr int kAvx2NarrowMr = 16;
void gemm_narrow_avx2(const GemmArgs& a);
void maxpool_avx2(const MaxPoolArgs& a);
constexpr int kSmallMr = 8;
void conv3x3_small_avx2(const Conv3x3SmallArgs& a);
constexpr int kSmallMr512 = 16;
void conv3x3_small_avx512(const Conv3x3SmallArgs& a);
void winograd4_input_avx512(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                            size_t ms);
void winograd4_output_avx512(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                             bool relu, float* out, int OH, int OW);
#endif
#if defined(BLUEFIRE_HAVE_NEON)
constexpr int kNeonMr = 8;
void gemm_neon(const GemmArgs& a);
#endif
}  // namespace bluefire
