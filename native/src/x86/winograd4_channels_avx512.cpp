// Winograd F(4x4, 3x3) for small maps (KernelTable::conv3x3_winograd4_channels), AVX-512F (compiled with
// -mavx512f -mavx2 -mfma on this file only).
//
// A 7x7 map has only 2x2 = 4 output tiles, so the tile-vectorised F(4x4) transforms
// (winograd4_avx512.cpp) fill a quarter of each zmm and lose to the direct small-map kernel. Here
// everything is vectorised over CHANNELS instead (16 per zmm), and the tiles are the few columns:
//  1. the input (C planes of S*S) is transposed, 16 channels at a time, into a zero-bordered
//     channel-minor map P[y][x][16] (16x16 in-register transposes, so no gathers);
//  2. the F(4x4) input transform B^T d B runs on whole zmm of 16 channels per tile: V[k][t][c];
//  3. the 36 products are GEMMs vectorised over output channels with the T tiles as broadcast
//     columns (embedded-broadcast FMA operands), PB panels of 16 output channels x T tiles of
//     accumulators (up to 24), so each weight vector feeds T FMAs;
//  4. the output transform A^T m A runs on zmm of 16 output channels, adds the bias, applies the
//     ReLU and writes a channel-minor O[pixel][16]; 16x16 transposes turn it into 16 contiguous
//     pixels of each channel's plane (plain stores; the remainder pixels are scalar copies, since
//     masked stores are slow on AMD).
// 144 products per (in, out) channel pair on a 7x7 map instead of the direct kernel's 361.
// The work order and every instruction depend only on (S, C, M): results do not depend on threads.
#include <immintrin.h>

#include <algorithm>

#include "../variants.h"

namespace bluefire {
namespace {

using Vec = __m512;

// r[i] lane j -> r[j] lane i (16x16 floats).
inline void transpose16(Vec r[16]) {
  Vec t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
    t[j + 4] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
  }
}

// o = B^T d for one column of 6 (the F(4x4) input transform's rows; see winograd4_input_ref).
inline void bt6(const Vec d[6], Vec o[6]) {
  const Vec four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f), two = _mm512_set1_ps(2.f);
  const Vec a = _mm512_fnmadd_ps(four, d[2], d[4]);  // d4 - 4 d2
  const Vec b = _mm512_fnmadd_ps(four, d[1], d[3]);  // d3 - 4 d1
  const Vec c = _mm512_sub_ps(d[4], d[2]);
  const Vec e = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
  o[0] = _mm512_fnmadd_ps(five, d[2], _mm512_fmadd_ps(four, d[0], d[4]));
  o[1] = _mm512_add_ps(a, b);
  o[2] = _mm512_sub_ps(a, b);
  o[3] = _mm512_add_ps(c, e);
  o[4] = _mm512_sub_ps(c, e);
  o[5] = _mm512_fnmadd_ps(five, d[3], _mm512_fmadd_ps(four, d[1], d[5]));
}

// o = A^T m for one column of 6 (the output transform's rows; see winograd4_output_ref).
inline void at6(const Vec m[6], Vec o[4]) {
  const Vec s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  const Vec s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), d34, d12);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), s34, s12);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), d34, d12), m[5]);
}

// Products of panels [0, PB) (weights u: panel p, product k at u + (p * 36 + k) * C * 16) with
// the T transformed tiles v (product k, tile t, channel c at v[(k * T + t) * ldv + c]):
// mo[((k * T + t) * PB + p) * 16 + lane].
template <int T, int PB>
void products(const float* u, int C, const float* v, int ldv, float* mo) {
  const size_t us = size_t(36) * C * 16;
  for (int k = 0; k < 36; ++k) {
    Vec acc[PB][T];
    for (int p = 0; p < PB; ++p)
      for (int t = 0; t < T; ++t) acc[p][t] = _mm512_setzero_ps();
    const float* uk = u + size_t(k) * C * 16;
    const float* vk = v + size_t(k) * T * ldv;
    for (int c = 0; c < C; ++c) {
      Vec w[PB];
      for (int p = 0; p < PB; ++p) w[p] = _mm512_loadu_ps(uk + p * us + size_t(c) * 16);
      for (int t = 0; t < T; ++t) {
        const Vec x = _mm512_set1_ps(vk[t * ldv + c]);
        for (int p = 0; p < PB; ++p) acc[p][t] = _mm512_fmadd_ps(w[p], x, acc[p][t]);
      }
    }
    for (int t = 0; t < T; ++t)
      for (int p = 0; p < PB; ++p) _mm512_storeu_ps(mo + ((size_t(k) * T + t) * PB + p) * 16, acc[p][t]);
  }
}

template <int S>
struct Shape {
  static constexpr int TS = (S + 3) / 4, T = TS * TS;  // tiles a side, tiles
  static constexpr int PP = 4 * TS + 2;                // padded side covering every tile's 6x6 patch
  static constexpr int HW = S * S, NB = (HW + 15) / 16;  // pixels, 16-pixel blocks
  static constexpr int MaxPB = std::max(1, 24 / T);      // panels per block: <= 24 accumulators
};

template <int S, int PB>
void run_products(const float* u, int C, const float* v, int ldv, float* mo) {
  products<Shape<S>::T, PB>(u, C, v, ldv, mo);
}

template <int S>
void winograd4_channels(const Conv3x3SmallArgs& a) {
  using Sh = Shape<S>;
  constexpr int T = Sh::T, TS = Sh::TS, PP = Sh::PP, HW = Sh::HW, NB = Sh::NB;
  const int C = a.C, CG = (C + 15) / 16, ldv = CG * 16;
  float* P = a.scratch;                                  // PP x PP x 16
  float* V = P + PP * PP * 16;                           // 36 x T x ldv
  float* mo = V + size_t(36) * T * ldv;                  // 36 x T x MaxPB x 16
  float* O = mo + size_t(36) * T * Sh::MaxPB * 16;       // NB * 16 pixels x 16

  // 1-2. Input: channel-minor padded map, then B^T d B per tile, 16 channels at a time.
  std::fill(P, P + PP * PP * 16, 0.f);
  for (int g = 0; g < CG; ++g) {
    const int nc = std::min(16, C - 16 * g);
    for (int b = 0; b < NB; ++b) {
      const int np = std::min(16, HW - 16 * b);
      const __mmask16 mk = __mmask16((1u << np) - 1);
      Vec r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < nc ? _mm512_maskz_loadu_ps(mk, a.in + size_t(16 * g + i) * HW + 16 * b) : _mm512_setzero_ps();
      transpose16(r);
      for (int j = 0; j < np; ++j) {
        const int p = 16 * b + j, y = p / S + 1, x = p % S + 1;
        _mm512_storeu_ps(P + (y * PP + x) * 16, r[j]);
      }
    }
    for (int t = 0; t < T; ++t) {
      const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
      Vec tmp[6][6];
      for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = B^T d[.][k]
        Vec d[6], o[6];
        for (int r = 0; r < 6; ++r) d[r] = _mm512_loadu_ps(P + ((y0 + r) * PP + x0 + k) * 16);
        bt6(d, o);
        for (int i = 0; i < 6; ++i) tmp[i][k] = o[i];
      }
      for (int i = 0; i < 6; ++i) {  // rows: V[i][j] = sum_k tmp[i][k] B^T[j][k]
        Vec o[6];
        bt6(tmp[i], o);
        for (int j = 0; j < 6; ++j) _mm512_storeu_ps(V + (size_t(i * 6 + j) * T + t) * ldv + 16 * g, o[j]);
      }
    }
  }

  // 3-4. Blocks of PB panels: 36 GEMMs, then the output transform of each panel.
  const int NP = (a.M + 15) / 16;
  const int nblk = (NP + Sh::MaxPB - 1) / Sh::MaxPB, pb = (NP + nblk - 1) / nblk;
  const size_t us = size_t(36) * C * 16;
  for (int p0 = 0; p0 < NP; p0 += pb) {
    const int n = std::min(pb, NP - p0);
    const float* u = a.a + p0 * us;
    switch (n) {
      case 1: run_products<S, 1>(u, C, V, ldv, mo); break;
      case 2: run_products<S, 2>(u, C, V, ldv, mo); break;
      case 3: if constexpr (Sh::MaxPB >= 3) run_products<S, 3>(u, C, V, ldv, mo); break;
      case 4: if constexpr (Sh::MaxPB >= 4) run_products<S, 4>(u, C, V, ldv, mo); break;
      case 5: if constexpr (Sh::MaxPB >= 5) run_products<S, 5>(u, C, V, ldv, mo); break;
      default: if constexpr (Sh::MaxPB >= 6) run_products<S, 6>(u, C, V, ldv, mo); break;
    }
    for (int p = 0; p < n; ++p) {
      const int m0 = 16 * (p0 + p), rows = std::min(16, a.M - m0);
      const Vec bias = _mm512_maskz_loadu_ps(__mmask16((1u << rows) - 1), a.bias + m0);
      for (int t = 0; t < T; ++t) {
        const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
        Vec tmp[4][6];
        for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = A^T m[.][k]
          Vec m[6], o[4];
          for (int i = 0; i < 6; ++i) m[i] = _mm512_loadu_ps(mo + ((size_t(i * 6 + k) * T + t) * n + p) * 16);
          at6(m, o);
          for (int r = 0; r < 4; ++r) tmp[r][k] = o[r];
        }
        for (int r = 0; r < 4; ++r) {
          if (y0 + r >= S) break;
          Vec o[4];
          at6(tmp[r], o);
          for (int c = 0; c < 4 && x0 + c < S; ++c) {
            Vec y = _mm512_add_ps(o[c], bias);
            if (a.relu) y = _mm512_max_ps(y, _mm512_setzero_ps());
            _mm512_storeu_ps(O + ((y0 + r) * S + x0 + c) * 16, y);
          }
        }
      }
      float* out = a.out + size_t(m0) * HW;
      for (int b = 0; b < HW / 16; ++b) {  // whole 16-pixel runs of each channel's plane
        Vec r[16];
        for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(O + (16 * b + j) * 16);
        transpose16(r);
        for (int i = 0; i < rows; ++i) _mm512_storeu_ps(out + size_t(i) * HW + 16 * b, r[i]);
      }
      for (int i = 0; i < rows; ++i)
        for (int q = HW / 16 * 16; q < HW; ++q) out[size_t(i) * HW + q] = O[q * 16 + i];
    }
  }
}

using Fn = void (*)(const Conv3x3SmallArgs&);
constexpr Fn kBySize[kSmallMap + 1] = {nullptr,    nullptr,    nullptr,    nullptr,     nullptr,     winograd4_channels<5>, winograd4_channels<6>,
                                       winograd4_channels<7>,  winograd4_channels<8>,  winograd4_channels<9>,  winograd4_channels<10>, winograd4_channels<11>, winograd4_channels<12>};

}  // namespace

void conv3x3_winograd4_channels_avx512(const Conv3x3SmallArgs& a) { kBySize[a.H](a); }

// The channel-minor padded map, the transformed input, one block's products (up to 24 / T panels)
// and one panel's output pixels, as winograd4_channels<S> lays them out (integer arithmetic only, and called
// only through the avx512 variant's table, so this file's ISA flags do not matter here).
size_t winograd4_channels_scratch_avx512(int S, int C) {
  const int TS = (S + 3) / 4, T = TS * TS, PP = 4 * TS + 2, ldv = (C + 15) / 16 * 16;
  const int maxpb = std::max(1, 24 / T), nb = (S * S + 15) / 16;
  return size_t(PP) * PP * 16 + size_t(36) * T * ldv + size_t(36) * T * maxpb * 16 + size_t(nb) * 16 * 16;
}

}  // namespace bluefire
