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
constexpr int L = 8;              // lanes: channels per vector
constexpr int kTileChannels = 1;  // products broadcast one input channel of a tile (vbcast)
constexpr int kMaxAcc = 12;       // product accumulators per block (of 16 ymm)
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec vbcast(const float* p) { return _mm256_broadcast_ss(p); }
inline Vec vset1(float x) { return _mm256_set1_ps(x); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
inline Vec vmul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec vmax(Vec a, Vec b) { return _mm256_max_ps(a, b); }
inline Vec vfmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec vfnmadd(Vec a, Vec b, Vec c) { return _mm256_fnmadd_ps(a, b, c); }
constexpr int block_panels(int T) { return std::max(1, kMaxAcc / T); }  // PB x T <= kMaxAcc

// r[i] lane j -> r[j] lane i (8x8 floats).
inline void transpose(Vec r[8]) {
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

// r[i] = np (1..8) pixels of channel i < nc at src + i * HW, zero past them (vmaskmovps: masked-off
// lanes never fault) and for i >= nc.
inline void load_block(const float* src, int HW, int nc, int np, Vec r[8]) {
  alignas(32) static const int kMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  if (np == L) {
    for (int i = 0; i < L; ++i) r[i] = i < nc ? vload(src + size_t(i) * HW) : vzero();
    return;
  }
  const __m256i mk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMask + L - np));
  for (int i = 0; i < L; ++i) r[i] = i < nc ? _mm256_maskload_ps(src + size_t(i) * HW, mk) : vzero();
}

#include "../simd/winograd4_channels_body.h"  // the kernel text shared with the AVX-512 and NEON files

}  // namespace

void conv3x3_winograd4_channels_avx2(const Conv3x3SmallArgs& a) { winograd4_channels_by_size(a); }

// Integer arithmetic only; called only through the avx2 variant's table.
size_t winograd4_channels_scratch_avx2(int S, int C) { return winograd4_channels_scratch_floats(S, C); }

}  // namespace bluefire
