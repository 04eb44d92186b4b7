// Winograd F(4x4, 3x3) for small maps (KernelTable::conv3x3_winograd4_channels), AVX2/FMA (compiled with
// -mavx2 -mfma on this file only): winograd4_channels_avx512.cpp's method with 8 channels per ymm.
//  1. the input (C planes of S*S) is transposed, 8 channels at a time, into a zero-bordered
//     channel-minor map P[y][x][8] (8x8 in-register transposes, no gathers);
//  2. B^T d B runs on whole ymm of 8 channels per tile: V[k][t][c];
//  3. the 36 products are GEMMs vectorised over output channels with the T tiles as broadcast
//     columns: PB panels of 8 output channels x T tiles of accumulators, at most 12 of the 16 ymm
//     (3 panels x 4 tiles on 5..8-wide maps, 1 x 9 on 9..12), so each weight vector feeds T FMAs;
//  4. A^T m A runs on ymm of 8 output channels (bias, ReLU) into a channel-minor O[pixel][8], and
//     8x8 transposes turn it into 8-pixel runs of each channel's plane (plain stores; remainder
//     pixels are scalar copies: masked stores are slow on AMD).
// 144 products per (in, out) channel pair on a 7x7 map instead of the direct kernel's 361 and
// F(2x2)'s 256. The work order and every instruction depend only on (S, C, M), not on threads.
#include <immintrin.h>

#include <algorithm>

#include "../variants.h"

namespace bluefire {
namespace {

using Vec = __m256;
constexpr int L = 8;  // lanes

// r[i] lane j -> r[j] lane i (8x8 floats).
inline void transpose8(Vec r[8]) {
  Vec t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  Vec s[8];
  for (int i = 0; i < 2; ++i) {
    s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
  }
}

// o = B^T d for one column of 6 (the F(4x4) input transform's rows; see winograd4_input_ref).
inline void bt6(const Vec d[6], Vec o[6]) {
  const Vec four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f), two = _mm256_set1_ps(2.f);
  const Vec a = _mm256_fnmadd_ps(four, d[2], d[4]);  // d4 - 4 d2
  const Vec b = _mm256_fnmadd_ps(four, d[1], d[3]);  // d3 - 4 d1
  const Vec c = _mm256_sub_ps(d[4], d[2]);
  const Vec e = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
  o[0] = _mm256_fnmadd_ps(five, d[2], _mm256_fmadd_ps(four, d[0], d[4]));
  o[1] = _mm256_add_ps(a, b);
  o[2] = _mm256_sub_ps(a, b);
  o[3] = _mm256_add_ps(c, e);
  o[4] = _mm256_sub_ps(c, e);
  o[5] = _mm256_fnmadd_ps(five, d[3], _mm256_fmadd_ps(four, d[1], d[5]));
}

// o = A^T m for one column of 6 (the output transform's rows; see winograd4_output_ref).
inline void at6(const Vec m[6], Vec o[4]) {
  const Vec s12 = _mm256_add_ps(m[1], m[2]), d12 = _mm256_sub_ps(m[1], m[2]);
  const Vec s34 = _mm256_add_ps(m[3], m[4]), d34 = _mm256_sub_ps(m[3], m[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
  o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d34, d12);
  o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), s34, s12);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d34, d12), m[5]);
}

// Products of panels [0, PB) (weights u: panel p, product k at u + (p * 36 + k) * C * 8) with the
// T transformed tiles v (product k, tile t, channel c at v[(k * T + t) * ldv + c]):
// mo[((k * T + t) * PB + p) * 8 + lane].
template <int T, int PB>
void products(const float* u, int C, const float* v, int ldv, float* mo) {
  const size_t us = size_t(36) * C * L;
  for (int k = 0; k < 36; ++k) {
    Vec acc[PB][T];
    for (int p = 0; p < PB; ++p)
      for (int t = 0; t < T; ++t) acc[p][t] = _mm256_setzero_ps();
    const float* uk = u + size_t(k) * C * L;
    const float* vk = v + size_t(k) * T * ldv;
    for (int c = 0; c < C; ++c) {
      Vec w[PB];
      for (int p = 0; p < PB; ++p) w[p] = _mm256_loadu_ps(uk + p * us + size_t(c) * L);
      for (int t = 0; t < T; ++t) {
        const Vec x = _mm256_broadcast_ss(vk + t * ldv + c);
        for (int p = 0; p < PB; ++p) acc[p][t] = _mm256_fmadd_ps(w[p], x, acc[p][t]);
      }
    }
    for (int t = 0; t < T; ++t)
      for (int p = 0; p < PB; ++p) _mm256_storeu_ps(mo + ((size_t(k) * T + t) * PB + p) * L, acc[p][t]);
  }
}

template <int S>
struct Shape {
  static constexpr int TS = (S + 3) / 4, T = TS * TS;  // tiles a side, tiles
  static constexpr int PP = 4 * TS + 2;                // padded side covering every tile's 6x6 patch
  static constexpr int HW = S * S, NB = (HW + L - 1) / L;  // pixels, 8-pixel blocks
  static constexpr int MaxPB = std::max(1, 12 / T);      // panels per block: <= 12 accumulators
};

template <int S>
void winograd4_channels(const Conv3x3SmallArgs& a) {
  using Sh = Shape<S>;
  constexpr int T = Sh::T, TS = Sh::TS, PP = Sh::PP, HW = Sh::HW, NB = Sh::NB;
  const int C = a.C, CG = (C + L - 1) / L, ldv = CG * L;
  float* P = a.scratch;                             // PP x PP x 8
  float* V = P + PP * PP * L;                       // 36 x T x ldv
  float* mo = V + size_t(36) * T * ldv;             // 36 x T x MaxPB x 8
  float* O = mo + size_t(36) * T * Sh::MaxPB * L;   // NB * 8 pixels x 8

  // 1-2. Input: channel-minor padded map, then B^T d B per tile, 8 channels at a time.
  std::fill(P, P + PP * PP * L, 0.f);
  alignas(32) static const int kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int g = 0; g < CG; ++g) {
    const int nc = std::min(L, C - L * g);
    for (int b = 0; b < NB; ++b) {
      const int np = std::min(L, HW - L * b);
      const float* src = a.in + size_t(L * g) * HW + L * b;
      Vec r[L];
      if (np == L) {
        for (int i = 0; i < L; ++i) r[i] = i < nc ? _mm256_loadu_ps(src + size_t(i) * HW) : _mm256_setzero_ps();
      } else {
        const __m256i mk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + L - np));
        for (int i = 0; i < L; ++i) r[i] = i < nc ? _mm256_maskload_ps(src + size_t(i) * HW, mk) : _mm256_setzero_ps();
      }
      transpose8(r);
      for (int j = 0; j < np; ++j) {
        const int p = L * b + j, y = p / S + 1, x = p % S + 1;
        _mm256_storeu_ps(P + (y * PP + x) * L, r[j]);
      }
    }
    for (int t = 0; t < T; ++t) {
      const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
      Vec tmp[6][6];
      for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = B^T d[.][k]
        Vec d[6], o[6];
        for (int r = 0; r < 6; ++r) d[r] = _mm256_loadu_ps(P + ((y0 + r) * PP + x0 + k) * L);
        bt6(d, o);
        for (int i = 0; i < 6; ++i) tmp[i][k] = o[i];
      }
      for (int i = 0; i < 6; ++i) {  // rows: V[i][j] = sum_k tmp[i][k] B^T[j][k]
        Vec o[6];
        bt6(tmp[i], o);
        for (int j = 0; j < 6; ++j) _mm256_storeu_ps(V + (size_t(i * 6 + j) * T + t) * ldv + L * g, o[j]);
      }
    }
  }

  // 3-4. Blocks of PB panels: 36 GEMMs, then the output transform of each panel.
  const int NP = (a.M + L - 1) / L;
  const int nblk = (NP + Sh::MaxPB - 1) / Sh::MaxPB, pb = (NP + nblk - 1) / nblk;
  const size_t us = size_t(36) * C * L;
  for (int p0 = 0; p0 < NP; p0 += pb) {
    const int n = std::min(pb, NP - p0);
    const float* u = a.a + p0 * us;
    switch (n) {
      case 1: products<T, 1>(u, C, V, ldv, mo); break;
      case 2: if constexpr (Sh::MaxPB >= 2) products<T, 2>(u, C, V, ldv, mo); break;
      default: if constexpr (Sh::MaxPB >= 3) products<T, 3>(u, C, V, ldv, mo); break;
    }
    for (int p = 0; p < n; ++p) {
      const int m0 = L * (p0 + p), rows = std::min(L, a.M - m0);
      alignas(32) float bb[L] = {};
      std::copy(a.bias + m0, a.bias + m0 + rows, bb);
      const Vec bias = _mm256_load_ps(bb);
      for (int t = 0; t < T; ++t) {
        const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
        Vec tmp[4][6];
        for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = A^T m[.][k]
          Vec m[6], o[4];
          for (int i = 0; i < 6; ++i) m[i] = _mm256_loadu_ps(mo + ((size_t(i * 6 + k) * T + t) * n + p) * L);
          at6(m, o);
          for (int r = 0; r < 4; ++r) tmp[r][k] = o[r];
        }
        for (int r = 0; r < 4; ++r) {
          if (y0 + r >= S) break;
          Vec o[4];
          at6(tmp[r], o);
          for (int c = 0; c < 4 && x0 + c < S; ++c) {
            Vec y = _mm256_add_ps(o[c], bias);
            if (a.relu) y = _mm256_max_ps(y, _mm256_setzero_ps());
            _mm256_storeu_ps(O + ((y0 + r) * S + x0 + c) * L, y);
          }
        }
      }
      float* out = a.out + size_t(m0) * HW;
      for (int b = 0; b < HW / L; ++b) {  // whole 8-pixel runs of each channel's plane
        Vec r[L];
        for (int j = 0; j < L; ++j) r[j] = _mm256_loadu_ps(O + (L * b + j) * L);
        transpose8(r);
        for (int i = 0; i < rows; ++i) _mm256_storeu_ps(out + size_t(i) * HW + L * b, r[i]);
      }
      for (int i = 0; i < rows; ++i)
        for (int q = HW / L * L; q < HW; ++q) out[size_t(i) * HW + q] = O[q * L + i];
    }
  }
}

using Fn = void (*)(const Conv3x3SmallArgs&);
constexpr Fn kBySize[kSmallMap + 1] = {nullptr,    nullptr,    nullptr,    nullptr,     nullptr,     winograd4_channels<5>, winograd4_channels<6>,
                                       winograd4_channels<7>,  winograd4_channels<8>,  winograd4_channels<9>,  winograd4_channels<10>, winograd4_channels<11>, winograd4_channels<12>};

}  // namespace

void conv3x3_winograd4_channels_avx2(const Conv3x3SmallArgs& a) { kBySize[a.H](a); }

// The scratch of winograd4_channels<S> (integer arithmetic only; called only through the avx2 variant's table).
size_t winograd4_channels_scratch_avx2(int S, int C) {
  const int TS = (S + 3) / 4, T = TS * TS, PP = 4 * TS + 2, ldv = (C + L - 1) / L * L;
  const int maxpb = std::max(1, 12 / T), nb = (S * S + L - 1) / L;
  return size_t(PP) * PP * L + size_t(36) * T * ldv + size_t(36) * T * maxpb * L + size_t(nb) * L * L;
}

}  // namespace bluefire
