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
constexpr int L = 16;             // lanes: channels per vector
constexpr int kTileChannels = 1;  // products broadcast one input channel of a tile (vbcast)
constexpr int kMaxAcc = 24;       // product accumulators per block (of 32 zmm)
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec vbcast(const float* p) { return _mm512_set1_ps(*p); }  // an embedded-broadcast FMA operand
inline Vec vset1(float x) { return _mm512_set1_ps(x); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
inline Vec vmul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec vmax(Vec a, Vec b) { return _mm512_max_ps(a, b); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return _mm512_fnmadd_ps(a, b, c); }
constexpr int block_panels(int T) { return std::max(1, kMaxAcc / T); }  // PB x T <= kMaxAcc

// r[i] lane j -> r[j] lane i (16x16 floats).
inline void transpose(Vec r[16]) {
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

// r[i] = np (1..16) pixels of channel i < nc at src + i * HW, zero past them and for i >= nc.
inline void load_block(const float* src, int HW, int nc, int np, Vec r[16]) {
  const __mmask16 mk = __mmask16((1u << np) - 1);
  for (int i = 0; i < L; ++i) r[i] = i < nc ? _mm512_maskz_loadu_ps(mk, src + size_t(i) * HW) : vzero();
}

#include "../simd/winograd4_channels_body.h"  // the kernel text shared with the AVX2 and NEON files

}  // namespace

void conv3x3_winograd4_channels_avx512(const Conv3x3SmallArgs& a) { winograd4_channels_by_size(a); }

// Integer arithmetic only; called only through the avx512 variant's table, so this file's ISA
// flags do not matter here.
size_t winograd4_channels_scratch_avx512(int S, int C) { return winograd4_channels_scratch_floats(S, C); }

}  // namespace bluefire
