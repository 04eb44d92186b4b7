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
void maxpool_avx512(const MaxPoolArgs& a);
void stride2_columns_avx2(const float* src, ptrdiff_t sld, int rows, int n, float* dst, int dld);  // pool_avx2.cpp
void stride2_columns_avx512(const float* src, ptrdiff_t sld, int rows, int n, float* dst,
                            int dld);  // rows of up to 32 columns; the AVX2 kernel otherwise
constexpr int kSmallMr = 8;
void conv3x3_small_avx2(const Conv3x3SmallArgs& a);
// With 16 ymm registers a row block holds 12 accumulators: from 7-wide maps on it is one row per
// block, each weight is reloaded per row and the kernel is load-bound (52 us against 36 us for
// Winograd F(2x2) on fire4-5 at 64x64 input), so the AVX2 variant stops at 6.
constexpr int kSmallMaxAvx2 = 6;
// F(4x4) vectorised over channels (winograd4_channels_avx2.cpp, 8 channels per ymm) on maps
// kWinograd4ChannelsMinAvx2..kWinograd4ChannelsMaxAvx2 wide, so the direct kernel above keeps 2..4.
// Measured per layer (native/tools/conv_layer_bench.py --variant avx2, native/README.md): against
// the direct kernel 0.77-0.85x at 5x5, 0.58-0.62x at 6x6; against F(2x2) 0.37-0.42x at 7x7,
// 0.37-0.48x at 9-12.
void conv3x3_winograd4_channels_avx2(const Conv3x3SmallArgs& a);
size_t winograd4_channels_scratch_avx2(int S, int C);
constexpr int kWinograd4ChannelsMinAvx2 = 5, kWinograd4ChannelsMaxAvx2 = 12;
constexpr int kWinograd4ChannelsMrAvx2 = 8;  // output channels per packed panel: one ymm
void column_phases4_avx2(const float* src, int H, int W, int pt, int pl, int PH, int QW, float* dst);
void winograd4_input_avx2(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                          size_t ms);
void winograd4_output_avx2(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                           bool relu, float* out, int OH, int OW);
constexpr int kSmallMr512 = 16;
void conv3x3_small_avx512(const Conv3x3SmallArgs& a);
// F(4x4) vectorised over channels (winograd4_channels_avx512.cpp) on maps
// kWinograd4ChannelsMin512..kWinograd4ChannelsMax512 wide; the direct small-map kernel elsewhere. Measured per layer
// (native/README.md): 0.5x the direct kernel's time at 7x7, 0.3-0.4x at 12x12, 0.65-0.78x at 6x6, but equal or 10 %
// slower at 5x5 (4 tiles of 144 products against 169 direct), hence from 6.
void conv3x3_winograd4_channels_avx512(const Conv3x3SmallArgs& a);
size_t winograd4_channels_scratch_avx512(int S, int C);
constexpr int kWinograd4ChannelsMin512 = 6, kWinograd4ChannelsMax512 = 12;
constexpr int kWinograd4ChannelsMr512 = 16;  // output channels per packed panel: one zmm
void winograd4_input_avx512(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                            size_t ms);
void column_phases4_avx512(const float* src, int H, int W, int pt, int pl, int PH, int QW, float* dst);
void winograd4_output_avx512(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                             bool relu, float* out, int OH, int OW);
#endif
#if defined(BLUEFIRE_HAVE_NEON)
constexpr int kNeonMr = 8;
void gemm_neon(const GemmArgs& a);
constexpr int kSmallMrNeon = 8;  // two q registers of output channels
void conv3x3_small_neon(const Conv3x3SmallArgs& a);
// Maps up to 5 wide take the small-map kernel, larger ones Winograd F(2x2). Chosen by multiply
// count, not measured (no A53 timings): per (in, out) channel pair the direct kernel does
// (3S-2)^2 multiplies against F(2x2)'s 16 per 2x2 tile: 49 vs 64 at 3, 100 vs 64 at 4, 169 vs 144
// at 5 (where F(2x2)'s transforms and its GEMMs over 9 tiles, one a scalar column, cost more than
// the 17 % difference), 256 vs 144 at 6. Up to 5 a block of two rows fits the register budget.
constexpr int kSmallMaxNeon = 5;
static_assert(kSmallMaxNeon <= kSmallMap, "beyond the engine's small-map range");
// F(4x4) vectorised over channels (winograd4_channels_neon.cpp, 4 channels per q register) on maps
// kWinograd4ChannelsMinNeon..kWinograd4ChannelsMaxNeon wide. Chosen by multiply count, not measured (no A53 timings):
// per (in, out) channel pair it does 36 per 4x4 tile, 144 on 5..8-wide maps and 324 on 9..12,
// against the path those maps take otherwise, F(2x2) at 16 per 2x2 tile: 144 at 6, 256 at 7-8,
// 400 at 9-10, 576 at 11-12. At 6 the counts tie, and F(2x2) streams 16 weights per channel pair
// instead of 36 and has cheaper transforms, so 6 stays on F(2x2); 5 stays on the direct kernel
// (169 against 144, with the weights in their 9-tap form: see kSmallMaxNeon).
void conv3x3_winograd4_channels_neon(const Conv3x3SmallArgs& a);
size_t winograd4_channels_scratch_neon(int S, int C);
constexpr int kWinograd4ChannelsMinNeon = 7, kWinograd4ChannelsMaxNeon = 12;
constexpr int kWinograd4ChannelsMrNeon = 4;  // output channels per packed panel: one q register
static_assert(kWinograd4ChannelsMaxNeon <= kSmallMap, "beyond the engine's small-map range");
void maxpool_neon(const MaxPoolArgs& a);
void winograd4_input_neon(const float* phases, int PH, int QW, int C, int TX, int t0, int t1, float* v, int ld,
                          size_t ms);
void winograd4_output_neon(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias,
                           bool relu, float* out, int OH, int OW);
#endif
}  // namespace bluefire
