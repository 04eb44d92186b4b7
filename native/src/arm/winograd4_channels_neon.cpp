// Winograd F(4x4, 3x3) for small maps (KernelTable::conv3x3_winograd4_channels), NEON, for the in-order
// Cortex-A53: winograd4_channels_avx512.cpp's method with 4 channels per q register instead of 16 per zmm.
//
// A 7x7 map has 2x2 = 4 output tiles, too few to fill vectors of tiles (winograd4_neon.cpp), so
// everything is vectorised over CHANNELS and the tiles are the few GEMM columns:
//  1. the input (C planes of S*S) is transposed, 4 channels at a time, into a zero-bordered
//     channel-minor map P[y][x][4] (4x4 in-register transposes, TRN1/TRN2; remainder pixels of a
//     plane are inserted lane by lane);
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
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>

#include "../variants.h"

namespace bluefire {
namespace {

using Vec = float32x4_t;
constexpr int L = kWinograd4ChannelsMrNeon;  // channels per q vector = output channels per weight panel
static_assert(L == 4, "one q register of fp32 channels per panel");

// Panels per product block for T tiles (see the register budget above).
constexpr int block_panels(int T) { return T <= 4 ? 4 : 2; }

// r[i] lane j -> r[j] lane i.
inline void transpose4(Vec r[4]) {
  const Vec t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
  const Vec t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
  r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
  r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
  r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

// o = B^T d for one column of 6 (the F(4x4) input transform's rows; see winograd4_input_ref).
inline void bt6(const Vec d[6], Vec o[6]) {
  const Vec a = vfmsq_n_f32(d[4], d[2], 4.f);  // d4 - 4 d2
  const Vec b = vfmsq_n_f32(d[3], d[1], 4.f);  // d3 - 4 d1
  const Vec c = vsubq_f32(d[4], d[2]);
  const Vec e = vmulq_n_f32(vsubq_f32(d[3], d[1]), 2.f);
  o[0] = vfmsq_n_f32(vfmaq_n_f32(d[4], d[0], 4.f), d[2], 5.f);  // 4 d0 - 5 d2 + d4
  o[1] = vaddq_f32(a, b);
  o[2] = vsubq_f32(a, b);
  o[3] = vaddq_f32(c, e);
  o[4] = vsubq_f32(c, e);
  o[5] = vfmsq_n_f32(vfmaq_n_f32(d[5], d[1], 4.f), d[3], 5.f);  // 4 d1 - 5 d3 + d5
}

// o = A^T m for one column of 6 (the output transform's rows; see winograd4_output_ref).
inline void at6(const Vec m[6], Vec o[4]) {
  const Vec s12 = vaddq_f32(m[1], m[2]), d12 = vsubq_f32(m[1], m[2]);
  const Vec s34 = vaddq_f32(m[3], m[4]), d34 = vsubq_f32(m[3], m[4]);
  o[0] = vaddq_f32(vaddq_f32(m[0], s12), s34);
  o[1] = vfmaq_n_f32(d12, d34, 2.f);
  o[2] = vfmaq_n_f32(s12, s34, 4.f);
  o[3] = vaddq_f32(vfmaq_n_f32(d12, d34, 8.f), m[5]);
}

// One input channel (lane l of the tile vectors x) into the block's accumulators: PB weight loads,
// PB * T FMLAs by lane. l is a template parameter because FMLA's lane is an immediate.
template <int T, int PB, int l>
inline void channel_fmas(const float* w, size_t us, const Vec x[T], Vec acc[PB][T]) {
  Vec wv[PB];
  for (int p = 0; p < PB; ++p) wv[p] = vld1q_f32(w + p * us);
  for (int p = 0; p < PB; ++p)
    for (int t = 0; t < T; ++t) acc[p][t] = vfmaq_laneq_f32(acc[p][t], wv[p], x[t], l);
}

// Products of panels [0, PB) (weights u: panel p, product k, channel c at u + p * us + (k * C + c)
// * 4) with the T transformed tiles v (product k, tile t, channels c..c+3 at v[(k * T + t) * ldv +
// c]): mo[((k * T + t) * PB + p) * 4 + lane]. Each accumulator sums its channels in order c = 0..C-1.
template <int T, int PB>
void products(const float* u, int C, const float* v, int ldv, float* mo) {
  const size_t us = size_t(36) * C * L;
  for (int k = 0; k < 36; ++k) {
    Vec acc[PB][T];
    for (int p = 0; p < PB; ++p)
      for (int t = 0; t < T; ++t) acc[p][t] = vdupq_n_f32(0.f);
    const float* uk = u + size_t(k) * C * L;
    const float* vk = v + size_t(k) * T * ldv;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      Vec x[T];
      for (int t = 0; t < T; ++t) x[t] = vld1q_f32(vk + t * ldv + c);
      const float* w = uk + size_t(c) * L;
      channel_fmas<T, PB, 0>(w, us, x, acc);
      channel_fmas<T, PB, 1>(w + L, us, x, acc);
      channel_fmas<T, PB, 2>(w + 2 * L, us, x, acc);
      channel_fmas<T, PB, 3>(w + 3 * L, us, x, acc);
    }
    if (c < C) {  // 1-3 channels left: only their lanes (the weights stop at channel C - 1)
      Vec x[T];
      for (int t = 0; t < T; ++t) x[t] = vld1q_f32(vk + t * ldv + c);  // inside V: ldv = C rounded up to 4
      const float* w = uk + size_t(c) * L;
      channel_fmas<T, PB, 0>(w, us, x, acc);
      if (C - c > 1) channel_fmas<T, PB, 1>(w + L, us, x, acc);
      if (C - c > 2) channel_fmas<T, PB, 2>(w + 2 * L, us, x, acc);
    }
    for (int t = 0; t < T; ++t)
      for (int p = 0; p < PB; ++p) vst1q_f32(mo + ((size_t(k) * T + t) * PB + p) * L, acc[p][t]);
  }
}

struct Layout {
  int TS, T, PP, HW, NQ, PB, ldv;            // tiles a side, tiles, padded side, pixels, 4-pixel runs, panels per block
  size_t p_off, v_off, mo_off, o_off, size;  // scratch: P, V, mo, O (floats)
  constexpr Layout(int S, int C)
      : TS((S + 3) / 4),
        T(TS * TS),
        PP(4 * TS + 2),
        HW(S * S),
        NQ((HW + 3) / 4),
        PB(block_panels(T)),
        ldv((C + 3) / 4 * 4),
        p_off(0),
        v_off(size_t(PP) * PP * L),
        mo_off(v_off + size_t(36) * T * ldv),
        o_off(mo_off + size_t(36) * T * PB * L),
        size(o_off + size_t(NQ) * 4 * L) {}
};

template <int S>
void winograd4_channels(const Conv3x3SmallArgs& a) {
  constexpr int TS = (S + 3) / 4, T = TS * TS, PP = 4 * TS + 2, HW = S * S, MaxPB = block_panels(T);
  const int C = a.C, CG = (C + 3) / 4;
  const Layout lay(S, C);
  const int ldv = lay.ldv;
  float* P = a.scratch + lay.p_off;    // PP x PP x 4: one channel group, zero border
  float* V = a.scratch + lay.v_off;    // 36 x T x ldv
  float* mo = a.scratch + lay.mo_off;  // 36 x T x MaxPB x 4
  float* O = a.scratch + lay.o_off;    // NQ * 4 pixels x 4 output channels

  // 1-2. Input: channel-minor padded map, then B^T d B per tile, 4 channels at a time. Every
  // interior position of P is rewritten for each group (lanes past C as zeros), the border never.
  std::fill(P, P + PP * PP * L, 0.f);
  for (int g = 0; g < CG; ++g) {
    const int nc = std::min(L, C - L * g);
    const float* in = a.in + size_t(L * g) * HW;
    for (int b = 0; b < HW / 4; ++b) {
      Vec r[4];
      for (int i = 0; i < 4; ++i) r[i] = i < nc ? vld1q_f32(in + size_t(i) * HW + 4 * b) : vdupq_n_f32(0.f);
      transpose4(r);
      for (int j = 0; j < 4; ++j) {
        const int p = 4 * b + j;
        vst1q_f32(P + ((p / S + 1) * PP + p % S + 1) * L, r[j]);
      }
    }
    for (int p = HW / 4 * 4; p < HW; ++p) {  // the last 1-3 pixels (odd S), lane by lane
      float v[L] = {0.f, 0.f, 0.f, 0.f};
      for (int i = 0; i < nc; ++i) v[i] = in[size_t(i) * HW + p];
      vst1q_f32(P + ((p / S + 1) * PP + p % S + 1) * L, vld1q_f32(v));
    }
    for (int t = 0; t < T; ++t) {
      const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
      Vec tmp[6][6];
      for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = B^T d[.][k]
        Vec d[6], o[6];
        for (int r = 0; r < 6; ++r) d[r] = vld1q_f32(P + ((y0 + r) * PP + x0 + k) * L);
        bt6(d, o);
        for (int i = 0; i < 6; ++i) tmp[i][k] = o[i];
      }
      for (int i = 0; i < 6; ++i) {  // rows: V[i][j] = sum_k tmp[i][k] B^T[j][k]
        Vec o[6];
        bt6(tmp[i], o);
        for (int j = 0; j < 6; ++j) vst1q_f32(V + (size_t(i * 6 + j) * T + t) * ldv + L * g, o[j]);
      }
    }
  }

  // 3-4. Blocks of up to MaxPB panels (sizes balanced, e.g. 15 panels -> 4, 4, 4, 3): 36 GEMMs,
  // then the output transform of each panel.
  const int NP = (a.M + L - 1) / L;
  const int nblk = (NP + MaxPB - 1) / MaxPB, pb = (NP + nblk - 1) / nblk;
  const size_t us = size_t(36) * C * L;
  for (int p0 = 0; p0 < NP; p0 += pb) {
    const int n = std::min(pb, NP - p0);
    const float* u = a.a + p0 * us;
    switch (n) {
      case 1: products<T, 1>(u, C, V, ldv, mo); break;
      case 2: products<T, 2>(u, C, V, ldv, mo); break;
      case 3:
        if constexpr (MaxPB >= 3) products<T, 3>(u, C, V, ldv, mo);
        break;
      default:
        if constexpr (MaxPB >= 4) products<T, 4>(u, C, V, ldv, mo);
        break;
    }
    for (int p = 0; p < n; ++p) {
      const int m0 = L * (p0 + p), rows = std::min(L, a.M - m0);
      float bb[L] = {0.f, 0.f, 0.f, 0.f};
      for (int i = 0; i < rows; ++i) bb[i] = a.bias[m0 + i];
      const Vec bias = vld1q_f32(bb), zero = vdupq_n_f32(0.f);
      for (int t = 0; t < T; ++t) {
        const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
        Vec tmp[4][6];
        for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = A^T m[.][k]
          Vec m[6], o[4];
          for (int i = 0; i < 6; ++i) m[i] = vld1q_f32(mo + ((size_t(i * 6 + k) * T + t) * n + p) * L);
          at6(m, o);
          for (int r = 0; r < 4; ++r) tmp[r][k] = o[r];
        }
        for (int r = 0; r < 4 && y0 + r < S; ++r) {
          Vec o[4];
          at6(tmp[r], o);
          for (int c = 0; c < 4 && x0 + c < S; ++c) {
            Vec y = vaddq_f32(o[c], bias);
            if (a.relu) y = vmaxq_f32(y, zero);
            vst1q_f32(O + ((y0 + r) * S + x0 + c) * L, y);
          }
        }
      }
      float* out = a.out + size_t(m0) * HW;
      for (int b = 0; b < HW / 4; ++b) {  // whole 4-pixel runs of each channel's plane
        Vec r[4];
        for (int j = 0; j < 4; ++j) r[j] = vld1q_f32(O + (4 * b + j) * L);
        transpose4(r);
        for (int i = 0; i < rows; ++i) vst1q_f32(out + size_t(i) * HW + 4 * b, r[i]);
      }
      for (int i = 0; i < rows; ++i)
        for (int q = HW / 4 * 4; q < HW; ++q) out[size_t(i) * HW + q] = O[q * L + i];
    }
  }
}

using Fn = void (*)(const Conv3x3SmallArgs&);
constexpr Fn kBySize[kSmallMap + 1] = {nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       winograd4_channels<5>,
                                       winograd4_channels<6>,
                                       winograd4_channels<7>,
                                       winograd4_channels<8>,
                                       winograd4_channels<9>,
                                       winograd4_channels<10>,
                                       winograd4_channels<11>,
                                       winograd4_channels<12>};

}  // namespace

void conv3x3_winograd4_channels_neon(const Conv3x3SmallArgs& a) { kBySize[a.H](a); }

size_t winograd4_channels_scratch_neon(int S, int C) { return Layout(S, C).size; }

}  // namespace bluefire
