// int8 GEMM, AVX-512 VNNI: blocks of 8 output channels x 16 pixels, one vpdpbusd (uint8
// activations x int8 weights, 4 products summed into each int32 lane, no intermediate saturation)
// per 4 k's and output channel. Each zmm holds 16 pixels' 4 consecutive k's, interleaved from 4
// rows of B with byte/word unpacks. Weights packed with mr 8, kgroup 4, int8 (see kernels_s8.h).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "bluefire/kernels_s8.h"

namespace bluefire {
namespace {
constexpr int kMr = 8, kPx = 16;

inline __m128i requant16(__m512i v, const Requant& r, __m512i zc, __m512i lo, __m512i hi) {
  const __m512i m = _mm512_set1_epi32(r.mult), round = _mm512_set1_epi64(int64_t(1) << (r.shift - 1));
  const __m128i s = _mm_cvtsi32_si128(r.shift);
  const __m512i even = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(v, m), round), s);
  const __m512i odd = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v, 32), m), round), s);
  v = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, zc), lo), hi);
  return _mm512_cvtepi32_epi8(v);
}

inline void block(const GemmU8Args& a, const int8_t* w, int m0, int rows, const uint8_t* const* src, int npx, uint8_t* out) {
  __m512i acc[kMr];
  for (int i = 0; i < kMr; ++i) acc[i] = _mm512_setzero_si512();
  for (int k = 0; k < a.K; k += 4) {
    // rows past K read row k again; their weights are 0
    const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k]));
    const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k + 1 < a.K ? k + 1 : k]));
    const __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k + 2 < a.K ? k + 2 : k]));
    const __m128i x3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k + 3 < a.K ? k + 3 : k]));
    const __m128i a01l = _mm_unpacklo_epi8(x0, x1), a01h = _mm_unpackhi_epi8(x0, x1);
    const __m128i a23l = _mm_unpacklo_epi8(x2, x3), a23h = _mm_unpackhi_epi8(x2, x3);
    __m512i x = _mm512_castsi128_si512(_mm_unpacklo_epi16(a01l, a23l));  // pixels 0-3: k..k+3
    x = _mm512_inserti32x4(x, _mm_unpackhi_epi16(a01l, a23l), 1);
    x = _mm512_inserti32x4(x, _mm_unpacklo_epi16(a01h, a23h), 2);
    x = _mm512_inserti32x4(x, _mm_unpackhi_epi16(a01h, a23h), 3);
    const int8_t* wk = w + size_t(k / 4) * kMr * 4;
    for (int i = 0; i < kMr; ++i) {
      int32_t quad;
      std::memcpy(&quad, wk + 4 * i, 4);
      acc[i] = _mm512_dpbusd_epi32(acc[i], x, _mm512_set1_epi32(quad));
    }
  }
  const __m512i zc = _mm512_set1_epi32(a.zc), vlo = _mm512_set1_epi32(a.lo), vhi = _mm512_set1_epi32(a.hi);
  for (int i = 0; i < rows; ++i) {
    const int m = m0 + i;
    const __m128i q = requant16(_mm512_add_epi32(acc[i], _mm512_set1_epi32(a.bias[m])), a.rq[m], zc, vlo, vhi);
    if (npx == kPx) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + size_t(i) * a.ldc), q);
    } else {
      alignas(16) uint8_t tmp[kPx];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), q);
      std::memcpy(out + size_t(i) * a.ldc, tmp, npx);
    }
  }
}
}  // namespace

void gemm_u8_vnni(const GemmU8Args& a) {
  const uint8_t* src[kMaxKS8];
  alignas(16) uint8_t tail[kMaxKS8][kPx];
  const int kp = (a.K + 3) / 4 * 4;
  for (int n = 0; n < a.N; n += kPx) {
    const int npx = std::min(kPx, a.N - n);
    for (int k = 0; k < a.K; ++k) {
      src[k] = a.b + a.brow[k] + n;
      if (npx < kPx) {  // the last 1..15 pixels: through a zero-padded copy, one code path
        std::memset(tail[k], 0, kPx);
        std::memcpy(tail[k], src[k], npx);
        src[k] = tail[k];
      }
    }
    for (int m0 = 0; m0 < a.M; m0 += kMr)
      block(a, static_cast<const int8_t*>(a.a) + size_t(m0 / kMr) * kMr * kp, m0, std::min(kMr, a.M - m0), src, npx,
            a.c + size_t(m0) * a.ldc + n);
  }
}

}  // namespace bluefire
