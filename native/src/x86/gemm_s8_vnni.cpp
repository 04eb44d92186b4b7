// int8 GEMM, AVX-512 VNNI: blocks of 8 output channels x 16 pixels, one vpdpbusd (uint8
// activations x int8 weights, 4 products summed into each int32 lane, no intermediate saturation)
// per 4 k's and output channel. Each zmm holds 16 pixels' 4 consecutive k's, interleaved from 4
// rows of B with byte/word unpacks once per block of pixels. Weights packed with mr 8, kgroup 4, int8 (see
// kernels_s8.h).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "bluefire/kernels_s8.h"
#include "x86/gemm_s8_x86.h"

namespace bluefire {
namespace {
constexpr int kMr = 8, kPx = kS8Px;

// 16 accumulators -> requantized uint8 (kernels_s8.h): float product, clamp, round to even.
inline __m128i requant16(__m512i v, float scale, __m512 flo, __m512 fhi, __m512i zc) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(scale));
  f = _mm512_min_ps(_mm512_max_ps(f, flo), fhi);
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), zc));  // 0..255: vpmovdb keeps it
}

// B rows k..k+3 of 16 pixels -> one zmm of 16 pixels' 4 consecutive bytes (vpdpbusd's operand).
inline __m512i interleave4(__m128i x0, __m128i x1, __m128i x2, __m128i x3) {
  const __m128i a01l = _mm_unpacklo_epi8(x0, x1), a01h = _mm_unpackhi_epi8(x0, x1);
  const __m128i a23l = _mm_unpacklo_epi8(x2, x3), a23h = _mm_unpackhi_epi8(x2, x3);
  __m512i x = _mm512_castsi128_si512(_mm_unpacklo_epi16(a01l, a23l));  // pixels 0-3
  x = _mm512_inserti32x4(x, _mm_unpackhi_epi16(a01l, a23l), 1);
  x = _mm512_inserti32x4(x, _mm_unpacklo_epi16(a01h, a23h), 2);
  return _mm512_inserti32x4(x, _mm_unpackhi_epi16(a01h, a23h), 3);
}

// One block: rows [m0, m0 + rows) x the 16 pixels interleaved in bp (K / 4 zmm).
inline void block(const GemmU8Args& a, const int8_t* w, int m0, int rows, const __m512i* bp, int npx, uint8_t* out) {
  __m512i acc[kMr];
  for (int i = 0; i < kMr; ++i) acc[i] = _mm512_setzero_si512();
  const int kq = (a.K + 3) / 4;
  for (int q = 0; q < kq; ++q) {
    const __m512i x = _mm512_load_si512(bp + q);
    const int8_t* wk = w + size_t(q) * kMr * 4;
    for (int i = 0; i < kMr; ++i) {
      int32_t quad;
      std::memcpy(&quad, wk + 4 * i, 4);
      acc[i] = _mm512_dpbusd_epi32(acc[i], x, _mm512_set1_epi32(quad));
    }
  }
  const __m512i zc = _mm512_set1_epi32(a.zc);
  const __m512 flo = _mm512_set1_ps(float(a.lo - a.zc)), fhi = _mm512_set1_ps(float(a.hi - a.zc));
  for (int i = 0; i < rows; ++i) {
    const int m = m0 + i;
    const __m128i q = requant16(_mm512_add_epi32(acc[i], _mm512_set1_epi32(a.bias[m])), a.scale[m], flo, fhi, zc);
    store_c_row(q, npx, out + size_t(i) * a.ldc);
  }
}
}  // namespace

// Each block of 16 pixels is interleaved once (K / 4 zmm) and then read by every panel of 8 rows.
void gemm_u8_vnni(const GemmU8Args& a) {
  __m512i bp[kMaxKS8 / 4];
  const int kp = (a.K + 3) / 4 * 4;
  for (int n = 0; n < a.N; n += kPx) {
    const int npx = std::min(kPx, a.N - n);
    auto row = [&](int k) { return load_b_row(a, k, n, npx); };
    for (int k = 0; k < a.K; k += 4) bp[k / 4] = interleave4(row(k), row(k + 1), row(k + 2), row(k + 3));
    for (int m0 = 0; m0 < a.M; m0 += kMr)
      block(a, static_cast<const int8_t*>(a.a) + size_t(m0 / kMr) * kMr * kp, m0, std::min(kMr, a.M - m0), bp, npx,
            a.c + size_t(m0) * a.ldc + n);
  }
}

}  // namespace bluefire
