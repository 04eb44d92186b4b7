// Winograd F(4x4, 3x3) for small maps (KernelTable::conv3x3_winograd4_channels), NEON, for the in-order
// Cortex-A53: winograd4_channels_avx512.cpp's method with 4 channels per q register instead of 16 per zmm.
//
// A 7x7 map has 2x2 = 4 output tiles, too few to fill vectors of tiles (winograd4_neon.cpp), so
// everything is vectorised over CHANNELS and the tiles are the few GEMM columns:
//  1. the input (C planes of S*S) is transposed, 4 channels at a time, into a zero-bordered
//     channel-minor map P[y][x][4] (4x4 in-register transposes, TRN1/TRN2; remainder pixels of a
//     plane are copied lane by lane);
//  2. B^T d B runs on q vectors of 4 input channels per tile: V[k][t][c];
//  3. the 36 products are GEMMs vectorised over output channels, the T tiles being the columns:
//     a block of PB panels of 4 output channels x T tiles keeps its PB*T accumulators in q
//     registers for the whole channel loop; per 4 input channels the T tile vectors are loaded
//     once (one q each) and used by lane (`fmla v.4s, w.4s, x.s[l]`, no DUP for broadcasts),
//     and each weight vector (one q per channel and panel) feeds T FMLAs;
//  4. A^T m A on q vectors of 4 output channels, bias, ReLU, a channel-minor O[pixel][4]; 4x4
//     transposes turn it into 4-pixel runs of each channel's plane.
// Register budget of step 3 (32 q registers; accumulators + tile vectors + weights):
//  - 4 tiles (maps 5..8): PB = 4, 16 accumulators + 4 tile vectors + 4 weights = 24, leaving 8
//    for GCC's A53 schedule to load the next lane's weights and the next channels' tiles early.
//    (PB = 5 would fit in 29, for 0.30 instead of 0.31 loads per FMLA: not worth the margin.)
//  - 9 tiles (maps 9..12): PB = 2, 18 accumulators + 9 tile vectors + 2 weights = 29; PB = 3
//    would need 39.
// 144 products per (in, out) channel pair on a 7x7 map instead of the direct kernel's 361 and
// F(2x2)'s 256. Weights: panel p of 4 output channels, product k, input channel c at
// a[((p * 36 + k) * C + c) * 4 + lane] (pack_winograd4_channels_weights with mr = kWinograd4ChannelsMrNeon).
// The work order and every instruction depend only on (S, C, M): results do not depend on threads.
// Nothing is read past an input plane, a weight panel or the output channels of the call.
// The kernel text is simd/winograd4_channels_body.h, shared with the AVX2 and AVX-512 files; this
// file gives it NEON's vector operations, the block shapes above and the by-lane tile operand.
// `python native/tools/neon_spills.py` checks that the product loops keep to the 32 q registers.
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {
namespace {

using Vec = float32x4_t;
constexpr int L = kWinograd4ChannelsMrNeon;  // channels per q vector = output channels per weight panel
static_assert(L == 4, "one q register of fp32 channels per panel");
inline Vec vzero() { return vdupq_n_f32(0.f); }
inline Vec vload(const float* p) { return vld1q_f32(p); }
inline void vstore(float* p, Vec v) { vst1q_f32(p, v); }
inline Vec vbcast(const float* p) { return vld1q_dup_f32(p); }
inline Vec vset1(float x) { return vdupq_n_f32(x); }
inline Vec vadd(Vec a, Vec b) { return vaddq_f32(a, b); }
inline Vec vsub(Vec a, Vec b) { return vsubq_f32(a, b); }
// vmul, vfmadd, vfnmadd take the body's constant factor (vset1) first and pass it to NEON second, as
// the vfmaq_n_f32 / vfmsq_n_f32 forms do: GCC 12 then keeps FMLS instead of folding the negation into
// extra constant registers, which cost the transforms more spills. Same products, same results.
inline Vec vmul(Vec a, Vec b) { return vmulq_f32(b, a); }
inline Vec vmax(Vec a, Vec b) { return vmaxq_f32(a, b); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return vfmaq_f32(c, b, a); }
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return vfmsq_f32(c, b, a); }

// Product blocks for T tiles (see the register budget above): 4 panels x 4 tiles, 2 x 9.
constexpr int block_panels(int T) { return T <= 4 ? 4 : 2; }

// The products take the 4 channels of a tile in one q register and use them by lane (FMLA by element).
constexpr int kTileChannels = 4;
template <int l>
inline Vec vfmadd_lane(Vec a, Vec x, Vec c) {
  return vfmaq_laneq_f32(c, a, x, l);
}

// r[i] lane j -> r[j] lane i (TRN1/TRN2 on 32- then 64-bit elements).
inline void transpose(Vec r[4]) {
  const Vec t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
  const Vec t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
  r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
  r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

// r[i] = np (1..4) pixels of channel i < nc at src + i * HW, zero past them and for i >= nc. A short
// run (the last 1-3 pixels of an odd map) is copied lane by lane: nothing is read past the plane.
inline void load_block(const float* src, int HW, int nc, int np, Vec r[4]) {
  for (int i = 0; i < L; ++i) {
    if (i >= nc) {
      r[i] = vzero();
    } else if (np == L) {
      r[i] = vld1q_f32(src + size_t(i) * HW);
    } else {
      float v[L] = {0.f, 0.f, 0.f, 0.f};
      for (int j = 0; j < np; ++j) v[j] = src[size_t(i) * HW + j];
      r[i] = vld1q_f32(v);
    }
  }
}

#include "../simd/winograd4_channels_body.h"  // the kernel text shared with the AVX2 and AVX-512 files

}  // namespace

void conv3x3_winograd4_channels_neon(const Conv3x3SmallArgs& a) { winograd4_channels_by_size(a); }

size_t winograd4_channels_scratch_neon(int S, int C) { return winograd4_channels_scratch_floats(S, C); }

}  // namespace bluefire
